"""`scis export --case ID`: write a case's evidence archive and print its manifest SHA-256."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import psycopg

from scis.core.cases import CaseNotFound
from scis.core.connections import NoDatabase, resolve_database_url
from scis.core.db import redact
from scis.core.settings import SettingsError, load_settings
from scis.evidence.export import ExportResult, export_case
from scis.evidence.media import MediaStore, ObjectMissing, media_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--case", type=int, required=True, help="case id")
    parser.add_argument("--out", type=Path, help="archive to write (default: scis-case-ID.tar here)")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SCIS_DATABASE_URL)")


async def _export(url: str, case_id: int, out: Path, media: MediaStore) -> ExportResult:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await export_case(conn, case_id, out, media)


def run(args: argparse.Namespace) -> int:
    out = (args.out or Path(f"scis-case-{args.case}.tar")).resolve()
    if not out.parent.is_dir():
        print(f"--out {out}: folder {out.parent} does not exist; create it first", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
        url = resolve_database_url(settings, args.database_url)
        media = media_store(settings)
    except (NoDatabase, SettingsError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    try:
        result = asyncio.run(_export(url, args.case, out, media))
    except CaseNotFound as error:
        print(f"--case {args.case}: {error}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as error:
        print(f"cannot reach PostgreSQL at {redact(url)}: {error}", file=sys.stderr)
        return 2
    except (ObjectMissing, OSError) as error:
        print(f"cannot read the case's video from {media.describe()}: {error}", file=sys.stderr)
        return 2
    print(f"wrote {result.path}: {result.sessions} session(s), {result.records} record(s)")
    print(f"manifest SHA-256 {result.manifest_sha256}")
    return 0
