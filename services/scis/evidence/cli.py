"""`scis verify SESSION|ARCHIVE` / `scis verify --audit`: recompute a session's evidence chain, check an
exported archive offline, or recompute the audit log's chain; exit 0 intact, 1 tampered, 2 error."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path

import psycopg

from scis.core.connections import NoDatabase, resolve_database_url
from scis.core.db import redact
from scis.core.settings import SettingsError, load_settings
from scis.evidence import archive
from scis.evidence.media import MediaStore, media_store
from scis.evidence.verify import ChainVerdict, verify_session

EXIT_INTACT = 0
EXIT_TAMPERED = 1
EXIT_ERROR = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", nargs="?", help="live session id (UUID), or an evidence archive from `scis export`")
    parser.add_argument("--manifest-sha256", help="archive only: the manifest hash you were given")
    parser.add_argument("--audit", action="store_true", help="verify the audit log's hash chain instead")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SCIS_DATABASE_URL)")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument(
        "--skip-video", action="store_true", help="check the chain only, not the video segments in SCIS_VIDEO_STORE"
    )


async def _verify(url: str, session: str, media: MediaStore | None) -> ChainVerdict:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return await verify_session(conn, session, media=media)


def run(args: argparse.Namespace) -> int:
    if args.session and Path(args.session).is_file():  # an archive: checked offline, no database needed
        return archive.run(argparse.Namespace(archive=args.session, manifest_sha256=args.manifest_sha256))
    try:
        settings = load_settings()
        url = resolve_database_url(settings, args.database_url)
        media = None if args.skip_video or args.audit else media_store(settings)
    except (NoDatabase, SettingsError, ValueError) as error:
        print(error, file=sys.stderr)
        return EXIT_ERROR
    if args.audit:
        from scis.core.audit.cli import run_audit_verify

        return run_audit_verify(url, as_json=args.json)
    if not args.session:
        print("name a live session id (UUID), or pass --audit to verify the audit log", file=sys.stderr)
        return EXIT_ERROR
    try:
        verdict = asyncio.run(_verify(url, args.session, media))
    except ValueError:
        print(f"invalid session id {args.session!r}: expected a UUID", file=sys.stderr)
        return EXIT_ERROR
    except LookupError as error:
        print(str(error).strip("'\""), file=sys.stderr)
        return EXIT_ERROR
    except psycopg.OperationalError as error:
        print(f"cannot reach PostgreSQL at {redact(url)}: {error}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(asdict(verdict), default=str))
    else:
        print(verdict.describe())
    return EXIT_INTACT if verdict.intact else EXIT_TAMPERED


def main() -> None:
    parser = argparse.ArgumentParser(prog="scis verify", description=__doc__)
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
