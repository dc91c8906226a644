"""A case's marked moments (snapshots, decision 803): what a bookmark's SHA-256 covers, from its stored row.

Pure functions shared by the snapshots service, the case export and the offline archive check.
"""

from __future__ import annotations

import hashlib
from typing import Any

from scis.evidence.canonical import canonical_json, iso_utc

FORMAT = "scis-snapshot-v1"


def canonical(content: dict[str, Any]) -> bytes:
    return canonical_json({"format": FORMAT, **content})


def content_of(row: dict[str, Any]) -> dict[str, Any]:
    """What the bookmark's hash covers, from its stored row."""
    return {
        "case_id": row["case_id"], "session_id": str(row["session_id"]), "marked_at": iso_utc(row["marked_at"]),
        "note": row["note"], "frame_sha256": row["frame_sha256"], "frame_source": row["frame_source"],
        "records": row["records"], "created_by": row["created_by"], "created_at": iso_utc(row["created_at"]),
    }  # fmt: skip


def is_intact(row: dict[str, Any]) -> bool:
    """The stored bookmark still hashes to its sha256, and so does its frame."""
    frame = row.get("frame_jpeg")
    frame_ok = (frame is None and row["frame_sha256"] is None) or (
        frame is not None and hashlib.sha256(bytes(frame)).hexdigest() == row["frame_sha256"]
    )
    return frame_ok and hashlib.sha256(canonical(content_of(row))).hexdigest() == row["sha256"]
