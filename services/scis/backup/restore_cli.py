"""`scis restore ARCHIVE`: into an empty database and a fresh SCIS_HOME; then every chain is verified."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scis.backup.models import RestoreResult
from scis.backup.service import BackupError, check_archive, restore_backup
from scis.core.settings import Settings, SettingsError, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("archive", type=Path, help="a file written by `scis backup`")
    parser.add_argument(
        "--database-url",
        help="empty PostgreSQL database to restore into (default: SCIS_DATABASE_URL, else a new embedded "
        "database in SCIS_HOME)",
    )
    parser.add_argument("--check", action="store_true", help="only check the archive's SHA-256s; restore nothing")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
        if args.check:
            manifest = check_archive(args.archive)
            print(f"{args.archive}: intact; {len(manifest.sessions)} sessions, {len(manifest.files)} files, "
                  f"taken {manifest.created_at.isoformat()} by SCIS {manifest.scis_version}")  # fmt: skip
            return 0
        url = args.database_url or settings.database_url
        result = restore_backup(args.archive, url, home_of(settings)) if url else restore_embedded(args, settings)
    except (BackupError, SettingsError) as error:
        print(f"scis restore: {error}", file=sys.stderr)
        return 1
    for verdict in result.sessions:
        print(verdict.detail)
    broken = [v for v in result.sessions if not v.intact]
    print(
        f"restored into {result.database_url} and {home_of(settings)}: {len(result.sessions)} sessions, "
        f"{result.files_restored} evidence files; "
        + (f"{len(broken)} chains do NOT verify" if broken else "every chain verifies")
    )
    return 1 if broken else 0


def home_of(settings: Settings) -> Path:
    return settings.home.expanduser().resolve()


def restore_embedded(args: argparse.Namespace, settings: Settings) -> RestoreResult:
    """A new embedded PostgreSQL in SCIS_HOME, started for the restore and stopped after."""
    from scis.embedded.ports import PortTaken, require_free
    from scis.embedded.postgres import EmbeddedPostgres
    from scis.embedded.stack import read_state

    home = home_of(settings)
    if read_state(home):
        raise BackupError(f"SCIS is running from {home}; restore into a fresh SCIS_HOME")
    if (home / "postgres").exists():
        raise BackupError(f"{home}/postgres already exists; restore into a fresh SCIS_HOME or pass --database-url")
    try:
        require_free(settings.postgres_port, "SCIS_POSTGRES_PORT")
    except PortTaken as error:
        raise BackupError(str(error)) from None
    home.mkdir(parents=True, exist_ok=True)
    server = EmbeddedPostgres(home / "postgres", settings.postgres_port, home / "logs" / "postgres.log")
    server.start()
    try:
        return restore_backup(args.archive, server.url, home)
    finally:
        server.stop()
