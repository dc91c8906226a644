"""A bounded queue that never blocks its producer: overflow goes to append-only files on disk.

While the database keeps up, events pass through memory. When the queue is full, every new event
is appended to a spill segment in the session's own folder (SCIS_HOME/spill/SESSION/NNNNNN.spill)
instead, and the writer reads the segments back in order once memory is empty. Order is kept: once
spilling starts, nothing goes to memory until the segments are drained. A drained segment is removed
only when the writer acknowledges that the batch holding its last events is committed, so a crash
never loses a spilled event; segments left by a crashed capture are read in place (never copied) by
the next capture or adopter of the same session (events already stored are then recognised by their
msg_id and skipped by the writer).

When the disk refuses (full, read-only, gone), the queue keeps what it can in memory, counts what it
cannot keep, and `take_loss_gap()` turns each stretch of loss into a gap record that is handed to
the writer ahead of everything else, so the loss is evidence as soon as it is known. Spilling is
tried again every SPILL_RETRY_SECONDS.

When a capture must exit while the store takes nothing (SIGTERM with PostgreSQL down), `park()`
writes what memory holds (the batch in the writer's hands included) into segments placed in order
among those on disk, beside a `parked.json` note saying why; the next capture or adopter of the
session reads them in place like any spill (decision 410).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from scis.capture.capture_file import (
    CaptureFileError,
    CaptureFileWriter,
    RecordType,
    event_from_json,
    read_header,
    read_records,
)
from scis.evidence.chain import gap_record
from scis.evidence.records import EventRecord

log = logging.getLogger(__name__)

SPILL_RETRY_SECONDS = 5.0
SEGMENT_SUFFIX = ".spill"
PARKED_NOTE = "parked.json"
# Sorts before "NNNNNN.spill" ("-" < "."): what memory held was received before the segment it names.
PARKED_AHEAD = "-parked"


@dataclass(slots=True)
class Segment:
    """One spill file and how many of its events are still to be read."""

    path: Path
    pending: int
    first: datetime | None = None
    last: datetime | None = None
    next_seq: int = 0  # put order of the next event to read (spilled events are contiguous in it)


@dataclass(slots=True)
class Loss:
    """A stretch of events that could be neither queued nor spilled."""

    count: int
    started: datetime
    ended: datetime
    why: str
    msg_ids: list[str] = field(default_factory=list)  # TikTok message ids received but not kept


def session_spill_dir(home: Path, session_id: object) -> Path:
    """Where a session's overflow is spilled: one folder per session, read back by whoever resumes it."""
    return home / "spill" / str(session_id)


