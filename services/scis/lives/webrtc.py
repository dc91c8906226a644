"""WebRTC to analysts: one source pull and one aiortc MediaRelay per live, shared by every viewer.

The live's H.264 is passed through (no decode, no re-encode): PyAV demuxes the FLV stream, the
`h264_mp4toannexb` filter turns its packets into the Annex B form RTP packetisation wants, and the
relay hands each packet to every viewer's sender. A viewer leaving closes only its own peer
connection; the capture that records the live is another process and never sees viewers. When the
last viewer leaves, the source pull stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, cast
from uuid import UUID

import av
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.bitstream import BitStreamFilterContext

log = logging.getLogger(__name__)

OPEN_TIMEOUT_SECONDS = 10
# A relay that fell behind (a busy process) catches up at the next keyframe: the packets still queued
# are dropped when they hold more than this much media. Viewers then see the present, not a backlog
# that only grows (measured: 30 s behind with the old drop-the-oldest-of-300 rule). The recording
# is another process and never loses anything.
MAX_BACKLOG_SECONDS = 0.5


class LiveVideoTrack(MediaStreamTrack):
    """The live's video as H.264 packets read from its FLV URL by a thread (demux only)."""

    kind = "video"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.packets = 0
        self.decodes = 0  # frames decoded here: stays 0 (passthrough); the bench reads it
        self.skipped = 0  # packets dropped to catch up at a keyframe (the relay fell behind)
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue(maxsize=300)
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None

    async def recv(self) -> av.Packet:  # type: ignore[override]  # packets, not frames: passthrough
        if self.readyState != "live":
            raise MediaStreamError
        if self._thread is None:
            loop = asyncio.get_running_loop()
            self._thread = threading.Thread(target=self._read, args=(loop,), name="live-video", daemon=True)
            self._thread.start()
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        super().stop()
        self._quit.set()

    def _behind(self, keyframe: av.Packet) -> bool:
        """The queue holds more than MAX_BACKLOG_SECONDS of media before this keyframe."""
        oldest = next((p for p in self._queue._queue if p is not None), None)  # type: ignore[attr-defined]
        return oldest is not None and media_seconds(oldest, keyframe) > MAX_BACKLOG_SECONDS

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        def hand_over(item: av.Packet | None) -> None:
            if item is not None and item.is_keyframe and self._behind(item):
                self.skipped += self._queue.qsize()
                while not self._queue.empty():  # start again from this keyframe: a clean picture, now
                    self._queue.get_nowait()
            if self._queue.full():  # a slow relay drops the oldest, never blocks the reader
                self._queue.get_nowait()
            self._queue.put_nowait(item)

        try:
            with av.open(self.url, mode="r", format="flv", timeout=OPEN_TIMEOUT_SECONDS) as container:
                stream = container.streams.video[0]
                annexb = BitStreamFilterContext("h264_mp4toannexb", stream)
                time_base = stream.time_base or Fraction(1, 1000)  # FLV timestamps are milliseconds
                first_pts: int | None = None
                for packet in container.demux(stream):
                    if self._quit.is_set():
                        break
                    for out in annexb.filter(packet):
                        if out.pts is None:
                            continue
                        first_pts = out.pts if first_pts is None else first_pts
                        out.pts -= first_pts
                        out.time_base = time_base
                        self.packets += 1
                        loop.call_soon_threadsafe(hand_over, out)
        except (av.FFmpegError, OSError, IndexError) as error:
            log.warning("live video %s: %s", self.url, error)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop closed first: nobody is waiting for the end
                loop.call_soon_threadsafe(hand_over, None)


def media_seconds(first: av.Packet, last: av.Packet) -> float:
    """Seconds of media from one packet to a later one (0 when either has no timestamp)."""
    if first.pts is None or last.pts is None or last.time_base is None:
        return 0.0
    return float((last.pts - first.pts) * last.time_base)


