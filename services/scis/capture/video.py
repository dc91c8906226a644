"""Recording the live's video as evidence: the FLV bytes exactly as received, cut into segments at
keyframes, each stored once (scis.evidence.media) and chained as a `video_segment` record with its
SHA-256 and capture times; a playable MP4 copy is remuxed by PyAV (no re-encode). A dropped stream is
a `gap` record (media "video"); every connection, and every run of a capture, starts new segments.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import av
import httpx

from scis.evidence.canonical import iso_utc
from scis.evidence.chain import gap_record
from scis.evidence.media import VIDEO_SEGMENT, MediaStore
from scis.evidence.records import EventRecord

log = logging.getLogger(__name__)

FLV_SIGNATURE = b"FLV"
TAG_HEADER = 11
PREVIOUS_TAG_SIZE = 4
AUDIO, VIDEO, SCRIPT = 8, 9, 18
QUALITY_ORDER = ("origin", "hd", "sd", "ld")
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 1.0, 15.0
MAX_SEGMENT_BYTES = 64 * 1024 * 1024  # cut even without a keyframe: memory stays bounded


class NotFlv(ValueError):
    """The stream does not start with an FLV header."""


@dataclass(slots=True)
class FlvTag:
    kind: int
    timestamp_ms: int
    data_head: bytes  # the first bytes of the tag's data (enough to classify it)
    size: int  # the whole tag with its trailing previous-tag-size

    @property
    def is_keyframe(self) -> bool:
        """A video keyframe (not the AVC sequence header)."""
        return (
            self.kind == VIDEO
            and len(self.data_head) >= 2
            and self.data_head[0] >> 4 == 1
            and not (self.data_head[0] & 0x0F == 7 and self.data_head[1] == 0)
        )

    @property
    def is_init(self) -> bool:
        """Metadata or a codec sequence header: needed in front of any later segment to decode it."""
        if self.kind == SCRIPT:
            return True
        if self.kind == VIDEO:
            return len(self.data_head) >= 2 and self.data_head[0] & 0x0F == 7 and self.data_head[1] == 0
        if self.kind == AUDIO:
            return len(self.data_head) >= 2 and self.data_head[0] >> 4 == 10 and self.data_head[1] == 0
        return False


def flv_header_size(data: bytes | bytearray) -> int | None:
    """Bytes of the FLV header and the first previous-tag-size; None until enough arrived; NotFlv if not FLV."""
    if len(data) < 9:
        if not FLV_SIGNATURE.startswith(bytes(data[:3])):
            raise NotFlv(f"the video stream does not start with an FLV header (got {bytes(data[:3])!r})")
        return None
    if bytes(data[:3]) != FLV_SIGNATURE:
        raise NotFlv(f"the video stream does not start with an FLV header (got {bytes(data[:3])!r})")
    return int.from_bytes(data[5:9], "big") + PREVIOUS_TAG_SIZE


def next_tag(data: bytes | bytearray, pos: int) -> FlvTag | None:
    """The complete tag starting at `pos`, or None while it has not fully arrived."""
    if len(data) - pos < TAG_HEADER:
        return None
    size = int.from_bytes(data[pos + 1 : pos + 4], "big")
    total = TAG_HEADER + size + PREVIOUS_TAG_SIZE
    if len(data) - pos < total:
        return None
    timestamp = int.from_bytes(data[pos + 4 : pos + 7], "big") | data[pos + 7] << 24
    head = bytes(data[pos + TAG_HEADER : pos + TAG_HEADER + min(size, 2)])
    return FlvTag(data[pos] & 0x1F, timestamp, head, total)


@dataclass(slots=True)
class Segment:
    """One cut of the bytes as received: where it sits in its connection's byte stream and when."""

    connection: int
    index: int
    offset: int
    data: bytes
    first_byte_at: datetime
    last_byte_at: datetime
    media_from_ms: int | None
    media_to_ms: int | None
    complete: bool  # ends on a tag boundary (a dropped stream may leave half a tag)

    @property
    def whole_tags(self) -> bytes:
        """The bytes up to the end of the last whole tag (what a player can use)."""
        return self.data if self.complete else self.data[: self.whole_length]

    whole_length: int = -1


