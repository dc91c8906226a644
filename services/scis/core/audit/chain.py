"""Recompute the audit log's hash chain (migration 0005) and name the first row that does not fit.

The database links each row when it is inserted; this module recomputes every link independently
from the stored columns, so a row changed, deleted or slipped in with the triggers disabled shows.
The canonical form must stay identical to `scis_audit_canonical` in 0005_accounts.sql.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

GENESIS_HASH = "0" * 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FETCH_BATCH = 2000

_SELECT_ROWS = """SELECT id, chain_seq, prev_hash, row_hash, at, actor, role, action, target, source_ip,
                         request_id, service, details::text AS details_text
                    FROM audit_log ORDER BY chain_seq NULLS FIRST, id"""


@dataclass(frozen=True, slots=True)
class AuditChainFailure:
    """The first row that does not fit, and how."""

    id: int | None  # audit_log.id of the row (None when the row is missing altogether)
    chain_seq: int | None
    check: str  # outside_chain | missing | out_of_order | changed | seal | head
    detail: str


@dataclass(frozen=True, slots=True)
class AuditChainVerdict:
    intact: bool
    rows_checked: int
    seals_checked: int
    head_seq: int
    head_hash: str
    failure: AuditChainFailure | None

    def describe(self) -> str:
        """One line for a terminal or a response."""
        if self.failure is None:
            return (
                f"audit log: intact, {self.rows_checked} rows, {self.seals_checked} seals, "
                f"head seq {self.head_seq} hash {self.head_hash}"
            )
        f = self.failure
        where = f"row id {f.id}" if f.id is not None else "a row"
        if f.chain_seq is not None:
            where += f" (chain seq {f.chain_seq})"
        return f"audit log: TAMPERED at {where}: {f.check}: {f.detail}"


def field(value: object) -> str:
    """One field of the canonical form: '-' for NULL, else '<length in characters>:<text>'."""
    if value is None:
        return "-"
    text = str(value)
    return f"{len(text)}:{text}"


def epoch_microseconds(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


def canonical(row: Mapping[str, Any]) -> str:
    """The text the row's hash covers; `details_text` is PostgreSQL's own text of the jsonb value."""
    values = (
        row["chain_seq"],
        row["id"],
        epoch_microseconds(row["at"]),
        row["actor"],
        row["role"],
        row["action"],
        row["target"],
        row["source_ip"],
        row["request_id"],
        row["service"],
        row["details_text"],
    )
    return "|".join(field(value) for value in values)


def link(prev_hash: str, canonical_text: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_text}".encode()).hexdigest()


def check_row(
    row: Mapping[str, Any], expected_seq: int, prev_hash: str, prev_id: int | None
) -> AuditChainFailure | None:
    """The checks of one stored row against the row stored before it in the chain."""
    seq, row_id = row["chain_seq"], row["id"]
    if seq is None or row["prev_hash"] is None or row["row_hash"] is None:
        return AuditChainFailure(row_id, seq, "outside_chain", "row carries no chain link: inserted around the trigger")
    if seq > expected_seq:
        missing = f"seq {expected_seq}" if seq == expected_seq + 1 else f"seqs {expected_seq}..{seq - 1}"
        return AuditChainFailure(
            row_id, seq, "missing", f"{missing} deleted: the chain jumps from seq {expected_seq - 1} to {seq}"
        )
    if seq < expected_seq:
        return AuditChainFailure(row_id, seq, "out_of_order", f"seq {seq} appears twice in the chain")
    if row["prev_hash"] != prev_hash:
        after = f"row id {prev_id}" if prev_id is not None else "the start of the chain"
        return AuditChainFailure(
            row_id,
            seq,
            "out_of_order",
            f"prev_hash {row['prev_hash']} does not match {after} (hash {prev_hash}): "
            "inserted out of order, or the row before it was rewritten with a new hash",
        )
    expected = link(prev_hash, canonical(row))
    if expected != row["row_hash"]:
        return AuditChainFailure(row_id, seq, "changed", f"fields hash to {expected}, stored {row['row_hash']}")
    return None


async def verify_audit_chain(conn: AsyncConnection[Any]) -> AuditChainVerdict:
    """Recompute the whole chain in one snapshot; the verdict names the first row that does not fit."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return await _verify(conn)


async def _verify(conn: AsyncConnection[Any]) -> AuditChainVerdict:
    reader = conn.cursor(row_factory=dict_row)
    await reader.execute("SELECT last_seq, last_hash FROM audit_chain_head WHERE singleton")
    head = await reader.fetchone()
    head_seq, head_hash = (head["last_seq"], head["last_hash"]) if head else (0, GENESIS_HASH)
    await reader.execute("SELECT seq, row_hash FROM audit_seals ORDER BY seq")
    seals = {row["seq"]: row["row_hash"] for row in await reader.fetchall()}

    prev_hash, prev_id, expected_seq, checked, seals_checked = GENESIS_HASH, None, 1, 0, 0

    def verdict(failure: AuditChainFailure | None) -> AuditChainVerdict:
        return AuditChainVerdict(failure is None, checked, seals_checked, head_seq, head_hash, failure)

    rows = conn.cursor(name="scis_audit_verify", row_factory=dict_row)
    await rows.execute(_SELECT_ROWS)
    while batch := await rows.fetchmany(_FETCH_BATCH):
        for row in batch:
            failure = check_row(row, expected_seq, prev_hash, prev_id)
            if failure is None and row["chain_seq"] in seals:
                seals_checked += 1
                if seals[row["chain_seq"]] != row["row_hash"]:
                    failure = AuditChainFailure(
                        row["id"], row["chain_seq"], "seal",
                        f"sealed hash {seals[row['chain_seq']]} differs from the row's {row['row_hash']}: "
                        "the chain was rewritten from here or earlier",
                    )  # fmt: skip
            if failure is not None:
                await rows.close()
                return verdict(failure)
            checked += 1
            prev_hash, prev_id, expected_seq = row["row_hash"], row["id"], row["chain_seq"] + 1
    await rows.close()
    last_seq = expected_seq - 1
    if last_seq != head_seq:
        return verdict(
            AuditChainFailure(
                None,
                last_seq + 1,
                "head",
                f"the chain ends at seq {last_seq} but its head records seq {head_seq}: "
                f"rows after seq {last_seq} were deleted",
            )  # fmt: skip
        )
    if prev_hash != head_hash:
        return verdict(
            AuditChainFailure(
                prev_id,
                last_seq,
                "head",
                f"the last row hashes to {prev_hash} but the head recorded {head_hash}: it was rewritten",
            )  # fmt: skip
        )
    beyond = [seq for seq in seals if seq > last_seq]
    if beyond:
        return verdict(
            AuditChainFailure(None, beyond[0], "seal", f"seal at seq {beyond[0]} has no row: rows were deleted")
        )
    return verdict(None)
