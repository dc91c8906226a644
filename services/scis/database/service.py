"""Running analysts' queries read-only, and describing the tables they may read."""

from __future__ import annotations

import json
import math
import time
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from typing import Any

from psycopg import AsyncConnection, errors, sql
from psycopg.abc import Buffer, Loader
from psycopg.rows import dict_row, tuple_row
from psycopg.types.datetime import DateLoader, TimestampLoader, TimestamptzLoader

from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.database.models import ColumnInfo, QueryResult, TableInfo
from scis.database.sanitiser import check_read_only

READER_ROLE = "scis_reader"
# An answer the browser can still render; the row cap alone lets one huge value through.
MAX_RESULT_BYTES = 8 * 1024 * 1024


class QueryFailed(Exception):
    """PostgreSQL refused or aborted the query; the message is PostgreSQL's, made readable."""


NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def to_json_value(value: Any) -> Any:
    """A value as JSON without losing it: what JSON has no type for is given as PostgreSQL's text for it."""
    if value is None or isinstance(value, bool | int | str):
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
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    return str(value)  # Decimal, UUID, addresses, ranges, …: their text form


def _keep_infinity(loader: type[Loader]) -> type[Loader]:
    """A date/time loader that gives 'infinity' and '-infinity' as text, which Python's types cannot hold."""

    class KeepInfinity(loader):  # type: ignore[valid-type, misc]
        def load(self, data: Buffer) -> Any:
            if bytes(data) in (b"infinity", b"-infinity"):
                return bytes(data).decode()
            return super().load(data)

    return KeepInfinity


_EXPLORER_LOADERS = {
    "date": _keep_infinity(DateLoader),
    "timestamp": _keep_infinity(TimestampLoader),
    "timestamptz": _keep_infinity(TimestamptzLoader),
}


def fit_in_budget(rows: list[list[Any]], budget: int = MAX_RESULT_BYTES) -> tuple[list[list[Any]], bool]:
    """The leading rows whose JSON fits the budget, and whether any were left out."""
    used = 0
    for index, row in enumerate(rows):
        used += len(json.dumps(row, default=str))
        if used > budget:
            return rows[:index], True
    return rows, False


async def run_query(
    conn: AsyncConnection, *, statement: str, limit: int, timeout_ms: int, context: AuditContext
) -> QueryResult:
    safe = check_read_only(statement)
    started = time.perf_counter()
    try:
        async with conn.transaction():
            await conn.execute("SET TRANSACTION READ ONLY")
            await conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(READER_ROLE)))
            await conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(timeout_ms)))
            cur = conn.cursor(row_factory=tuple_row)
            for type_name, loader in _EXPLORER_LOADERS.items():
                cur.adapters.register_loader(type_name, loader)
            await cur.execute(safe.encode())  # bytes: psycopg treats it as finished SQL, no placeholders
            columns = [column.name for column in cur.description or []]
            fetched = await cur.fetchmany(limit + 1) if cur.description else []
    except errors.QueryCanceled:
        raise QueryFailed(f"the query ran longer than {timeout_ms} ms and was stopped; narrow it down") from None
    except errors.InsufficientPrivilege as error:
        raise QueryFailed(f"not readable from the explorer: {error.diag.message_primary}") from None
    except errors.Error as error:
        raise QueryFailed(error.diag.message_primary or str(error)) from None
    elapsed = (time.perf_counter() - started) * 1000
    rows, cut_for_size = fit_in_budget([[to_json_value(v) for v in row] for row in fetched[:limit]])
    async with conn.transaction():
        await audit.record(
            conn, context, action="database.query", target="sql", details={"sql": safe[:4000], "rows": len(rows)}
        )
    return QueryResult(
        columns=columns,
        rows=rows,
        row_count=len(rows),
        truncated=len(fetched) > limit or cut_for_size,
        elapsed_ms=round(elapsed, 2),
    )


async def describe_tables(conn: AsyncConnection) -> list[TableInfo]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """SELECT c.relname AS table_name, a.attname AS column_name,
                  format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
                  greatest(c.reltuples, 0)::bigint AS estimated_rows
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE c.relkind IN ('r', 'p')
             AND has_column_privilege(%s, c.oid, a.attnum, 'SELECT')
           ORDER BY c.relname, a.attnum""",
        (READER_ROLE,),
    )
    tables: dict[str, TableInfo] = {}
    for row in await cur.fetchall():
        table = tables.setdefault(
            row["table_name"], TableInfo(name=row["table_name"], columns=[], estimated_rows=row["estimated_rows"])
        )
        table.columns.append(ColumnInfo(name=row["column_name"], type=row["type"], nullable=row["nullable"]))
    return list(tables.values())
