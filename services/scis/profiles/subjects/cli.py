"""`scis profiles rebuild`: recompute every subject's history and counters from the evidence store."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import psycopg

from scis.core.connections import NoDatabase, resolve_database_url
from scis.core.db import redact
from scis.core.settings import SettingsError, load_settings
from scis.profiles.subjects.enrichment import DEFAULT_BATCH, rebuild


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    rebuild_parser = commands.add_parser(
        "rebuild", help="recompute subjects, their handle/nickname history and counters from the stored events"
    )
    rebuild_parser.add_argument("--database-url", help="PostgreSQL URL (default: SCIS_DATABASE_URL)")
    rebuild_parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="events read per batch")


async def _rebuild(url: str, batch_size: int) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await rebuild(conn, batch_size=batch_size)


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        print(f"--batch-size {args.batch_size}: give a positive number of events", file=sys.stderr)
        return 2
    try:
        url = resolve_database_url(load_settings(), args.database_url)
    except (NoDatabase, SettingsError) as error:
        print(error, file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        events = asyncio.run(_rebuild(url, args.batch_size))
    except psycopg.OperationalError as error:
        print(f"cannot reach PostgreSQL at {redact(url)}: {error}", file=sys.stderr)
        return 1
    print(f"subjects rebuilt from {events} stored events in {time.monotonic() - started:.1f} s")
    return 0
