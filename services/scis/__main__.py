from scis.cli import main

raise SystemExit(main())