@dataclass(slots=True)
class FlvSegmenter:
    """Cuts one connection's FLV bytes into segments before the first keyframe `seconds` after the last cut."""

    connection: int
    seconds: float
    first_index: int
    _buffer: bytearray = field(default_factory=bytearray)
    _pos: int = 0  # next unparsed byte in _buffer
    _header_done: bool = False
    _offset: int = 0  # connection offset of _buffer[0]
    _index: int = 0
    _first_at: datetime | None = None
    _last_at: datetime | None = None
    _media_from: int | None = None
    _media_to: int | None = None
    init: bytearray = field(default_factory=bytearray)  # header + metadata + sequence headers

    def feed(self, chunk: bytes, at: datetime) -> list[Segment]:
        """Add received bytes; the segments that closed."""
        self._buffer += chunk
        self._first_at = self._first_at or at
        self._last_at = at
        closed: list[Segment] = []
        if not self._header_done:
            size = flv_header_size(self._buffer)
            if size is None or len(self._buffer) < size:
                return closed
            self.init += self._buffer[:size]
            self._pos, self._header_done = size, True
        while (tag := next_tag(self._buffer, self._pos)) is not None:
            if tag.is_init and self._offset == 0:
                self.init += self._buffer[self._pos : self._pos + tag.size]
            if self._should_cut(tag):
                closed.append(self._cut(self._pos, at))
            self._media_from = tag.timestamp_ms if self._media_from is None else self._media_from
            self._media_to = tag.timestamp_ms
            self._pos += tag.size
        if len(self._buffer) >= MAX_SEGMENT_BYTES:
            closed.append(self._cut(self._pos, at))
        return closed

    def _should_cut(self, tag: FlvTag) -> bool:
        if not tag.is_keyframe or self._media_from is None or self._pos == 0:
            return False
        return tag.timestamp_ms - self._media_from >= self.seconds * 1000

    def _cut(self, at_pos: int, at: datetime) -> Segment:
        assert self._first_at is not None and self._last_at is not None
        segment = Segment(
            connection=self.connection, index=self.first_index + self._index, offset=self._offset,
            data=bytes(self._buffer[:at_pos]), first_byte_at=self._first_at, last_byte_at=at,
            media_from_ms=self._media_from, media_to_ms=self._media_to, complete=True,
        )  # fmt: skip
        self._offset += at_pos
        del self._buffer[:at_pos]
        self._pos -= at_pos
        self._index += 1
        self._first_at, self._media_from, self._media_to = at, None, None
        return segment

    def close(self) -> Segment | None:
        """The last segment: whatever arrived since the last cut (None if nothing did)."""
        if not self._buffer or self._first_at is None or self._last_at is None:
            return None
        whole_length = self._pos
        segment = self._cut(len(self._buffer), self._last_at)
        segment.complete, segment.whole_length = whole_length == len(segment.data), whole_length
        return segment


def remux_to_mp4(flv: bytes) -> bytes:
    """A playable MP4 of FLV bytes, packets copied as they are (no decode, no re-encode)."""
    source = av.open(io.BytesIO(flv), mode="r", format="flv")
    out = io.BytesIO()
    try:
        target = av.open(out, mode="w", format="mp4")
        streams = [s for s in source.streams if s.type in ("video", "audio")]
        mapping = {s.index: target.add_stream_from_template(s) for s in streams}
        try:
            for packet in source.demux(*streams):
                if packet.dts is None:
                    continue
                packet.stream = mapping[packet.stream.index]
                target.mux(packet)
        except (av.error.InvalidDataError, EOFError):
            pass  # damaged data inside the stream: keep what came before it
        target.close()
    finally:
        source.close()
    return out.getvalue()


def choose_url(urls: dict[str, str]) -> tuple[str, str] | None:
    """The best quality the room offers: (quality, FLV URL)."""
    for quality in (*QUALITY_ORDER, *sorted(urls)):
        if quality in urls:
            return quality, urls[quality]
    return None


def segment_record(segment: Segment, *, run: str, quality: str, stored: dict[str, Any]) -> EventRecord:
    """The chain record of a stored segment."""
    data = {
        "run": run, "index": segment.index, "connection": segment.connection, "offset": segment.offset,
        "from": iso_utc(segment.first_byte_at), "to": iso_utc(segment.last_byte_at),
        "media_from_ms": segment.media_from_ms, "media_to_ms": segment.media_to_ms,
        "complete": segment.complete, "quality": quality, **stored,
    }  # fmt: skip
    return EventRecord(kind=VIDEO_SEGMENT, captured_at=segment.last_byte_at, data=data)


