"""`make bench`: run every bench/*_bench.py, print each result with its ratio, write bench/results.json."""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).parent


def main(names: list[str]) -> int:
    modules = sorted(p.stem for p in HERE.glob("*_bench.py"))
    if names:
        modules = [m for m in modules if any(n in m for n in names)]
    results: list[dict[str, object]] = []
    failed = []
    for name in modules:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        try:
            results.extend(importlib.import_module(f"bench.{name}").run())
        except Exception:  # noqa: BLE001 - one broken bench must not hide the others' numbers
            traceback.print_exc()
            failed.append(name)
        print(f"   ({time.monotonic() - started:.1f}s)", flush=True)
    print(f"\n{'name':<44} {'value':>12} {'unit':<10} {'baseline':>12} {'ratio':>8}  goal")
    for r in results:
        print(f"{r['name']:<44} {r['value']:>12} {r['unit']:<10} {r['baseline']!s:>12} {r['ratio']!s:>8}  {r['goal']}")
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    if failed:
        print(f"benches that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