class ViewerPackets(MediaStreamTrack):
    """One viewer's share of the relay: every packet in order, since a missing one garbles the picture
    until the next keyframe. A viewer whose sender fell more than MAX_BACKLOG_SECONDS behind resumes at
    the newest keyframe it has queued, as the source does for the whole relay."""

    kind = "video"

    def __init__(self, relay: MediaRelay, source: LiveVideoTrack) -> None:
        super().__init__()
        self._proxy = relay.subscribe(source, buffered=True)
        self.skipped = 0

    async def recv(self) -> av.Packet:  # type: ignore[override]
        packet = cast(av.Packet, await self._proxy.recv())
        queued = self._proxy._queue._queue  # type: ignore[attr-defined]  # aiortc's buffered proxy: a Queue
        if queued and queued[-1] is not None and media_seconds(packet, queued[-1]) > MAX_BACKLOG_SECONDS:
            keyframes = [i for i, p in enumerate(queued) if p is not None and p.is_keyframe]
            if keyframes:
                for _ in range(keyframes[-1]):
                    self._proxy._queue.get_nowait()  # type: ignore[attr-defined]
                self.skipped += keyframes[-1] + 1
                packet = self._proxy._queue.get_nowait()  # type: ignore[attr-defined]
        return packet

    def stop(self) -> None:
        super().stop()
        self._proxy.stop()


@dataclass
class LiveRelay:
    """One live's source and relay, and its viewers' peer connections."""

    session_id: UUID
    source: LiveVideoTrack
    relay: MediaRelay = field(default_factory=MediaRelay)
    viewers: dict[str, RTCPeerConnection] = field(default_factory=dict)


class Viewers:
    """Every live's relay in this lives process, keyed by live session."""

    def __init__(self, ice_servers: list[str] | None = None) -> None:
        self.lives: dict[UUID, LiveRelay] = {}
        self.sources_opened = 0  # source pulls started (one per live, whatever the viewers)
        self._config = RTCConfiguration([RTCIceServer(url) for url in ice_servers or []])
        self._lock = asyncio.Lock()

    async def answer(
        self, session_id: UUID, url: str, offer: RTCSessionDescription
    ) -> tuple[str, RTCSessionDescription]:
        """A new viewer of a live: its id and the answer to its offer."""
        async with self._lock:
            live = self.lives.get(session_id)
            if live is None or live.source.readyState != "live":
                live = LiveRelay(session_id, LiveVideoTrack(url))
                self.lives[session_id] = live
                self.sources_opened += 1
        viewer_id = secrets.token_urlsafe(12)
        pc = RTCPeerConnection(self._config)
        live.viewers[viewer_id] = pc

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.leave(session_id, viewer_id)

        # Not aiortc's unbuffered proxy: it keeps only the latest packet, so a sender a moment late lost a
        # P-frame and the viewer saw a garbled picture until the next keyframe (decision 808).
        sender = pc.addTrack(ViewerPackets(live.relay, live.source))
        transceiver = next(t for t in pc.getTransceivers() if t.sender is sender)
        h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"]
        transceiver.setCodecPreferences(h264)  # the live's own codec: passed through, never re-encoded
        try:
            await pc.setRemoteDescription(offer)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            await self.leave(session_id, viewer_id)
            raise
        return viewer_id, pc.localDescription

    async def leave(self, session_id: UUID, viewer_id: str) -> bool:
        """Close one viewer; the last one out stops the source pull. False if there was no such viewer."""
        live = self.lives.get(session_id)
        pc = live.viewers.pop(viewer_id, None) if live else None
        if pc is None or live is None:
            return False
        await pc.close()
        if not live.viewers:
            live.source.stop()
            self.lives.pop(session_id, None)
        return True

    def count(self, session_id: UUID) -> int:
        live = self.lives.get(session_id)
        return len(live.viewers) if live else 0

    def describe(self, session_id: UUID) -> dict[str, Any]:
        live = self.lives.get(session_id)
        return {
            "viewers": len(live.viewers) if live else 0,
            "packets_relayed": live.source.packets if live else 0,
            "decodes": live.source.decodes if live else 0,
            "skipped": live.source.skipped if live else 0,
        }

    async def close(self) -> None:
        for session_id, live in list(self.lives.items()):
            for viewer_id in list(live.viewers):
                await self.leave(session_id, viewer_id)
