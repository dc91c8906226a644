"""A database of its own for a test that must damage or empty it, on the session's PostgreSQL server."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg

from scis.core.db import migrate


@contextlib.contextmanager
def scratch_database(postgres_url: str, *, migrated: bool = True) -> Iterator[str]:
    """The URL of a new database (migrated unless asked not to), dropped afterwards."""
    name = f"scis_scratch_{uuid.uuid4().hex[:8]}"
    server = postgres_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        if migrated:
            migrate(f"{server}/{name}")
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
