"""Running analysts' queries read-only, and describing the tables they may read."""

from __future__ import annotations

import json
import math
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from typing import Any

from psycopg import AsyncConnection, AsyncCursor, adapt, errors, sql
from psycopg.abc import Buffer, Loader
from psycopg.rows import dict_row, tuple_row
from psycopg.types.datetime import DateLoader, TimestampLoader, TimestamptzLoader
from psycopg_pool import AsyncConnectionPool

from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import User
from scis.core.db import EXPLORER_ROLE
from scis.database.models import ColumnInfo, QueryResult, TableInfo
from scis.database.sanitiser import CheckedQuery, check_read_only

# An answer the browser can still render; the row cap alone lets one huge value through. Both caps
# apply while fetching from a server-side cursor, so a huge result is never held in memory whole.
MAX_RESULT_BYTES = 8 * 1024 * 1024
# Rows fetched per round trip are sized so one batch stays around this many bytes.
BATCH_BYTES = 1024 * 1024
FIRST_BATCH_ROWS = 10
# Deeper JSON than this is not sent: the browser and the JSON encoders have their own limits.
MAX_JSON_DEPTH = 100


class QueryFailed(Exception):
    """PostgreSQL refused or aborted the query; the message is PostgreSQL's, made readable."""


class UnanswerableValue(Exception):
    """A value the answer cannot carry (too deeply nested, text JSON cannot hold); says which and why."""


class ExplorerDisabled(Exception):
    """No explorer role is configured (SCIS_EXPLORER_DATABASE_URL)."""


NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def to_json_value(value: Any, depth: int = 0) -> Any:
    """A value as JSON without losing it: what JSON has no type for is given as PostgreSQL's text for it."""
    if depth > MAX_JSON_DEPTH:
        raise UnanswerableValue(f"it is nested deeper than {MAX_JSON_DEPTH} levels; select a part of it (-> or #>)")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError as error:
            raise UnanswerableValue(
                f"its text holds {value[error.start]!r}, half of a UTF-16 surrogate pair that UTF-8 cannot carry;"
                " cast it to text and replace it, or select other columns"
            ) from None
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else NON_FINITE[str(value)]
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, datetime | date | time_of_day):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value  # an ISO 8601 duration in the answer
    if isinstance(value, list | tuple):
        return [to_json_value(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {to_json_value(str(key), depth + 1): to_json_value(item, depth + 1) for key, item in value.items()}
    return str(value)  # Decimal, UUID, addresses, ranges, …: their text form


def _keep_infinity(loader: type[Loader]) -> type[Loader]:
    """A date/time loader that gives 'infinity' and '-infinity' as text, which Python's types cannot hold."""

    class KeepInfinity(loader):  # type: ignore[valid-type, misc]
        def load(self, data: Buffer) -> Any:
            if bytes(data) in (b"infinity", b"-infinity"):
                return bytes(data).decode()
            return super().load(data)

    return KeepInfinity


_EXPLORER_LOADERS: dict[str, type[Any]] = {
    "date": _keep_infinity(DateLoader),
    "timestamp": _keep_infinity(TimestampLoader),
    "timestamptz": _keep_infinity(TimestamptzLoader),
}


class _JsonLoader(adapt.Loader):
    """json/jsonb as Python values; JSON too deep for Python's parser is an UnanswerableValue, not a crash."""

    def load(self, data: Buffer) -> Any:
        try:
            return json.loads(bytes(data))
        except RecursionError:
            raise UnanswerableValue("it is nested too deeply to decode; select a part of it (-> or #>)") from None


_EXPLORER_LOADERS["json"] = _JsonLoader
_EXPLORER_LOADERS["jsonb"] = _JsonLoader


@dataclass
class Fetched:
    rows: list[list[Any]] = field(default_factory=list)
    bytes: int = 0
    truncated: bool = False


async def fetch_capped(cur: AsyncCursor[Any], columns: list[str], *, limit: int, budget: int) -> Fetched:
    """Rows from an executed cursor until the row cap or the byte budget is reached, never more.

    Batches are sized from the rows seen so far, so a result of huge rows is fetched a few at a time.
    """
    fetched = Fetched()
    batch = FIRST_BATCH_ROWS
    while True:
        asked = batch if len(fetched.rows) < limit else 1
        raw_rows = await cur.fetchmany(asked)
        for raw in raw_rows:
            if len(fetched.rows) >= limit:
                fetched.truncated = True
                return fetched
            row = [_answerable(value, columns[index], len(fetched.rows) + 1) for index, value in enumerate(raw)]
            size = len(json.dumps(row, default=str, ensure_ascii=False).encode())
            if fetched.bytes + size > budget:
                fetched.truncated = True
                return fetched
            fetched.rows.append(row)
            fetched.bytes += size
        if len(raw_rows) < asked:  # the cursor is exhausted: no need to ask again
            return fetched
        average = max(1, fetched.bytes // max(1, len(fetched.rows)))
        batch = max(1, min(1000, BATCH_BYTES // average, limit - len(fetched.rows) + 1))


def _answerable(value: Any, column: str, row: int) -> Any:
    try:
        return to_json_value(value)
    except UnanswerableValue as error:
        raise UnanswerableValue(f"the value of column {column!r} in row {row} cannot be shown: {error}") from None


async def _grant(app_conn: AsyncConnection[Any], backend_pid: int, user: User) -> str:
    """Let the explorer views show the connection `backend_pid` what `user` may see; returns the token
    its query transaction must carry for the grant to apply."""
    token = secrets.token_hex(16)
    await app_conn.execute(
        """INSERT INTO explorer_grants (backend_pid, token, username, role) VALUES (%s, %s, %s, %s)
           ON CONFLICT (backend_pid) DO UPDATE SET token = excluded.token, username = excluded.username,
               role = excluded.role, granted_at = now()""",
        (backend_pid, token, user.username, user.role.value),
    )
    return token


async def run_query(
    app_conn: AsyncConnection[Any],
    explorer_pool: AsyncConnectionPool[Any] | None,
    *,
    statement: str,
    limit: int,
    timeout_ms: int,
    context: AuditContext,
    check: bool = True,
) -> QueryResult:
    """Run an analyst's query on the explorer's own connection, as what `context.actor` may see.

    `check=False` skips the parser; only tests use it, to prove the other layers hold alone.
    """
    if explorer_pool is None:
        raise ExplorerDisabled("the SQL explorer is not configured: set SCIS_EXPLORER_DATABASE_URL")
    if check:
        query = check_read_only(statement, max_sleep_seconds=timeout_ms / 1000)
    else:
        query = CheckedQuery(sql=statement, explain=statement.lstrip().lower().startswith("explain"))
    started = time.perf_counter()
    # The pool resets the connection (DISCARD ALL) when it is given back: no lock, setting or
    # prepared statement outlives the request.
    async with explorer_pool.connection() as explorer:
        pid = explorer.info.backend_pid
        token = await _grant(app_conn, pid, context.actor)
        try:
            columns, fetched = await _execute(explorer, query, limit=limit, timeout_ms=timeout_ms, token=token)
        finally:
            await app_conn.execute("DELETE FROM explorer_grants WHERE backend_pid = %s", (pid,))
    elapsed = (time.perf_counter() - started) * 1000
    async with app_conn.transaction():
        await audit.record(
            app_conn,
            context,
            action="database.query",
            target="sql",
            details={"sql": query.sql[:4000], "rows": len(fetched.rows)},
        )
    return QueryResult(
        columns=columns,
        rows=fetched.rows,
        row_count=len(fetched.rows),
        truncated=fetched.truncated,
        elapsed_ms=round(elapsed, 2),
    )


async def _execute(
    explorer: AsyncConnection[Any], query: CheckedQuery, *, limit: int, timeout_ms: int, token: str
) -> tuple[list[str], Fetched]:
    try:
        async with explorer.transaction():
            # SCIS's own text, one round trip; the analyst's SQL is never part of it.
            await explorer.execute(
                sql.SQL(
                    "SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {}; SET LOCAL search_path = explorer;"
                    " SET LOCAL scis.explorer_token = {}"
                ).format(sql.Literal(timeout_ms), sql.Literal(token))
            )
            # A server-side cursor: PostgreSQL takes exactly one SELECT/VALUES after DECLARE … FOR, sent
            # with the extended protocol, which refuses a second statement; EXPLAIN cannot be declared.
            cur: AsyncCursor[Any] = (
                explorer.cursor(row_factory=tuple_row)
                if query.explain
                else explorer.cursor("explorer_query", row_factory=tuple_row)
            )
            for type_name, loader in _EXPLORER_LOADERS.items():
                cur.adapters.register_loader(type_name, loader)
            # bytes: finished SQL, no placeholders; binary forces the extended protocol for EXPLAIN too.
            await cur.execute(query.sql.encode(), binary=True if query.explain else None)
            columns = [column.name for column in cur.description or []]
            # The cursor closes with the transaction.
            fetched = (
                await fetch_capped(cur, columns, limit=limit, budget=MAX_RESULT_BYTES) if cur.description else Fetched()
            )
    except errors.QueryCanceled:
        raise QueryFailed(f"the query ran longer than {timeout_ms} ms and was stopped; narrow it down") from None
    except errors.InsufficientPrivilege as error:
        raise QueryFailed(
            f"not readable from the explorer: {error.diag.message_primary}; the tables are the views in"
            " schema explorer (GET /api/database/tables)"
        ) from None
    except errors.Error as error:
        raise QueryFailed(error.diag.message_primary or str(error)) from None
    return columns, fetched


async def describe_tables(conn: AsyncConnection) -> list[TableInfo]:
    """The explorer's views and their columns; nullability and row estimates come from the table behind each."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT c.relname AS table_name, a.attname AS column_name,
                  format_type(a.atttypid, a.atttypmod) AS type,
                  NOT coalesce(base_column.attnotnull, false) AS nullable,
                  greatest(coalesce(base.reltuples, 0), 0)::bigint AS estimated_rows
           FROM pg_class c
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           LEFT JOIN pg_class base ON base.relname = c.relname AND base.relnamespace = 'public'::regnamespace
           LEFT JOIN pg_attribute base_column ON base_column.attrelid = base.oid AND base_column.attname = a.attname
           WHERE c.relnamespace = 'explorer'::regnamespace AND c.relkind IN ('v', 'r', 'm')
             AND has_table_privilege(%s, c.oid, 'SELECT')
           ORDER BY c.relname, a.attnum""",
        (EXPLORER_ROLE,),
    )
    tables: dict[str, TableInfo] = {}
    for row in await cur.fetchall():
        table = tables.setdefault(
            row["table_name"], TableInfo(name=row["table_name"], columns=[], estimated_rows=row["estimated_rows"])
        )
        table.columns.append(ColumnInfo(name=row["column_name"], type=row["type"], nullable=row["nullable"]))
    return list(tables.values())
