"""Live counters of one capture, for monitors, progress lines and the operator's progress report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from scis.capture import metrics as capture_metrics
from scis.core.status import SessionStatus
from scis.evidence.records import CHAIN_KINDS, GAP, VIDEO_SEGMENT, ChainedRecord


@dataclass(slots=True)
class CaptureStats:
    session_id: UUID
    target: str
    source: str
    case_id: int | None = None
    status: SessionStatus = SessionStatus.STARTING
    status_reason: str = ""
    room_id: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    events_total: int = 0  # TikTok events stored (chain records of the capture itself excluded)
    records_total: int = 0  # every chain record stored
    events_by_kind: Counter[str] = field(default_factory=Counter)
    viewers: int | None = None
    likes_total: int | None = None
    last_event_at: datetime | None = None
    chain_head: str | None = None
    gaps: int = 0
    malformed: int = 0
    duplicates: int = 0
    spilled: int = 0
    lost: int = 0  # events neither queued nor spilled (disk full): each stretch stored as a gap
    queued: int = 0
    reconnects: int = 0
    video_segments: int = 0  # video segments stored and chained
    video_bytes: int = 0  # their bytes as received
    store_retries: int = 0  # batches PostgreSQL could not take yet (retried until it did)
    refused: int = 0  # records PostgreSQL refused, stored as `malformed` instead
    publish_failures: int = 0  # stored batches Redis did not take (the store is the truth)
    parked: int | None = None  # exited unsealed: events left in the spill folder for the next capture

    def stored(self, rows: Sequence[ChainedRecord]) -> None:
        """Count a committed batch."""
        capture_metrics.stored(rows)
        for item in rows:
            record = item.record
            self.records_total = item.seq + 1
            self.chain_head = item.chain_hash
            if record.kind == GAP:
                self.gaps += 1
            elif record.kind == VIDEO_SEGMENT:
                self.video_segments += 1
                self.video_bytes += int((record.data.get("raw") or {}).get("bytes", 0))
            if record.kind in CHAIN_KINDS:
                continue
            self.events_total += 1
            self.events_by_kind[record.kind] += 1
            self.last_event_at = record.captured_at
            counts = record.counts or {}
            if record.kind == "viewers" and "viewer_count" in counts:
                self.viewers = counts["viewer_count"]
            elif record.kind == "like" and "total" in counts:
                self.likes_total = counts["total"]
