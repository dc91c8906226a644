"""`scis backup`: the database and SCIS_HOME's evidence files in one archive, while captures run."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from scis.backup.service import BackupError, create_backup
from scis.core.connections import NoDatabase, resolve_database_url
from scis.core.settings import SettingsError, load_settings
from scis.core.status import SessionStatus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=Path, help="archive to write (default: SCIS_HOME/backups/scis-TIME.tar)")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SCIS_DATABASE_URL, else the local stack's)")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
        url = resolve_database_url(settings, args.database_url)
    except (NoDatabase, SettingsError) as error:
        print(f"scis backup: {error}", file=sys.stderr)
        return 1
    home = settings.home.expanduser().resolve()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = args.output or home / "backups" / f"scis-{stamp}.tar"
    try:
        manifest = create_backup(url, home, output)
    except BackupError as error:
        print(f"scis backup: {error}", file=sys.stderr)
        return 1
    live = sum(1 for s in manifest.sessions if s.status in SessionStatus.active_values())
    print(
        f"backup written to {output}: {len(manifest.sessions)} sessions ({live} not ended), "
        f"{sum(s.events_count for s in manifest.sessions)} records, {len(manifest.files)} evidence files, "
        f"database snapshot {manifest.database.bytes} bytes (sha256 {manifest.database.sha256[:16]}…)"
    )
    return 0
