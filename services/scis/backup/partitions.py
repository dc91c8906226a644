"""Day partitions of ``events`` (migrations 0023-0024, decision 911): made ahead; archived and
detached once no case's retention holds them (migrations 0035-0036, decision 913).

Both run as the database owner (``SCIS_MIGRATION_DATABASE_URL``), from ``scis db partitions`` or the
chart's CronJob; services never do DDL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from scis.backup.service import BackupError, run_client, sha256_of

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
# Who holds a partition: each case (NULL: sessions without a case) with its retention and sessions.
_HOLDERS_SQL = """
SELECT c.reference, c.retention_days, array_agg(e.session_id ORDER BY e.session_id)
FROM (SELECT DISTINCT session_id FROM public.{table}) e
JOIN public.live_sessions s ON s.id = e.session_id LEFT JOIN public.cases c ON c.id = s.case_id
GROUP BY c.reference, c.retention_days
"""


@dataclass(frozen=True)
class Partition:
    name: str
    upper: datetime | None  # None: the default partition (no bounds)


@dataclass(frozen=True)
class Retired:
    """A partition archived and detached."""

    name: str
    file: Path
    sha256: str
    bytes: int
    rows: int
    cases: tuple[str, ...]


@dataclass(frozen=True)
class Kept:
    """A partition old enough to retire but still held, and by what."""

    name: str
    reason: str


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


def retire_before(url: str, before: date, archive_dir: Path, *, now: datetime | None = None) -> list[Retired | Kept]:
    """Archive, then detach, every day partition that ends on or before ``before`` (UTC midnight) and
    that nothing still holds (decision 913); what it did or did not do to each, in order.

    A partition is kept while a session in it has not ended, or while a case with events there is
    still inside its retention (``cases.retention_days`` counted from the partition's end; a case
    with no retention, or a session with no case, keeps it for good). Otherwise, in one transaction
    that blocks writes to that partition only: ``pg_dump`` of it into ``archive_dir``, its SHA-256,
    the detach, and a ``partition_archives`` row naming the file and hash. A failed dump detaches
    nothing. The detached table keeps its rows, unique keys and append-only trigger until an
    administrator drops it; the chains of sessions in the kept partitions are not touched.
    """
    now = now or datetime.now(UTC)
    cutoff = datetime(before.year, before.month, before.day, tzinfo=UTC)
    archive_dir.mkdir(parents=True, exist_ok=True)
    done: list[Retired | Kept] = []
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        for partition in partitions(conn):
            if partition.upper is None or partition.upper > cutoff:
                continue
            with conn.transaction():
                done.append(_retire(conn, url, partition, partition.upper, archive_dir, now))
    return done


def _retire(
    conn: psycopg.Connection[Any], url: str, partition: Partition, ends_at: datetime, archive_dir: Path, now: datetime
) -> Retired | Kept:
    table = sql.Identifier(partition.name)
    # SHARE: no row can come in while it is checked and dumped; readers and other partitions go on.
    conn.execute(sql.SQL("LOCK TABLE public.{} IN SHARE MODE").format(table))
    row = conn.execute(sql.SQL(_OPEN_SESSIONS_SQL).format(table=table)).fetchone()
    if row and row[0]:
        return Kept(partition.name, f"{row[0]} session(s) in it have not ended; seal them first")
    holders = conn.execute(sql.SQL(_HOLDERS_SQL).format(table=table)).fetchall()
    reasons = [reason for reference, days, _ in holders if (reason := _retained(reference, days, ends_at, now))]
    if reasons:
        return Kept(partition.name, "; ".join(reasons))
    file = archive_dir / f"{partition.name}.dump"
    try:
        run_client("pg_dump", url, "--format=custom", "--table", f"public.{partition.name}", "--file", str(file))
    except BackupError as error:
        raise PartitionError(f"{partition.name} not detached: its archive failed: {error}") from None
    digest, size = sha256_of(file), file.stat().st_size
    count_row = conn.execute(sql.SQL("SELECT count(*) FROM public.{}").format(table)).fetchone()
    row_count = int(count_row[0]) if count_row else 0
    cases = sorted({reference for reference, _, _ in holders if reference})
    sessions = sorted({session for _, _, ids in holders for session in ids})
    conn.execute(sql.SQL("ALTER TABLE public.events DETACH PARTITION public.{}").format(table))
    # Cloned row triggers leave with the detach: the table stays append-only until it is dropped.
    conn.execute(
        sql.SQL(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON public.{} "
            "FOR EACH ROW EXECUTE FUNCTION scis_refuse_change()"
        ).format(table)
    )
    conn.execute(
        """INSERT INTO partition_archives (partition, ends_at, row_count, cases, sessions, file, sha256, bytes)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (partition.name, ends_at, row_count, cases, sessions, str(file), digest, size),
    )
    return Retired(partition.name, file, digest, size, row_count, tuple(cases))


def _retained(reference: str | None, days: int | None, ends_at: datetime, now: datetime) -> str | None:
    """Why a case keeps a partition ending at ``ends_at``, or None once its retention has run out."""
    if reference is None:
        return "sessions without a case (no retention applies: kept)"
    if days is None:
        return f"case {reference} has no retention (kept for good)"
    until = ends_at + timedelta(days=days)
    return f"case {reference} retains it until {until:%Y-%m-%d} ({days} days)" if until > now else None