class SpillQueue:
    def __init__(self, maxsize: int, spill_dir: Path) -> None:
        self.maxsize = maxsize
        self.spill_dir = spill_dir
        self._urgent: deque[EventRecord] = deque()  # gap records: taken before anything else
        self._memory: deque[tuple[int, EventRecord]] = deque()
        self._segments: deque[Segment] = deque()
        self._after_segments: deque[tuple[int, EventRecord]] = deque()  # kept while spilling is impossible
        self._writer: CaptureFileWriter | None = None
        self._reader: BinaryIO | None = None
        self._next_segment = 1
        self._unlink_on_ack: list[Path] = []
        # Whether spill_dir may exist: removing it on every acknowledgement (after every batch) raised
        # and caught FileNotFoundError, a system call and an exception per batch, nearly always.
        self._dir_may_exist = True
        self._ready = asyncio.Event()
        self._closed = False
        self.spilled_total = 0
        self.spill_episodes = 0
        self.spill_error: str | None = None  # why the disk refused, while it does
        self._spill_retry_at = 0.0
        self._loss: Loss | None = None
        self.lost_total = 0  # events that could neither be queued nor spilled, over the whole capture
        self.loss_gaps = 0
        # Put order: every put event gets the next number; what the writer was handed and then
        # acknowledged tells which events are committed (or lost as a gap): see committed_seq.
        self._put_seq = 0
        self._handed_seq = 0
        self.committed_seq = 0
        self._handed_from_file = False  # the batch the writer holds was read from a segment (still on disk)

    @property
    def put_seq(self) -> int:
        """How many events were put so far (a checkpoint after them is safe once committed_seq reaches it)."""
        return self._put_seq

    @property
    def spilling(self) -> bool:
        return self._writer is not None

    @property
    def pending_in_files(self) -> int:
        return sum(segment.pending for segment in self._segments)

    def spill_bytes(self) -> int:
        """Bytes in the spill segments not yet drained (for metrics; a segment gone meanwhile counts 0)."""
        total = 0
        for segment in list(self._segments):  # a copy: metrics may read from another thread
            with contextlib.suppress(OSError):
                total += segment.path.stat().st_size
        return total

    def qsize(self) -> int:
        queued = len(self._urgent) + len(self._memory) + len(self._after_segments)
        # asked after every frame: no generator over the segments when there are none (nearly always)
        return queued + self.pending_in_files if self._segments else queued

    def put(self, record: EventRecord) -> None:
        """Queue one event without ever waiting; an event that cannot be kept is counted as lost."""
        if self._closed:
            raise RuntimeError("queue is closed")
        self._put_seq += 1
        if not self._segments and not self._after_segments and len(self._memory) < self.maxsize:
            self._memory.append((self._put_seq, record))
        elif not self._spill(record):
            held = self._after_segments if self._segments else self._memory
            if len(held) < self.maxsize:
                held.append((self._put_seq, record))
            else:
                self._lose(record)
                return
        self._ready.set()

    def put_urgent(self, record: EventRecord) -> None:
        """Queue a record (a gap) ahead of every waiting event; never spilled, never dropped."""
        self._urgent.append(record)
        self._ready.set()

    def _spill(self, record: EventRecord) -> bool:
        """Append to the current segment; False when the disk refuses (then retried only later)."""
        if self.spill_error is not None:
            if time.monotonic() < self._spill_retry_at or self._after_segments:
                return False
            self.spill_error = None
        try:
            if self._writer is None:
                self._writer = self._open_segment()
            self._writer.write_event(record)
        except (OSError, ValueError) as error:
            self.spill_error = f"{type(error).__name__}: {error}"
            self._spill_retry_at = time.monotonic() + SPILL_RETRY_SECONDS
            self._close_writer()
            log.error("cannot spill to %s (%s): keeping what memory holds, counting the rest as lost",
                      self.spill_dir, self.spill_error)  # fmt: skip
            return False
        segment = self._segments[-1]
        if segment.pending == 0:
            segment.next_seq = self._put_seq
        segment.pending += 1
        segment.first = segment.first or record.captured_at
        segment.last = record.captured_at
        self.spilled_total += 1
        return True

    def _open_segment(self) -> CaptureFileWriter:
        path = self.spill_dir / f"{self._next_segment:06d}{SEGMENT_SUFFIX}"
        self._next_segment += 1
        self._dir_may_exist = True
        try:
            writer = CaptureFileWriter(path, {"purpose": "spill"})
        except OSError:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            raise
        self._segments.append(Segment(path, 0))
        self.spill_episodes += 1
        log.warning("capture queue full (%d): spilling to %s", self.maxsize, path)
        return writer

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()  # never raises: the file holds whole records only
            self._writer = None

    def _lose(self, record: EventRecord) -> None:
        self.lost_total += 1
        if self._loss is None:
            why = self.spill_error or "the spill folder is unusable"
            self._loss = Loss(0, record.captured_at, record.captured_at, why)
            log.error("losing events: the memory queue is full and %s", why)
        self._loss.count += 1
        self._loss.ended = record.captured_at
        self._loss.msg_ids.extend(message_ids(record))

    def take_loss_gap(self) -> EventRecord | None:
        """The loss since the last call as a gap record, queued ahead of everything; None if none."""
        loss, self._loss = self._loss, None
        if loss is None:
            return None
        gap = gap_record(
            started=loss.started, ended=loss.ended, reason="overflow",
            detail=f"{loss.count} events could neither be queued in memory nor spilled to disk ({loss.why})",
            extra={"events_lost": loss.count, "msg_ids": loss.msg_ids},
        )  # fmt: skip
        self.loss_gaps += 1
        self.put_urgent(gap)
        return gap

    def recover(self) -> int:
        """Queue, in place, what an earlier run of this session left in its spill files; returns how many."""
        self._dir_may_exist = True
        legacy = [self.spill_dir.with_name(self.spill_dir.name + suffix) for suffix in (".drained", ".spill")]
        found = sorted(self.spill_dir.glob(f"*{SEGMENT_SUFFIX}")) if self.spill_dir.is_dir() else []
        recovered = 0
        for path in [p for p in legacy if p.exists()] + found:
            segment = _count_segment(path)
            if segment is None:
                continue
            with contextlib.suppress(ValueError):
                self._next_segment = max(self._next_segment, int(path.stem) + 1)
            if segment.pending == 0:
                path.unlink(missing_ok=True)
                continue
            self._segments.append(segment)
            recovered += segment.pending
        if recovered:
            self._ready.set()
            log.warning("recovered %d spilled events from %s", recovered, self.spill_dir)
        return recovered

    def oldest_pending(self) -> datetime | None:
        """Capture time of the first event still waiting in a spill file."""
        return self._segments[0].first if self._segments else None

    def acknowledge(self) -> None:
        """The writer committed every batch handed out so far: drained segments can go."""
        self.committed_seq = self._handed_seq
        for path in self._unlink_on_ack:
            path.unlink(missing_ok=True)
        self._unlink_on_ack.clear()
        if not self._segments and self._dir_may_exist:
            try:
                self.spill_dir.rmdir()  # only when empty
            except FileNotFoundError:
                self._dir_may_exist = False
            except OSError:
                pass
            else:
                self._dir_may_exist = False

    def close(self) -> None:
        """No more events will be put; get_batch returns [] once everything has been taken."""
        self._closed = True
        self._ready.set()

    async def get_batch(self, max_items: int) -> list[EventRecord]:
        """Up to max_items records in arrival order (gap records first); waits unless closed."""
        while True:
            self._handed_from_file = False
            if self._urgent:
                return [self._urgent.popleft() for _ in range(min(max_items, len(self._urgent)))]
            if self._memory:
                return self._take(self._memory, max_items)
            if self._segments:
                self._handed_from_file = True
                return self._read_spilled(max_items)
            if self._after_segments:
                self._memory, self._after_segments = self._after_segments, self._memory
                continue
            if self._closed:
                return []
            self._ready.clear()
            await self._ready.wait()

    def _read_spilled(self, max_items: int) -> list[EventRecord]:
        segment = self._segments[0]
        batch: list[EventRecord] = []
        try:
            if self._reader is None:
                self._reader = segment.path.open("rb")
                read_header(self._reader)
            for record in read_records(self._reader):
                if record.type is RecordType.EVENT:
                    batch.append(event_from_json(record.payload))
                    if len(batch) >= min(max_items, segment.pending):
                        break
        except (CaptureFileError, OSError, ValueError) as error:
            log.error("spill file %s unreadable after %d events: %s", segment.path, len(batch), error)
        segment.pending -= len(batch)
        if batch and segment.next_seq:
            segment.next_seq += len(batch)
            self._handed_seq = segment.next_seq - 1
        if segment.pending <= 0 or not batch:
            self._segment_done(segment)
        return batch

    def _take(self, queue: deque[tuple[int, EventRecord]], max_items: int) -> list[EventRecord]:
        taken = [queue.popleft() for _ in range(min(max_items, len(queue)))]
        self._handed_seq = taken[-1][0]
        return [record for _, record in taken]

    def _segment_done(self, segment: Segment) -> None:
        """Stop reading the head segment; events it should have held but did not are a loss."""
        if segment.pending > 0 and segment.first is not None and segment.last is not None:
            self.lost_total += segment.pending
            self.put_urgent(gap_record(
                started=segment.first, ended=segment.last, reason="overflow",
                detail=f"{segment.pending} spilled events could not be read back from {segment.path}",
                extra={"events_lost": segment.pending},
            ))  # fmt: skip
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._segments.popleft()
        if not self._segments:
            self._close_writer()
        self._unlink_on_ack.append(segment.path)
        log.info("spill file %s drained", segment.path)

    def park(self, in_flight: Sequence[EventRecord]) -> tuple[int, int]:
        """Put everything held only in memory into the spill folder, in order, for whoever resumes or
        adopts the session (this process exits unsealed); returns (events written, events lost).

        `in_flight` is the batch the writer was storing: written again unless it was read from a segment
        (that file stays until a commit is acknowledged). Memory and urgent records were received before
        every segment on disk, events held while spilling failed after them.
        """
        self._close_writer()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        ahead = [] if self._handed_from_file else list(in_flight)
        ahead += [*self._urgent, *(record for _, record in self._memory)]
        behind = [record for _, record in self._after_segments]
        self._urgent.clear()
        self._memory.clear()
        self._after_segments.clear()
        on_disk = sorted(self.spill_dir.glob(f"*{SEGMENT_SUFFIX}")) if self.spill_dir.is_dir() else []
        first = on_disk[0].name.removesuffix(SEGMENT_SUFFIX) if on_disk else f"{self._next_segment:06d}"
        written = lost = 0
        for name, records in ((first + PARKED_AHEAD, ahead), (f"{self._next_segment:06d}", behind)):
            done = self._write_segment(self.spill_dir / f"{name}{SEGMENT_SUFFIX}", records)
            written, lost = written + done, lost + len(records) - done
        self.lost_total += lost
        return written + self.pending_in_files, lost

    def _write_segment(self, path: Path, records: Sequence[EventRecord]) -> int:
        """Append records to a spill file; how many it took before the disk refused."""
        if not records:
            return 0
        done = 0
        writer = None
        self._dir_may_exist = True
        try:
            writer = CaptureFileWriter(path, {"purpose": "spill", "parked": True})
            for record in records:
                writer.write_event(record)
                done += 1
        except (OSError, ValueError) as error:
            log.error("cannot park %d events in %s: %s", len(records) - done, path, error)
        finally:
            if writer is not None:
                writer.close()
        return done


