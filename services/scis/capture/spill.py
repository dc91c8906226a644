"""A bounded queue that never blocks its producer and never drops: overflow goes to an append-only file.

While the database keeps up, events pass through memory. When the queue is full, every new event
is appended to the spill file (SCIS_HOME/spill/SESSION.spill) instead, and the writer reads them
back in order once memory is empty. Order is kept: once spilling starts, nothing goes to memory
until the file is drained. A drained file is renamed `.drained` and removed only when the writer
acknowledges that the batch holding its last events is committed, so a crash never loses a spilled
event; files left by a crashed capture are picked up by the next capture of the same session
(events already stored are then recognised by their msg_id and skipped by the writer).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from scis.capture.capture_file import (
    CaptureFileError,
    CaptureFileWriter,
    RecordType,
    event_from_json,
    read_header,
    read_records,
)
from scis.evidence.records import EventRecord

log = logging.getLogger(__name__)


class SpillQueue:
    def __init__(self, maxsize: int, spill_path: Path) -> None:
        self.maxsize = maxsize
        self.spill_path = spill_path
        self._memory: deque[EventRecord] = deque()
        self._writer: CaptureFileWriter | None = None
        self._reader: BinaryIO | None = None
        self._pending_in_file = 0
        self._unlink_on_ack: Path | None = None
        self._ready = asyncio.Event()
        self._closed = False
        self.spilled_total = 0
        self.spill_episodes = 0
        # Events that could not even be spilled (disk full): reported as an "overflow" gap.
        self.lost = 0
        self.lost_from: datetime | None = None
        self.lost_to: datetime | None = None

    @property
    def spilling(self) -> bool:
        return self._writer is not None

    def qsize(self) -> int:
        return len(self._memory) + self._pending_in_file

    def put(self, record: EventRecord) -> None:
        """Queue one event without ever waiting."""
        if self._closed:
            raise RuntimeError("queue is closed")
        if self._writer is None and len(self._memory) < self.maxsize:
            self._memory.append(record)
        else:
            self._spill(record)
        self._ready.set()

    def _spill(self, record: EventRecord) -> None:
        try:
            if self._writer is None:
                self._writer = CaptureFileWriter(self.spill_path, {"purpose": "spill"})
                self.spill_episodes += 1
                log.warning("capture queue full (%d): spilling to %s", self.maxsize, self.spill_path)
            self._writer.write_event(record)
        except OSError as error:
            self.lost += 1
            self.lost_from = self.lost_from or record.captured_at
            self.lost_to = record.captured_at
            log.error("could not spill an event to %s: %s", self.spill_path, error)
            return
        self._pending_in_file += 1
        self.spilled_total += 1

    @property
    def drained_path(self) -> Path:
        return self.spill_path.with_suffix(".drained")

    def recover(self) -> int:
        """Queue what a previous capture of this session left in its spill files; returns how many."""
        events: list[bytes] = []
        stamps: list[datetime] = []
        leftovers = [p for p in (self.drained_path, self.spill_path) if p.exists()]
        for path in leftovers:
            try:
                with path.open("rb") as handle:
                    read_header(handle)
                    for record in read_records(handle):
                        if record.type is RecordType.EVENT:
                            events.append(record.payload)
                            stamps.append(record.captured_at)
            except (CaptureFileError, OSError) as error:
                log.error("ignoring unreadable spill file %s: %s", path, error)
        if not leftovers:
            return 0
        merged = self.spill_path.with_suffix(".recovering")
        merged.unlink(missing_ok=True)
        writer = CaptureFileWriter(merged, {"purpose": "spill"})
        for payload, stamp in zip(events, stamps, strict=True):
            writer.write(RecordType.EVENT, stamp, payload)
        writer.close()
        merged.replace(self.spill_path)
        self.drained_path.unlink(missing_ok=True)
        if not events:
            self.spill_path.unlink(missing_ok=True)
            return 0
        self._writer = CaptureFileWriter(self.spill_path)
        self._pending_in_file = len(events)
        self._ready.set()
        log.warning("recovered %d spilled events from %s", len(events), self.spill_path)
        return len(events)

    def acknowledge(self) -> None:
        """The writer committed every batch handed out so far."""
        if self._unlink_on_ack is not None:
            self._unlink_on_ack.unlink(missing_ok=True)
            self._unlink_on_ack = None

    def close(self) -> None:
        """No more events will be put; get_batch returns [] once everything has been taken."""
        self._closed = True
        self._ready.set()

    async def get_batch(self, max_items: int) -> list[EventRecord]:
        """Up to max_items events in arrival order; waits for at least one unless closed."""
        while True:
            if self._memory:
                count = min(max_items, len(self._memory))
                return [self._memory.popleft() for _ in range(count)]
            if self._pending_in_file:
                return self._read_spilled(max_items)
            if self._closed:
                return []
            self._ready.clear()
            await self._ready.wait()

    def _read_spilled(self, max_items: int) -> list[EventRecord]:
        if self._reader is None:
            self._reader = self.spill_path.open("rb")
            read_header(self._reader)
        batch: list[EventRecord] = []
        for record in read_records(self._reader):
            if record.type is RecordType.EVENT:
                batch.append(event_from_json(record.payload))
                if len(batch) >= max_items:
                    break
        self._pending_in_file -= len(batch)
        if self._pending_in_file <= 0 or not batch:
            self._drained()
        return batch

    def _drained(self) -> None:
        assert self._writer is not None and self._reader is not None
        self._writer.close()
        self._reader.close()
        self._writer = self._reader = None
        self._pending_in_file = 0
        self.spill_path.replace(self.drained_path)
        self._unlink_on_ack = self.drained_path
        log.info("spill file %s drained", self.spill_path)