class VideoRecorder:
    """Reads the live's FLV stream until stopped, reconnecting after drops; hands chain records to `emit`."""

    def __init__(
        self,
        session_id: UUID,
        urls: dict[str, str],
        store: MediaStore,
        emit: Callable[[EventRecord], None],
        *,
        segment_seconds: float,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        chosen = choose_url(urls)
        if chosen is None:
            raise ValueError("the room gives no video stream URL")
        self.quality, self.url = chosen
        self.session_id = session_id
        self.store = store
        self.emit = emit
        self.segment_seconds = segment_seconds
        # A run id in every key: a restarted capture of the same session never writes an existing key.
        self.run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        self._client = client
        self._stopping = asyncio.Event()
        self._segmenter: FlvSegmenter | None = None
        self.segments = 0
        self.bytes_stored = 0
        self.connections = 0
        self.last_error: str | None = None
        self._down_since: datetime | None = None  # the stream is down since then (a gap when it is back)
        self._last_byte_at: datetime | None = None
        self._delivered = False  # the current connection delivered bytes

    def key(self, index: int, suffix: str) -> str:
        return f"{self.session_id}/{self.run_id}/{index:05d}.{suffix}"

    async def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Record until `stop()`; the segment being written when stopped is stored before returning."""
        client = self._client or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        retry = RETRY_FIRST_SECONDS
        try:
            await asyncio.to_thread(self.store.prepare)  # the capture creates its bucket on first use
            while not self._stopping.is_set():
                delivered = False
                try:
                    delivered = await self._connection(client)
                except (httpx.HTTPError, OSError, ValueError) as error:
                    self.last_error = str(error) or type(error).__name__
                    log.warning("video of session %s: %s", self.session_id, self.last_error)
                await self._close_segment()
                if self._stopping.is_set():
                    break
                if self._down_since is None:
                    self._down_since = self._last_byte_at or datetime.now(UTC)
                retry = RETRY_FIRST_SECONDS if delivered else min(retry * 2, RETRY_MAX_SECONDS)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), retry * random.uniform(0.8, 1.2))
            if self._down_since is not None:
                self._emit_gap(self._down_since, datetime.now(UTC), "capture ended while the video stream was down")
        finally:
            if self._client is None:
                await client.aclose()

    async def _connection(self, client: httpx.AsyncClient) -> bool:
        """One connection to the stream until it ends or `stop()`; True if it delivered bytes."""
        async with client.stream("GET", self.url) as response:
            if response.status_code != 200:
                raise ValueError(f"video stream answered HTTP {response.status_code}")
            self.connections += 1
            self._segmenter = FlvSegmenter(self.connections, self.segment_seconds, self.segments)
            reading = asyncio.create_task(self._read(response, self._segmenter))
            stopping = asyncio.create_task(self._stopping.wait())
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not reading.done():
                reading.cancel()
            try:
                await reading
            except asyncio.CancelledError:
                if not self._stopping.is_set():
                    raise
            return self._delivered

    async def _read(self, response: httpx.Response, segmenter: FlvSegmenter) -> None:
        self._delivered = False
        async for chunk in response.aiter_raw():
            now = self._last_byte_at = datetime.now(UTC)
            if self._down_since is not None:
                self._emit_gap(self._down_since, now, "video stream dropped; reconnected")
                self._down_since = None
            self._delivered = True
            for segment in segmenter.feed(chunk, now):
                await self._store(segment)

    def _emit_gap(self, started: datetime, ended: datetime, detail: str) -> None:
        extra = {"media": "video", "error": self.last_error} if self.last_error else {"media": "video"}
        self.emit(gap_record(started=started, ended=ended, reason="disconnect", detail=detail, extra=extra))

    async def _close_segment(self) -> None:
        if self._segmenter is None:
            return
        segmenter, self._segmenter = self._segmenter, None
        if (segment := segmenter.close()) is not None:
            await self._store(segment, init=bytes(segmenter.init))

    async def _store(self, segment: Segment, init: bytes | None = None) -> None:
        init = init if init is not None else bytes(self._segmenter.init) if self._segmenter else b""
        stored = await asyncio.to_thread(self._write, segment, init)
        self.segments = segment.index + 1
        self.bytes_stored += len(segment.data)
        self.emit(segment_record(segment, run=self.run_id, quality=self.quality, stored=stored))

    def _write(self, segment: Segment, init: bytes) -> dict[str, Any]:
        """Store the raw bytes and the playable copy; what the chain record says of them."""
        raw_key = self.key(segment.index, "flv")
        self.store.put(raw_key, segment.data)
        stored: dict[str, Any] = {
            "raw": {"key": raw_key, "sha256": hashlib.sha256(segment.data).hexdigest(), "bytes": len(segment.data)}
        }
        playable_source = segment.whole_tags if segment.offset == 0 else init + segment.whole_tags
        try:
            mp4 = remux_to_mp4(playable_source)
        except (av.error.FFmpegError, ValueError) as error:
            stored["playable"] = None
            stored["playable_error"] = str(error)
            return stored
        mp4_key = self.key(segment.index, "mp4")
        self.store.put(mp4_key, mp4)
        prepended = 0 if segment.offset == 0 else len(init)
        stored["playable"] = {"key": mp4_key, "sha256": hashlib.sha256(mp4).hexdigest(), "bytes": len(mp4),
                              "format": "mp4", "init_bytes_prepended": prepended}  # fmt: skip
        return stored