def write_parked_note(spill_dir: Path, note: dict[str, Any]) -> None:
    """Why a session was left unsealed with its events in the spill folder (read by whoever adopts it)."""
    with contextlib.suppress(OSError):
        spill_dir.mkdir(parents=True, exist_ok=True)
        (spill_dir / PARKED_NOTE).write_text(json.dumps(note, default=str, indent=1) + "\n")


def read_parked_note(spill_dir: Path) -> dict[str, Any] | None:
    try:
        note: dict[str, Any] = json.loads((spill_dir / PARKED_NOTE).read_text())
    except (OSError, ValueError):
        return None
    return note


def clear_parked_note(spill_dir: Path) -> None:
    """Once the parked events are stored: the note goes, and the folder if nothing else is in it."""
    with contextlib.suppress(OSError):
        (spill_dir / PARKED_NOTE).unlink(missing_ok=True)
        spill_dir.rmdir()


def message_ids(record: EventRecord) -> list[str]:
    """The TikTok message ids a record stands for (a gift streak stands for all of its frames)."""
    streak = (record.data or {}).get("streak")
    if streak:
        return [str(m) for m in streak.get("msg_ids", [])]
    return [] if record.msg_id is None else [str(record.msg_id)]


def _count_segment(path: Path) -> Segment | None:
    """How many whole events a spill file holds, and their time span; None if it cannot be read."""
    segment = Segment(path, 0)
    try:
        with path.open("rb") as handle:
            read_header(handle)
            for record in read_records(handle):
                if record.type is RecordType.EVENT:
                    segment.pending += 1
                    segment.first = segment.first or record.captured_at
                    segment.last = record.captured_at
    except (CaptureFileError, OSError, ValueError) as error:
        log.error("ignoring unreadable spill file %s: %s", path, error)
        return None
    return segment
