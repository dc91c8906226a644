"""The JSON shape of a stored event, on the bus, on Socket.IO and in the API (docs/events.md).

64-bit identifiers (msg_id, user_id) are strings: JavaScript numbers lose precision above 2**53.
"""

from __future__ import annotations

from typing import Any

from scis.evidence.canonical import iso_utc
from scis.evidence.records import ChainedRecord


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


def event_payload(item: ChainedRecord) -> dict[str, Any]:
    r = item.record
    return {
        "session_id": str(item.session_id),
        "seq": item.seq,
        "kind": r.kind,
        "msg_id": _id(r.msg_id),
        "method": r.method,
        "room_id": r.room_id,
        "user_id": _id(r.user_id),
        "unique_id": r.unique_id,
        "nickname": r.nickname,
        "body": r.body,
        "gift_id": r.gift_id,
        "gift_name": r.gift_name,
        "diamond_count": r.diamond_count,
        "repeat_count": r.repeat_count,
        "inferred": r.inferred,
        "counts": r.counts,
        "data": r.data,
        "server_time": iso_utc(r.server_time),
        "captured_at": iso_utc(r.captured_at),
        "raw_sha256": item.raw_sha256,
        "chain_hash": item.chain_hash,
    }


def row_payload(row: dict[str, Any]) -> dict[str, Any]:
    """The same shape from an `events` row (dict row)."""
    return {
        "session_id": str(row["session_id"]),
        "seq": row["seq"],
        "kind": row["kind"],
        "msg_id": _id(row["msg_id"]),
        "method": row["method"],
        "room_id": row["room_id"],
        "user_id": _id(row["user_id"]),
        "unique_id": row["unique_id"],
        "nickname": row["nickname"],
        "body": row["body"],
        "gift_id": row["gift_id"],
        "gift_name": row["gift_name"],
        "diamond_count": row["diamond_count"],
        "repeat_count": row["repeat_count"],
        "inferred": row["inferred"],
        "counts": row["counts"],
        "data": row["data"],
        "server_time": iso_utc(row["server_time"]),
        "captured_at": iso_utc(row["captured_at"]),
        "raw_sha256": row["raw_sha256"],
        "chain_hash": row["chain_hash"],
    }
