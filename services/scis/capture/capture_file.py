"""The SCIS capture file: every raw frame a capture received, with its capture time, for replay.

Layout (all integers big-endian):
  magic   8 bytes  b"SCISCAP1"
  header  u32 length + UTF-8 JSON (format version, target, source, room_id, started_at, scis_version)
  records repeated: u8 type | i64 captured_at (microseconds since the Unix epoch, UTC) | u32 length |
          payload | u32 CRC-32 of everything before it in the record
Record types: 1 push frame (a WebSocket binary message as received), 2 fetch result (an im/fetch
body), 3 event (JSON of a normalised event: page events, and the spill file's queued events),
4 gap (JSON: from, to, reason, detail). The file is append-only; a torn last record (a crash while
writing) is detected by its length or CRC and ignored, everything before it stays readable.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from pathlib import Path
from typing import Any, BinaryIO

from scis.evidence.records import EventRecord

MAGIC = b"SCISCAP1"
FORMAT_VERSION = 1
_RECORD_HEAD = struct.Struct(">BqI")
_CRC = struct.Struct(">I")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RecordType(IntEnum):
    FRAME = 1
    FETCH = 2
    EVENT = 3
    GAP = 4


class CaptureFileError(Exception):
    """Not a SCIS capture file, or a damaged one; the message says which and where."""


@dataclass(frozen=True, slots=True)
class FileRecord:
    type: RecordType
    captured_at: datetime
    payload: bytes
    offset: int


def to_micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def encode_record(kind: RecordType, captured_at: datetime, payload: bytes) -> bytes:
    head = _RECORD_HEAD.pack(int(kind), to_micros(captured_at), len(payload))
    return head + payload + _CRC.pack(zlib.crc32(payload, zlib.crc32(head)))


class CaptureFileWriter:
    """Appends records; each one reaches the file at once, so a reader (replay, spill drain) sees it.

    Unbuffered on purpose: a failed append (disk full) is reported by the call that made it and cut
    off again, so the file ends at its last whole record and nothing written later is silently lost.
    """

    def __init__(self, path: Path, header: dict[str, Any] | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = path.open("ab", buffering=0)
        self.size = self._file.seek(0, 2)
        self.records = 0
        if self.size == 0:
            body = json.dumps({"format": FORMAT_VERSION, **(header or {})}, default=str).encode()
            try:
                self._append(MAGIC + struct.pack(">I", len(body)) + body)
            except OSError:
                self.close()
                raise

    def write(self, kind: RecordType, captured_at: datetime, payload: bytes) -> None:
        self._append(encode_record(kind, captured_at, payload))
        self.records += 1

    def write_event(self, record: EventRecord) -> None:
        self.write(RecordType.EVENT, record.captured_at, event_to_json(record))

    def _append(self, data: bytes) -> None:
        """Write all of `data` or nothing: a partial write is truncated away before the error is raised."""
        view = memoryview(data)
        try:
            while view:
                written = self._file.write(view)
                if not written:
                    raise OSError(errno.ENOSPC, "no byte could be written", str(self.path))
                view = view[written:]
        except (OSError, ValueError):
            with contextlib.suppress(OSError, ValueError):
                self._file.truncate(self.size)
            raise
        self.size += len(data)

    def close(self) -> None:
        if not self._file.closed:
            with contextlib.suppress(OSError):
                self._file.close()


def read_header(handle: BinaryIO) -> dict[str, Any]:
    if handle.read(len(MAGIC)) != MAGIC:
        raise CaptureFileError("not a SCIS capture file (bad magic)")
    (length,) = struct.unpack(">I", handle.read(4))
    try:
        header: dict[str, Any] = json.loads(handle.read(length))
    except ValueError as error:
        raise CaptureFileError(f"damaged capture file header: {error}") from None
    return header


def read_records(handle: BinaryIO) -> Iterator[FileRecord]:
    """Records from the current position until the end or the first torn record."""
    while True:
        offset = handle.tell()
        head = handle.read(_RECORD_HEAD.size)
        if len(head) < _RECORD_HEAD.size:
            return
        kind, micros, length = _RECORD_HEAD.unpack(head)
        payload = handle.read(length)
        crc = handle.read(_CRC.size)
        if len(payload) < length or len(crc) < _CRC.size:
            handle.seek(offset)
            return
        if _CRC.unpack(crc)[0] != zlib.crc32(payload, zlib.crc32(head)) or kind not in RecordType._value2member_map_:
            handle.seek(offset)
            return
        yield FileRecord(RecordType(kind), from_micros(micros), payload, offset)


def open_capture_file(path: Path) -> tuple[dict[str, Any], Iterator[FileRecord]]:
    """The header and an iterator over the records of a capture file."""
    handle = path.open("rb")
    try:
        header = read_header(handle)
    except (CaptureFileError, struct.error):
        handle.close()
        raise CaptureFileError(f"{path}: not a SCIS capture file") from None

    def records() -> Iterator[FileRecord]:
        with handle:
            yield from read_records(handle)

    return header, records()


def event_to_json(record: EventRecord) -> bytes:
    """An EventRecord as JSON that `event_from_json` turns back into an equal record."""
    fields = asdict(record)
    fields["raw"] = None if record.raw is None else base64.b64encode(record.raw).decode()
    fields["captured_at"] = record.captured_at.isoformat()
    fields["server_time"] = None if record.server_time is None else record.server_time.isoformat()
    return json.dumps(fields, separators=(",", ":"), default=str).encode()


def event_from_json(payload: bytes) -> EventRecord:
    fields = json.loads(payload)
    fields["raw"] = None if fields["raw"] is None else base64.b64decode(fields["raw"])
    fields["captured_at"] = datetime.fromisoformat(fields["captured_at"])
    if fields["server_time"] is not None:
        fields["server_time"] = datetime.fromisoformat(fields["server_time"])
    return EventRecord(**fields)
