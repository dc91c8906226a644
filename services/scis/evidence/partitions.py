"""Day partitions of ``events`` (migrations 0023-0024, decision 911): made ahead, detached when old.

Both run as the database owner (``SCIS_MIGRATION_DATABASE_URL``), from ``scis db partitions`` or the
chart's CronJob; services never do DDL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg import sql

# A day partition's bounds, from the catalog rather than from its name.
_PARTITIONS_SQL = """
SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'public.events'::regclass
ORDER BY c.relname
"""
_OPEN_SESSIONS_SQL = """
SELECT count(DISTINCT e.session_id) FROM public.{table} e JOIN public.live_sessions s ON s.id = e.session_id
WHERE s.ended_at IS NULL
"""
_CASES_SQL = """
SELECT coalesce(string_agg(DISTINCT coalesce(c.reference, 'no case'), ', '), '')
FROM (SELECT DISTINCT session_id FROM public.{table}) e
JOIN public.live_sessions s ON s.id = e.session_id LEFT JOIN public.cases c ON c.id = s.case_id
"""


@dataclass(frozen=True)
class Partition:
    name: str
    upper: datetime | None  # None: the default partition (no bounds)


@dataclass(frozen=True)
class Detached:
    name: str
    cases: str  # the case references whose evidence it holds: check their retention before archiving


class PartitionError(Exception):
    """A partition that cannot be detached, and why."""


def create_ahead(conn: psycopg.Connection[Any], days: int) -> list[str]:
    """Make today's (UTC) partition and the next ``days`` ones; the names of all of them."""
    if not 0 <= days <= 366:
        raise PartitionError(f"--ahead must be between 0 and 366 days, not {days}")
    with conn.transaction():
        rows = conn.execute("SELECT scis_events_partitions_ahead(%s)", (days,)).fetchall()
    return [row[0] for row in rows]


def partitions(conn: psycopg.Connection[Any]) -> list[Partition]:
    found = []
    for name, bound in conn.execute(_PARTITIONS_SQL).fetchall():
        found.append(Partition(name, _upper_bound(conn, bound)))
    return found


def _upper_bound(conn: psycopg.Connection[Any], bound: str) -> datetime | None:
    if bound == "DEFAULT":
        return None
    upper = bound.rsplit(" TO (", 1)[1].rstrip(")")
    value = conn.execute(f"SELECT {upper}::timestamptz").fetchone()  # type: ignore[arg-type]  # from the catalog
    return value[0] if value else None


def detach_before(conn: psycopg.Connection[Any], before: date) -> list[Detached]:
    """Detach every partition that ends on or before ``before`` (UTC midnight) and holds no open session.

    A detached partition keeps its rows, unique keys and append-only triggers as a table of its own,
    to be archived (``pg_dump -t``) and dropped by an administrator; the live partitions are not locked
    beyond the moment of the detach. A partition holding a session that has not ended is refused.
    """
    cutoff = datetime(before.year, before.month, before.day, tzinfo=UTC)
    detached = []
    for partition in partitions(conn):
        if partition.upper is None or partition.upper > cutoff:
            continue
        table = sql.Identifier(partition.name)
        with conn.transaction():
            row = conn.execute(sql.SQL(_OPEN_SESSIONS_SQL).format(table=table)).fetchone()
            if row and row[0]:
                raise PartitionError(f"{partition.name} holds {row[0]} session(s) that have not ended; seal them first")
            cases_row = conn.execute(sql.SQL(_CASES_SQL).format(table=table)).fetchone()
            conn.execute(sql.SQL("ALTER TABLE public.events DETACH PARTITION public.{}").format(table))
            # Cloned row triggers leave with the detach: the table stays append-only until archived.
            conn.execute(
                sql.SQL(
                    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON public.{} "
                    "FOR EACH ROW EXECUTE FUNCTION scis_refuse_change()"
                ).format(table)
            )
        detached.append(Detached(partition.name, cases_row[0] if cases_row else ""))
    return detached
