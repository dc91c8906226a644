"""PostgreSQL access: one async pool per process and versioned plain-SQL migrations."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "scis.core.migrations"
# Any fixed number works; it only has to be the same in every SCIS process.
MIGRATION_LOCK_ID = 7_362_451
APP_ROLE = "scis_app"
EXPLORER_ROLE = "scis_explorer"
MANAGED_ROLES = (APP_ROLE, EXPLORER_ROLE)


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached; the message says where and why."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """Migrations shipped with SCIS, ordered by version (file names `NNNN_name.sql`)."""
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


@functools.cache
def latest_migration() -> int:
    return load_migrations()[-1].version


async def schema_status(conn: AsyncConnection[Any]) -> str:
    """'ok' when the schema is at least at the newest migration this code ships, else why not.

    A newer schema is fine: during an upgrade the migration Job runs before the new Pods, and the
    old ones keep serving (migrations only add)."""
    needed = latest_migration()
    try:
        async with conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute("SELECT max(version) FROM schema_migrations")
            row = await cur.fetchone()
    except psycopg.errors.UndefinedTable:
        return f"not migrated: waiting for `scis db migrate` (the chart's migration Job) to reach {needed:04d}"
    current = row[0] if row and row[0] is not None else 0
    if current < needed:
        return f"schema at {current:04d}, this version needs {needed:04d}: waiting for the migration Job"
    return "ok"


def migrate(database_url: str, *, up_to: int | None = None) -> list[str]:
    """Apply pending migrations under an advisory lock; returns the names applied (empty when current).

    ``up_to`` stops after that version (tests migrate a populated database of an older schema).
    """
    applied: list[str] = []
    try:
        conn = psycopg.connect(database_url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as error:
        raise DatabaseUnavailable(f"cannot reach PostgreSQL at {redact(database_url)}: {first_line(error)}") from None
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        try:
            if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
                conn.execute(
                    """CREATE TABLE schema_migrations (
                           version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                           applied_at timestamptz NOT NULL DEFAULT now())"""
                )
            rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
            done = {version: checksum for version, checksum in rows}
            for migration in load_migrations():
                if up_to is not None and migration.version > up_to:
                    break
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise RuntimeError(
                            f"migration {migration.version:04d}_{migration.name} was changed after it was applied"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)  # type: ignore[arg-type]
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied.append(f"{migration.version:04d}_{migration.name}")
                log.info("applied migration %04d_%s", migration.version, migration.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    return applied


def open_pool(
    database_url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    name: str = "scis",
    reset: Callable[[AsyncConnection[Any]], Awaitable[None]] | None = None,
    connection_options: dict[str, Any] | None = None,
) -> AsyncConnectionPool:
    """An unopened async pool of autocommit connections returning dict rows; writes use `conn.transaction()`.

    `reset` runs on every connection given back to the pool, before anyone else may use it.
    """
    return AsyncConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row, "autocommit": True, **(connection_options or {})},
        # A connection PostgreSQL closed (restart, failover) is replaced before use instead of failing a request.
        check=AsyncConnectionPool.check_connection,
        open=False,
        name=name,
        reset=reset,
    )


def set_login_passwords(owner_url: str, role_urls: Iterable[str]) -> list[str]:
    """Give each SCIS role named in a URL the password that URL carries; returns the roles changed.

    Run as the owner after migrating (the migration creates the roles). URLs without a password, or
    naming a role SCIS does not manage, are left alone.
    """
    changed = []
    with psycopg.connect(owner_url, autocommit=True, connect_timeout=10) as conn:
        for url in role_urls:
            info = conninfo_to_dict(url)
            user, password = info.get("user"), info.get("password")
            if user not in MANAGED_ROLES or not password:
                continue
            conn.execute(
                sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(password))
            )
            changed.append(str(user))
    return changed


def redact(url: str) -> str:
    """A database URL without its password, fit for logs and error messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
