"""`scis verify SESSION`: recompute a live session's evidence chain; exit 0 intact, 1 tampered."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict

import psycopg

from scis.core.connections import NoDatabase, resolve_database_url
from scis.core.db import redact
from scis.core.settings import SettingsError, load_settings
from scis.evidence.verify import ChainVerdict, verify_session

EXIT_INTACT = 0
EXIT_TAMPERED = 1
EXIT_ERROR = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", help="live session id (UUID)")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SCIS_DATABASE_URL)")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")


async def _verify(url: str, session: str) -> ChainVerdict:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return await verify_session(conn, session)


def run(args: argparse.Namespace) -> int:
    try:
        url = resolve_database_url(load_settings(), args.database_url)
    except (NoDatabase, SettingsError) as error:
        print(error, file=sys.stderr)
        return EXIT_ERROR
    try:
        verdict = asyncio.run(_verify(url, args.session))
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
