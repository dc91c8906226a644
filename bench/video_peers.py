"""The other ends of bench/video_bench.py, each in a process of its own so the relay or recorder measured
is not sharing one interpreter (and its GIL) with the stream's encoder or the viewers' decoders:

  python -m bench.video_peers simulator          the simulator's live FLV (prints the stream URL)
  python -m bench.video_peers replay FLV_FILE    the same FLV bytes to every connection, paced in real time
  python -m bench.video_peers viewers N PORT SECONDS MODE
      N aiortc viewers signalling over PORT (one JSON line each way); MODE "ages" decodes every frame and
      reads the simulator's clock code back (prints the ages), "ages-stock" the same with aiortc's own
      jitter buffer, "receive" takes the packets without decoding (a viewer's decoding happens in its
      browser, on another machine)

Each prints one JSON line on stdout when ready (or when done, for viewers) and stops when stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription, rtcrtpreceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket

from scis.capture.video import flv_header_size, next_tag
from scis.simulator import SimulatorServer
from scis.simulator.video import clock_code_age_ms, read_code

WARM_UP_FRAMES = 20  # joining and the first keyframe (2 s at 10 fps) are not the steady state


class MarkerJitterBuffer(JitterBuffer):
    """A frame is complete at its RTP marker bit, as in browsers. aiortc's own buffer releases a frame only
    when the next one's first packet arrives: one frame interval (100 ms at 10 fps) added to every frame."""

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        packets: list[RtpPacket] = []
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]  # type: ignore[operator]
            if packet is None or (packets and packet.timestamp != packets[0].timestamp):
                break
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                return JitterFrame(b"".join(p._data for p in packets), packets[0].timestamp)  # type: ignore[attr-defined]
        return super()._remove_frame(sequence_number)


class NoDecoder:
    def decode(self, encoded_frame: Any) -> list[Any]:
        return []


async def _until_stdin_closes() -> None:
    await asyncio.to_thread(sys.stdin.read)


async def simulator() -> None:
    async with SimulatorServer() as sim:
        room = sim.add_room("bench_video", rate=0)
        print(json.dumps({"url": f"{sim.base_url}/stage/stream-{room.room_id}_origin.flv"}), flush=True)
        await _until_stdin_closes()


def flv_chunks(flv: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """The FLV header, then (timestamp ms, tag bytes) for every tag."""
    start = flv_header_size(flv) or 0
    header, pos, tags = flv[:start], start, []
    while (tag := next_tag(flv, pos)) is not None:
        tags.append((tag.timestamp_ms, flv[pos : pos + tag.size]))
        pos += tag.size
    return header, tags


async def replay(flv_file: str) -> None:
    header, tags = flv_chunks(await asyncio.to_thread(Path(flv_file).read_bytes))

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nConnection: close\r\n\r\n" + header)
            started = time.monotonic()
            for timestamp_ms, data in tags:
                wait = started + timestamp_ms / 1000 - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"url": f"http://127.0.0.1:{port}/live.flv"}), flush=True)
    await _until_stdin_closes()


async def _viewer(port: int, seconds: float, mode: str) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    pc.on("track", lambda track: got.done() or got.set_result(track))
    await pc.setLocalDescription(await pc.createOffer())
    writer.write(json.dumps({"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}).encode() + b"\n")
    answer = json.loads(await reader.readline())
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    track = await asyncio.wait_for(got, 60)
    ages: list[int] = []
    frames = 0
    if mode.startswith("ages"):  # the clock starts at the first picture (the source opened)
        await asyncio.wait_for(track.recv(), 60)  # (a "receive" viewer decodes nothing: no picture comes)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if mode.startswith("ages"):
                frame = await asyncio.wait_for(track.recv(), 30)
                frames += 1
                if frames > WARM_UP_FRAMES:
                    ages.append(clock_code_age_ms(read_code(frame)[1]))
            else:
                await asyncio.sleep(0.5)
    finally:
        writer.close()
        await pc.close()
    return {"ages": ages}


async def viewers(count: int, port: int, seconds: float, mode: str) -> None:
    if mode != "ages-stock":
        rtcrtpreceiver.JitterBuffer = MarkerJitterBuffer  # type: ignore[misc]
    if mode == "receive":
        rtcrtpreceiver.get_decoder = lambda codec: NoDecoder()  # type: ignore[assignment]
    results = await asyncio.gather(*(_viewer(port, seconds, mode) for _ in range(count)))
    print(json.dumps({"ages": [age for r in results for age in r["ages"]], "per_viewer": [r["ages"] for r in results]}))


def main(argv: list[str]) -> None:
    match argv:
        case ["simulator"]:
            asyncio.run(simulator())
        case ["replay", flv_file]:
            asyncio.run(replay(flv_file))
        case ["viewers", count, port, seconds, mode]:
            asyncio.run(viewers(int(count), int(port), float(seconds), mode))
        case _:
            raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
