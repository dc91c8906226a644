"""Running analysts' queries read-only, and describing the tables they may read."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, AsyncCursor, adapt, errors, sql
from psycopg.abc import Buffer, Loader
from psycopg.rows import dict_row, tuple_row
from psycopg.types.datetime import DateLoader, TimestampLoader, TimestamptzLoader
from psycopg_pool import AsyncConnectionPool

from scis.core import bus
from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import User
from scis.core.db import EXPLORER_ROLE
from scis.core.settings import get_settings
from scis.database.models import ColumnInfo, QueryResult, TableInfo
from scis.database.sanitiser import CheckedQuery, UnsafeQuery, check_read_only

log = logging.getLogger(__name__)

# An answer the browser can still render; the row cap alone lets one huge value through. Both caps
# apply while fetching from a server-side cursor, so a huge result is never held in memory whole.
MAX_RESULT_BYTES = 8 * 1024 * 1024
# Rows fetched per round trip are sized so one batch stays around this many bytes.
BATCH_BYTES = 1024 * 1024
FIRST_BATCH_ROWS = 10
CSV_BATCH_ROWS = 500
# Deeper JSON than this is not sent: the browser and the JSON encoders have their own limits.
MAX_JSON_DEPTH = 100


class QueryFailed(Exception):
    """PostgreSQL refused or aborted the query; the message is PostgreSQL's, made readable.

    `position` is (line, column) in the statement when PostgreSQL named one; `syntax` marks an error
    of the SQL's form (answered like the parser's refusals: a 422 on `sql` with the position).
    """

    def __init__(self, message: str, *, position: tuple[int, int] | None = None, syntax: bool = False) -> None:
        if position is not None:
            message = f"{message} (at line {position[0]}, column {position[1]})"
        super().__init__(message)
        self.position = position
        self.syntax = syntax


class QueryCancelled(Exception):
    """The analyst cancelled the query."""


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


async def _grant(app_conn: AsyncConnection[Any], backend_pid: int, user: User, query_id: UUID | None) -> str:
    """Let the explorer views show the connection `backend_pid` what `user` may see; returns the token
    its query transaction must carry for the grant to apply."""
    token = secrets.token_hex(16)
    await app_conn.execute(
        """INSERT INTO explorer_grants (backend_pid, token, username, role, query_id) VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (backend_pid) DO UPDATE SET token = excluded.token, username = excluded.username,
               role = excluded.role, query_id = excluded.query_id, granted_at = now()""",
        (backend_pid, token, user.username, user.role.value, query_id),
    )
    return token


@dataclass
class RunningQuery:
    """An explorer query running in this process, cancellable by its own analyst."""

    username: str
    connection: AsyncConnection[Any]
    cancelled: bool = False


# query_id -> the query running in this process (each replica knows its own; see cancel_query).
RUNNING: dict[UUID, RunningQuery] = {}
CANCEL_CHANNEL = "scis:explorer:cancel"


class QueryNotRunning(LookupError):
    """No query of the caller's with that id is running."""


def check_statement(statement: str, *, timeout_ms: int, check: bool = True) -> CheckedQuery:
    """The statement to run; `check=False` skips the parser (tests prove the other layers hold alone)."""
    if check:
        return check_read_only(statement, max_sleep_seconds=timeout_ms / 1000)
    return CheckedQuery(sql=statement, explain=statement.lstrip().lower().startswith("explain"))


@asynccontextmanager
async def explorer_cursor(
    app_conn: AsyncConnection[Any],
    explorer_pool: AsyncConnectionPool[Any] | None,
    query: CheckedQuery,
    *,
    user: User,
    timeout_ms: int,
    query_id: UUID | None = None,
) -> AsyncIterator[tuple[AsyncCursor[Any], list[str]]]:
    """An executed cursor over the analyst's query on the explorer's own connection, as `user` may see.

    Errors while executing or fetching come out as QueryFailed; the grant and the cancel handle last
    exactly as long as the block.
    """
    if explorer_pool is None:
        raise ExplorerDisabled("the SQL explorer is not configured: set SCIS_EXPLORER_DATABASE_URL")
    if query_id is not None and query_id in RUNNING:
        raise QueryFailed(f"query_id {query_id} is already running; send a new id per query")
    # The pool resets the connection (DISCARD ALL) when it is given back: no lock, setting or
    # prepared statement outlives the request.
    async with explorer_pool.connection() as explorer:
        pid = explorer.info.backend_pid
        running = RunningQuery(username=user.username, connection=explorer)
        try:
            token = await _grant(app_conn, pid, user, query_id)
        except errors.UniqueViolation:
            raise QueryFailed(f"query_id {query_id} is already running; send a new id per query") from None
        if query_id is not None:
            RUNNING[query_id] = running
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
                # The cursor closes with the transaction.
                yield cur, [column.name for column in cur.description or []]
        except errors.QueryCanceled:
            if running.cancelled:
                raise QueryCancelled("the query was cancelled") from None
            raise QueryFailed(f"the query ran longer than {timeout_ms} ms and was stopped; narrow it down") from None
        except errors.InsufficientPrivilege as error:
            raise QueryFailed(
                f"not readable from the explorer: {error.diag.message_primary}; the tables are the views in"
                " schema explorer (GET /api/database/tables)"
            ) from None
        except errors.Error as error:
            raise QueryFailed(
                error.diag.message_primary or str(error),
                position=_error_position(
                    query.sql, error.diag.statement_position, prefix=0 if query.explain else len(CURSOR_PREFIX)
                ),
                syntax=isinstance(error, errors.SyntaxError),
            ) from None
        finally:
            if query_id is not None:
                RUNNING.pop(query_id, None)
            await app_conn.execute("DELETE FROM explorer_grants WHERE backend_pid = %s", (pid,))


