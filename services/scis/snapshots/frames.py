"""One still frame of a live, as JPEG: the first keyframe of its stream or of a recorded segment.

Only that keyframe is decoded (PyAV), and encoded with FFmpeg's MJPEG encoder, so no image library
is needed. A live's FLV stream starts at a keyframe (its first video tag follows the sequence
header); a recorded segment's playable copy starts at one because segments are cut at keyframes.
"""

from __future__ import annotations

import io
from fractions import Fraction

import av

OPEN_TIMEOUT_SECONDS = 10
MAX_PACKETS = 600  # a stream with no keyframe in this many packets gives no frame


class NoFrame(Exception):
    """No frame could be decoded; the message says why."""


def jpeg_of(frame: av.VideoFrame) -> bytes:
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = frame.width, frame.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    picture = frame.reformat(format="yuvj420p")
    picture.pts = 0
    return b"".join(bytes(packet) for packet in [*encoder.encode(picture), *encoder.encode(None)])


def first_keyframe(container: av.container.InputContainer) -> av.VideoFrame:
    if not container.streams.video:
        raise NoFrame("the stream has no video")
    stream = container.streams.video[0]
    seen_keyframe = False
    for count, packet in enumerate(container.demux(stream)):
        if count >= MAX_PACKETS:
            break
        seen_keyframe = seen_keyframe or bool(packet.is_keyframe)
        if not seen_keyframe:
            continue
        for frame in packet.decode():
            return frame
    raise NoFrame(f"no decodable keyframe in the first {MAX_PACKETS} packets")


def still_from_stream(url: str) -> bytes:
    """JPEG of the live's current picture, read from its FLV URL."""
    try:
        with av.open(url, mode="r", format="flv", timeout=OPEN_TIMEOUT_SECONDS) as container:
            return jpeg_of(first_keyframe(container))
    except av.error.FFmpegError as error:
        raise NoFrame(f"cannot read the live stream: {error}") from None


def still_from_recording(mp4: bytes) -> bytes:
    """JPEG of the first picture of a recorded segment's playable copy."""
    try:
        with av.open(io.BytesIO(mp4), mode="r", format="mp4") as container:
            return jpeg_of(first_keyframe(container))
    except av.error.FFmpegError as error:
        raise NoFrame(f"cannot read the recorded segment: {error}") from None
