"""Gift streaks: a streakable gift arrives as several frames with a growing repeat_count; store it once.

A streak is closed by its repeat_end frame, by `timeout` seconds without a new frame, or at the end
of the capture. The last two store the last count seen with `inferred = true`. A frame arriving for a
streak that was already closed as inferred is stored as kind `gift_update` (never counted twice).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import sha256

from scis.evidence.records import EventRecord

STREAKABLE_GIFT_TYPE = 1
GIFT_UPDATE = "gift_update"

StreakKey = tuple[int | None, int | None, int | None]


@dataclass(slots=True)
class _OpenStreak:
    latest: EventRecord
    opened_at: float
    touched_at: float
    msg_ids: list[int | None] = field(default_factory=list)
    raw_sha256: list[str] = field(default_factory=list)


class GiftStreaks:
    """Holds open streaks and hands back each gift exactly once, when it is complete."""

    def __init__(self, timeout_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_seconds = timeout_seconds
        self._clock = clock
        self._open: dict[StreakKey, _OpenStreak] = {}
        # Streaks closed as inferred, kept long enough to recognise a late frame of theirs.
        self._inferred: dict[StreakKey, tuple[int | None, float]] = {}

    def __len__(self) -> int:
        return len(self._open)

    def oldest_open(self) -> float | None:
        """When (on this object's clock) the oldest streak still open began; None if none is open."""
        return min((streak.opened_at for streak in self._open.values()), default=None)

    def offer(
        self, record: EventRecord, *, gift_type: int | None, repeat_end: bool, group_id: int | None
    ) -> list[EventRecord]:
        """Take one gift frame; returns the gift events that are complete now (often none)."""
        key: StreakKey = (record.user_id, record.gift_id, group_id)
        now = self._clock()
        if key in self._inferred:
            closed_msg_id, _ = self._inferred[key]
            record.kind = GIFT_UPDATE
            record.data["streak_closed_as"] = closed_msg_id
            if repeat_end:
                self._inferred.pop(key, None)
            return [record]
        if gift_type != STREAKABLE_GIFT_TYPE:
            return [record]
        streak = self._open.get(key)
        if streak is None:
            streak = self._open[key] = _OpenStreak(latest=record, opened_at=now, touched_at=now)
        elif (record.repeat_count or 0) >= (streak.latest.repeat_count or 0):
            streak.latest = record
        streak.touched_at = now
        streak.msg_ids.append(record.msg_id)
        if record.raw is not None:
            streak.raw_sha256.append(sha256(record.raw).hexdigest())
        if not repeat_end:
            return []
        del self._open[key]
        return [self._close(streak, inferred=False, why="repeat_end")]

    def expire(self) -> list[EventRecord]:
        """Close streaks silent for longer than the timeout, as inferred."""
        now = self._clock()
        done = [key for key, s in self._open.items() if now - s.touched_at >= self.timeout_seconds]
        closed = [self._close_inferred(key, "timeout") for key in done]
        horizon = now - 10 * self.timeout_seconds
        for key in [k for k, (_, at) in self._inferred.items() if at < horizon]:
            del self._inferred[key]
        return closed

    def close_all(self, why: str = "capture_end") -> list[EventRecord]:
        """Close every open streak with the last count seen, as inferred (live end or stop)."""
        return [self._close_inferred(key, why) for key in list(self._open)]

    def _close_inferred(self, key: StreakKey, why: str) -> EventRecord:
        streak = self._open.pop(key)
        self._inferred[key] = (streak.latest.msg_id, self._clock())
        return self._close(streak, inferred=True, why=why)

    @staticmethod
    def _close(streak: _OpenStreak, *, inferred: bool, why: str) -> EventRecord:
        record = streak.latest
        record.inferred = inferred
        record.data["streak"] = {
            "closed_by": why,
            "frames": len(streak.msg_ids),
            "msg_ids": [str(m) for m in streak.msg_ids],
            "frames_raw_sha256": streak.raw_sha256,
            "seconds": round(streak.touched_at - streak.opened_at, 3),
        }
        return record
