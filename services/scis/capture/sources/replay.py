"""The replay source: a capture file written with --record-file, played back into a new session.

Each record keeps the time it was first captured, so the replayed events carry their original
capture times; the file's SHA-256 goes into the session's configuration snapshot.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from scis.capture.capture_file import CaptureFileError, RecordType, event_from_json, open_capture_file
from scis.capture.sources.base import (
    LiveEnded,
    LiveRoom,
    PageEvent,
    RawFetch,
    RawFrame,
    SourceGap,
    SourceItem,
    TargetUnavailable,
)
from scis.core.status import SessionStatus

YIELD_EVERY = 256


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ReplaySource:
    name = "replay"

    def __init__(self, path: Path, *, handle: str | None = None, speed: float = 0.0) -> None:
        """speed 0 replays as fast as possible; 1.0 at the pace of the original capture."""
        self.path = path
        self.handle = handle
        self.speed = speed
        self.header: dict[str, Any] = {}
        self._stopping = False
        self.sha256: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.name, "file": str(self.path), "file_sha256": self.sha256, "recorded": self.header}

    async def open(self) -> LiveRoom:
        if not self.path.is_file():
            raise TargetUnavailable(SessionStatus.NOT_FOUND, f"replay file {self.path} does not exist")
        try:
            self.header, _ = open_capture_file(self.path)
        except CaptureFileError as error:
            raise TargetUnavailable(SessionStatus.FAILED, str(error)) from None
        self.sha256 = await asyncio.to_thread(file_sha256, self.path)
        return LiveRoom(
            handle=self.handle or str(self.header.get("target") or ""),
            room_id=self.header.get("room_id"),
            title=str(self.header.get("title") or ""),
            details={"replayed_session": self.header.get("session_id")},
        )

    async def stop(self) -> None:
        self._stopping = True

    async def items(self) -> AsyncIterator[SourceItem]:
        _, records = open_capture_file(self.path)
        loop = asyncio.get_running_loop()
        first_at: datetime | None = None
        started = loop.time()
        for count, record in enumerate(records):
            if self._stopping:
                return
            if self.speed > 0:
                first_at = first_at or record.captured_at
                due = started + (record.captured_at - first_at).total_seconds() / self.speed
                await asyncio.sleep(max(0.0, due - loop.time()))
            elif count % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if record.type is RecordType.FRAME:
                yield RawFrame(record.payload, record.captured_at)
            elif record.type is RecordType.FETCH:
                yield RawFetch(record.payload, record.captured_at)
            elif record.type is RecordType.EVENT:
                yield PageEvent(event_from_json(record.payload))
            elif record.type is RecordType.GAP:
                gap = json.loads(record.payload)
                yield SourceGap(
                    datetime.fromisoformat(gap["from"].replace("Z", "+00:00")),
                    datetime.fromisoformat(gap["to"].replace("Z", "+00:00")),
                    gap["reason"],
                    gap.get("detail", ""),
                )
        yield LiveEnded(f"end of the replay file {self.path.name}")
