"""The live's video: a live FLV (H.264) stream of a test pattern with a running clock, made with PyAV.

PyAV is the `video` extra: imported where a stream is encoded, so the simulator runs without it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import AsyncIterator, Callable
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import av

QUALITIES = {"origin": (320, 180), "hd": (320, 180), "sd": (256, 144), "ld": (160, 96)}
FPS = 10
STRIP_HEIGHT = 24  # the dark band the UTC clock is drawn on
# Machine-readable code at the top of every frame: a row of blocks for the frame counter (16 bits) and a
# row for the moment the frame was drawn (milliseconds, 24 bits): tests read them back from decoded frames
# (`read_code`) to see frames advance and to measure glass-to-glass latency.
CODE_ROW_HEIGHT = 12
COUNTER_BITS, CLOCK_BITS = 16, 24
BARS = [(235, 128, 128), (210, 16, 146), (170, 166, 16), (145, 54, 34), (106, 202, 222), (81, 90, 240), (41, 240, 110)]
DIGITS = {  # 3x5 pixel font
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001001001001",
    "8": "111101111101111",
    "9": "111101111001111",
    ":": "000010000010000",
    ".": "000000000000010",
}


class _Sink:
    """A write-only file object collecting what the muxer writes (not seekable, like a socket)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


class FlvEncoder:
    """Encodes frames of the test pattern into FLV bytes, chunk by chunk."""

    def __init__(self, width: int, height: int, fps: int = FPS) -> None:
        import av

        self.width, self.height, self.fps = width, height, fps
        self._sink = _Sink()
        self._container = av.open(self._sink, mode="w", format="flv")
        stream = self._container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(fps * 2)}
        self._stream = stream
        self._index = 0

    def encode(self, frames: int, clock: Callable[[], float] = time.time) -> bytes:
        """Encode the next N frames; returns the FLV bytes produced so far."""
        for _ in range(frames):
            frame = self._frame(clock())
            frame.pts = self._index
            frame.time_base = Fraction(1, self.fps)
            self._index += 1
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        return self._sink.take()

    def close(self) -> bytes:
        """Flush the encoder and close the container."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._sink.take()

    def _frame(self, now: float) -> av.VideoFrame:
        import av

        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        shift = self._index % self.width
        for plane_index, plane in enumerate(frame.planes):
            width = self.width if plane_index == 0 else self.width // 2
            height = self.height if plane_index == 0 else self.height // 2
            bar = max(1, width // len(BARS))
            offset = shift * width // self.width
            row = bytearray(BARS[((x + offset) // bar) % len(BARS)][plane_index] for x in range(width))
            row += bytes(plane.line_size - width)
            data = bytearray(bytes(row) * height)
            strip = STRIP_HEIGHT if plane_index == 0 else STRIP_HEIGHT // 2
            data[(height - strip) * plane.line_size :] = bytes([16 if plane_index == 0 else 128]) * (
                strip * plane.line_size
            )
            if plane_index == 0:
                stamp = time.strftime("%H:%M:%S", time.gmtime(now)) + f".{int(now * 10) % 10}"
                _draw_text(data, plane.line_size, stamp, x=4, y=height - STRIP_HEIGHT + 4, scale=3)
                _draw_code(data, plane.line_size, width, 0, self._index % (1 << COUNTER_BITS), COUNTER_BITS)
                drawn_ms = int(now * 1000) % (1 << CLOCK_BITS)
                _draw_code(data, plane.line_size, width, CODE_ROW_HEIGHT, drawn_ms, CLOCK_BITS)
            else:  # grey under both code rows (chroma rows are half as many)
                data[: CODE_ROW_HEIGHT * plane.line_size] = bytes([128]) * (CODE_ROW_HEIGHT * plane.line_size)
            plane.update(bytes(data))
        return frame


def _draw_code(data: bytearray, stride: int, width: int, top: int, value: int, bits: int) -> None:
    """`value` as `bits` black/white blocks across one code row (most significant bit first)."""
    block = width // bits
    for bit in range(bits):
        luma = 235 if value >> (bits - 1 - bit) & 1 else 16
        for y in range(top, top + CODE_ROW_HEIGHT):
            start = y * stride + bit * block
            data[start : start + block] = bytes([luma]) * block


def read_code(frame: av.VideoFrame) -> tuple[int, int]:
    """The frame counter and the drawing moment (ms modulo 2**24) a decoded test-pattern frame carries."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    luma, stride, width = bytes(frame.planes[0]), frame.planes[0].line_size, frame.width

    def row(top: int, bits: int) -> int:
        block, value, y = width // bits, 0, top + CODE_ROW_HEIGHT // 2
        for bit in range(bits):
            value = value << 1 | int(luma[y * stride + bit * block + block // 2] > 128)
        return value

    return row(0, COUNTER_BITS), row(CODE_ROW_HEIGHT, CLOCK_BITS)


def clock_code_age_ms(drawn_ms: int, now: float | None = None) -> int:
    """Milliseconds since a frame carrying `drawn_ms` was drawn (the code wraps every ~4.6 hours)."""
    now_ms = int((time.time() if now is None else now) * 1000) % (1 << CLOCK_BITS)
    return (now_ms - drawn_ms) % (1 << CLOCK_BITS)


def _draw_text(data: bytearray, stride: int, text: str, *, x: int, y: int, scale: int) -> None:
    for char_index, char in enumerate(text):
        glyph = DIGITS.get(char)
        if glyph is None:
            continue
        left = x + char_index * 4 * scale
        for bit, on in enumerate(glyph):
            gx, gy = bit % 3, bit // 3
            value = 255 if on == "1" else 16
            for dy in range(scale):
                start = (y + gy * scale + dy) * stride + left + gx * scale
                if start >= 0 and start + scale <= len(data):
                    data[start : start + scale] = bytes([value]) * scale


def video_available() -> bool:
    """Whether PyAV (the `video` extra) is installed, so the FLV stream can be encoded."""
    return importlib.util.find_spec("av") is not None


async def flv_stream(quality: str, is_live: Callable[[], bool]) -> AsyncIterator[bytes]:
    """A live FLV stream, paced in real time, until the live ends or the client leaves."""
    width, height = QUALITIES.get(quality, QUALITIES["origin"])
    encoder = FlvEncoder(width, height)
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent_frames = 0
    while is_live():
        due = int((loop.time() - start) * FPS) + 1 - sent_frames
        if due > 0:
            chunk = await asyncio.to_thread(encoder.encode, due)
            sent_frames += due
            if chunk:
                yield chunk
        await asyncio.sleep(1 / FPS)
    yield encoder.close()