# What psycopg sends before the analyst's SQL for the named cursor; PostgreSQL's error positions count it.
CURSOR_PREFIX = 'DECLARE "explorer_query" CURSOR FOR '


def _error_position(text: str, position: str | None, *, prefix: int) -> tuple[int, int] | None:
    """PostgreSQL's 1-based character position in the sent statement as (line, column) in `text`."""
    if not position or not position.isdigit() or not 0 < int(position) - prefix <= len(text) + 1:
        return None
    before = text[: int(position) - prefix - 1]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


async def record_history(
    app_conn: AsyncConnection[Any],
    *,
    username: str,
    statement: str,
    outcome: str,
    row_count: int | None = None,
    truncated: bool = False,
    elapsed_ms: float | None = None,
    error: str | None = None,
    output: str = "json",
) -> None:
    await app_conn.execute(
        """INSERT INTO explorer_history (username, sql, outcome, row_count, truncated, elapsed_ms, error, format)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (username, statement[:20_000], outcome, row_count, truncated, elapsed_ms, error, output),
    )
    await prune_history(app_conn, username=username, keep=get_settings().explorer_history_keep)


async def prune_history(app_conn: AsyncConnection[Any], *, username: str, keep: int) -> int:
    """Drop the account's history beyond its `keep` newest entries (0: keep all); how many went."""
    if keep == 0:
        return 0
    cur = await app_conn.execute(
        """DELETE FROM explorer_history WHERE id IN (
               SELECT id FROM explorer_history WHERE username = %s ORDER BY ran_at DESC, id OFFSET %s)""",
        (username, keep),
    )
    return cur.rowcount


def outcome_of(error: Exception) -> str:
    if isinstance(error, UnsafeQuery):
        return "refused"
    return "cancelled" if isinstance(error, QueryCancelled) else "failed"


async def audit_query(
    app_conn: AsyncConnection[Any], context: AuditContext, query_sql: str, rows: int, **extra: Any
) -> None:
    async with app_conn.transaction():
        await audit.record(
            app_conn, context, action="database.query", target="sql",
            details={"sql": query_sql[:4000], "rows": rows, **extra},
        )  # fmt: skip


async def run_query(
    app_conn: AsyncConnection[Any],
    explorer_pool: AsyncConnectionPool[Any] | None,
    *,
    statement: str,
    limit: int,
    timeout_ms: int,
    context: AuditContext,
    check: bool = True,
    query_id: UUID | None = None,
) -> QueryResult:
    """Run an analyst's query on the explorer's own connection, as what `context.actor` may see.

    Every query, answered or not, goes into the analyst's history.
    """
    started = time.perf_counter()
    username = context.actor.username
    try:
        query = check_statement(statement, timeout_ms=timeout_ms, check=check)
        async with explorer_cursor(
            app_conn, explorer_pool, query, user=context.actor, timeout_ms=timeout_ms, query_id=query_id
        ) as (cur, columns):
            fetched = (
                await fetch_capped(cur, columns, limit=limit, budget=MAX_RESULT_BYTES) if cur.description else Fetched()
            )
    except (UnsafeQuery, QueryFailed, QueryCancelled, UnanswerableValue) as error:
        await record_history(app_conn, username=username, statement=statement, outcome=outcome_of(error),
                             error=str(error)[:2000])  # fmt: skip
        raise
    elapsed = round((time.perf_counter() - started) * 1000, 2)
    await record_history(app_conn, username=username, statement=statement, outcome="answered",
                         row_count=len(fetched.rows), truncated=fetched.truncated, elapsed_ms=elapsed)  # fmt: skip
    await audit_query(app_conn, context, query.sql, len(fetched.rows))
    return QueryResult(
        columns=columns,
        rows=fetched.rows,
        row_count=len(fetched.rows),
        truncated=fetched.truncated,
        elapsed_ms=elapsed,
    )


def csv_cell(value: Any) -> str:
    """One value as CSV text: NULL is empty, JSON values as JSON, the rest as the explorer shows it."""
    shown = to_json_value(value)
    if shown is None:
        return ""
    if isinstance(shown, list | dict):
        return json.dumps(shown, ensure_ascii=False, default=str)
    return str(shown)


def csv_line(cells: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue().encode()


async def stream_csv(
    app_pool: AsyncConnectionPool[Any],
    explorer_pool: AsyncConnectionPool[Any] | None,
    query: CheckedQuery,
    *,
    statement: str,
    limit: int,
    timeout_ms: int,
    context: AuditContext,
    query_id: UUID | None = None,
) -> AsyncIterator[bytes]:
    """The query's rows as CSV, read from the server-side cursor batch by batch and sent as they come.

    The explorer's caps hold: at most `limit` rows and MAX_RESULT_BYTES bytes (header included);
    history and the audit log say whether it was cut short. The statement is checked by the caller,
    so a refusal is still a proper error answer before any byte is sent.
    """
    started = time.perf_counter()
    username = context.actor.username
    rows = sent = 0
    truncated = False
    async with app_pool.connection() as app_conn:
        try:
            async with explorer_cursor(
                app_conn, explorer_pool, query, user=context.actor, timeout_ms=timeout_ms, query_id=query_id
            ) as (cur, columns):
                header = csv_line(columns)
                sent += len(header)
                yield header
                while cur.description is not None and not truncated:
                    batch = await cur.fetchmany(CSV_BATCH_ROWS)
                    for raw in batch:
                        line = csv_line([_csv_answerable(value, columns[i], rows + 1) for i, value in enumerate(raw)])
                        if rows >= limit or sent + len(line) > MAX_RESULT_BYTES:
                            truncated = True
                            break
                        rows += 1
                        sent += len(line)
                        yield line
                    if len(batch) < CSV_BATCH_ROWS:
                        break
        except (QueryFailed, QueryCancelled, UnanswerableValue) as error:
            await record_history(app_conn, username=username, statement=statement, outcome=outcome_of(error),
                                 row_count=rows, error=str(error)[:2000], output="csv")  # fmt: skip
            # The header is already out: the error goes in the stream's last line, where a reader stops.
            yield csv_line([f"# SCIS: stopped after {rows} rows: {error}"])
            return
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        await record_history(app_conn, username=username, statement=statement, outcome="answered", row_count=rows,
                             truncated=truncated, elapsed_ms=elapsed, output="csv")  # fmt: skip
        await audit_query(app_conn, context, query.sql, rows, format="csv", truncated=truncated)


def _csv_answerable(value: Any, column: str, row: int) -> str:
    try:
        return csv_cell(value)
    except UnanswerableValue as error:
        raise UnanswerableValue(f"the value of column {column!r} in row {row} cannot be shown: {error}") from None


async def cancel_query(app_conn: AsyncConnection[Any], redis: Any, *, query_id: UUID, user: User) -> None:
    """Cancel the caller's own running query, in whichever replica runs it; QueryNotRunning otherwise.

    Only a query whose grant names the caller is touched: nobody can stop someone else's query.
    """
    cur = await app_conn.execute(
        "SELECT 1 FROM explorer_grants WHERE query_id = %s AND username = %s", (query_id, user.username)
    )
    if await cur.fetchone() is None:
        raise QueryNotRunning(f"no query {query_id} of yours is running (it may have finished)")
    if not await cancel_here(query_id, user.username):
        await bus.publish(redis, CANCEL_CHANNEL, {"query_id": str(query_id), "username": user.username})


async def cancel_here(query_id: UUID, username: str) -> bool:
    """Cancel the query if this process runs it for that analyst; whether it did."""
    running = RUNNING.get(query_id)
    if running is None or running.username != username:
        return False
    running.cancelled = True
    # libpq's cancel request for this backend only: it needs the key this connection holds, and no
    # right to signal other backends (pg_cancel_backend stays revoked from every SCIS role).
    await running.connection.cancel_safe()
    return True


async def follow_cancels(redis_url: str) -> None:
    """Cancel, in this replica, the queries analysts asked another replica to cancel."""

    async def handle(_: str, payload: dict[str, Any]) -> None:
        try:
            await cancel_here(UUID(str(payload.get("query_id"))), str(payload.get("username")))
        except ValueError:
            log.warning("ignoring a malformed explorer cancel message: %r", payload)

    await bus.follow(redis_url, CANCEL_CHANNEL, handle=handle, what="explorer cancel listener")


async def describe_tables(conn: AsyncConnection) -> list[TableInfo]:
    """The explorer's views and their columns; nullability and row estimates come from the table behind each."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT c.relname AS table_name, a.attname AS column_name,
                  obj_description(c.oid, 'pg_class') AS table_comment, col_description(c.oid, a.attnum) AS comment,
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
            row["table_name"],
            TableInfo(
                name=row["table_name"], columns=[], estimated_rows=row["estimated_rows"], comment=row["table_comment"]
            ),
        )
        table.columns.append(
            ColumnInfo(name=row["column_name"], type=row["type"], nullable=row["nullable"], comment=row["comment"])
        )
    return list(tables.values())
