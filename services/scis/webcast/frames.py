"""Push frames: decode what TikTok sends, build what each side sends."""

from __future__ import annotations

import gzip
import secrets
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage

from scis.webcast import webcast_pb2 as pb

GZIP_MAGIC = b"\x1f\x8b"
PAYLOAD_MSG = "msg"
PAYLOAD_ENTER_ROOM = "im_enter_room"
PAYLOAD_ENTER_ROOM_RESP = "im_enter_room_resp"  # the server's answer to the enter-room: a fetch result
PAYLOAD_WITH_RESULT = frozenset({PAYLOAD_MSG, PAYLOAD_ENTER_ROOM_RESP})
PAYLOAD_HEARTBEAT = "hb"
PAYLOAD_ACK = "ack"
WEB_LIVE_ID = 12


class MalformedFrame(Exception):
    """A WebSocket message that is not a valid push frame; ``raw`` holds its exact bytes."""

    def __init__(self, raw: bytes, reason: str) -> None:
        super().__init__(f"malformed frame ({len(raw)} bytes): {reason}")
        self.raw = bytes(raw)
        self.reason = reason


def decode_frame(data: bytes) -> pb.PushFrame:
    """Parse one WebSocket binary message into a PushFrame."""
    frame = pb.PushFrame()
    try:
        frame.ParseFromString(data)
    except DecodeError as exc:
        raise MalformedFrame(data, f"not a push frame: {exc}") from exc
    return frame


MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
"""Far above any fetch result TikTok sends (tens of kilobytes), far below what would exhaust memory."""


def is_gzipped(frame: pb.PushFrame) -> bool:
    """True when the header, the encoding or the payload's magic says gzip."""
    return (
        frame.headers.get("compress_type", "").lower() == "gzip"
        or frame.payload_encoding.lower() == "gzip"
        or frame.payload[:2] == GZIP_MAGIC
    )


def frame_payload(frame: pb.PushFrame, raw: bytes = b"") -> bytes:
    """The frame's payload, gunzipped when compressed."""
    if not is_gzipped(frame):
        return frame.payload
    # A few kilobytes of gzip can unpack to gigabytes: unpack at most MAX_PAYLOAD_BYTES.
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        payload = inflater.decompress(frame.payload, MAX_PAYLOAD_BYTES + 1)
    except zlib.error as exc:
        raise MalformedFrame(raw or frame.SerializeToString(), f"bad gzip payload: {exc}") from exc
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MalformedFrame(
            raw or frame.SerializeToString(), f"gzip payload unpacks to more than {MAX_PAYLOAD_BYTES} bytes"
        )
    if not inflater.eof:
        raise MalformedFrame(raw or frame.SerializeToString(), "bad gzip payload: truncated stream")
    return payload


def parse_response(payload: bytes, raw: bytes = b"") -> pb.WebcastResponse:
    """Parse a (decompressed) fetch result."""
    response = pb.WebcastResponse()
    try:
        response.ParseFromString(payload)
    except DecodeError as exc:
        raise MalformedFrame(raw or payload, f"not a fetch result: {exc}") from exc
    return response


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A push frame decoded once: the frame, and for a frame with a fetch result its (gunzipped) payload
    and the parsed result, so that nothing downstream decodes the same bytes again."""

    frame: pb.PushFrame
    payload: bytes | None = None
    response: pb.WebcastResponse | None = None


def decode_push(data: bytes) -> DecodedFrame:
    """Decode a WebSocket message; the fetch result is parsed for ``msg`` and ``im_enter_room_resp`` frames."""
    frame = decode_frame(data)
    if frame.payload_type not in PAYLOAD_WITH_RESULT:
        return DecodedFrame(frame)
    payload = frame_payload(frame, data)
    return DecodedFrame(frame, payload, parse_response(payload, data))


def decode(data: bytes) -> tuple[pb.PushFrame, pb.WebcastResponse | None]:
    """`decode_push` as (frame, fetch result or None)."""
    decoded = decode_push(data)
    return decoded.frame, decoded.response


def raw_messages(payload: bytes) -> list[bytes]:
    """The exact bytes of every Message envelope (field 1) in a serialized fetch result."""
    found: list[bytes] = []
    pos, end = 0, len(payload)
    while pos < end:
        key = payload[pos]  # a one-byte varint (field numbers below 16) without a call
        if key < 0x80:
            pos += 1
        else:
            key, pos = _varint(payload, pos)
        field_number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, pos = _varint(payload, pos)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        elif wire_type == 2:
            # Lengths below 16 KiB (nearly every message) without a call either.
            length = payload[pos] if pos < end else 0x80
            if length < 0x80:
                pos += 1
            elif pos + 1 < end and payload[pos + 1] < 0x80:
                length = (length & 0x7F) | payload[pos + 1] << 7
                pos += 2
            else:
                length, pos = _varint(payload, pos)
            if field_number == 1:
                found.append(payload[pos : pos + length])
            pos += length
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
    if pos != end:
        raise ValueError("truncated fetch result")
    return found


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


# -- what the client sends ---------------------------------------------------------------------------


def _client_frame(payload_type: str, payload: bytes, *, log_id: int = 0, seq_id: int = 0) -> bytes:
    frame = pb.PushFrame(
        seq_id=seq_id, log_id=log_id, payload_encoding="pb", payload_type=payload_type, payload=payload
    )
    return frame.SerializeToString()


def enter_room_frame(
    room_id: int, *, enter_unique_id: int, identity: str = "audience", live_id: int = WEB_LIVE_ID, cursor: str = ""
) -> bytes:
    """The frame a web client sends right after connecting, with the fields the web client fills in:
    ``account_type`` 0 (an anonymous viewer), a random positive ``enter_unique_id`` per connection,
    ``filter_welcome_msg`` "0" and ``is_anchor_continue_keep_msg`` false."""
    message = pb.EnterRoomMessage(
        room_id=room_id, live_id=live_id, identity=identity, cursor=cursor, account_type=0,
        enter_unique_id=enter_unique_id, filter_welcome_msg="0", is_anchor_continue_keep_msg=False,
    )  # fmt: skip
    return _client_frame(PAYLOAD_ENTER_ROOM, message.SerializeToString())


def new_enter_unique_id() -> int:
    """A random positive 63-bit id for one connection's enter-room."""
    return secrets.randbelow(2**63 - 1) + 1


def heartbeat_frame(room_id: int, send_packet_seq_id: int = 0) -> bytes:
    """A heartbeat frame (``hb``, encoding ``pb``)."""
    message = pb.HeartbeatMessage(room_id=room_id, send_packet_seq_id=send_packet_seq_id)
    return _client_frame(PAYLOAD_HEARTBEAT, message.SerializeToString())


def ack_frame(log_id: int, internal_ext: str) -> bytes:
    """Acknowledge a ``need_ack`` frame: its log_id, the result's internal_ext as payload."""
    return _client_frame(PAYLOAD_ACK, internal_ext.encode(), log_id=log_id)


# -- what the server sends ---------------------------------------------------------------------------


def envelope(method: str, message: ProtoMessage, *, msg_id: int, msg_type: int = 0) -> pb.Message:
    """Wrap one event message in the Message envelope."""
    return pb.Message(method=method, payload=message.SerializeToString(), msg_id=msg_id, msg_type=msg_type)


def build_response(
    messages: list[pb.Message],
    *,
    cursor: str,
    internal_ext: str,
    now_ms: int,
    need_ack: bool = False,
    fetch_interval: int = 1000,
    heartbeat_duration: int = 10_000,
    push_server: str = "",
    route_params: Mapping[str, str] | None = None,
    is_first: bool = False,
) -> pb.WebcastResponse:
    """A fetch result as TikTok shapes it."""
    response = pb.WebcastResponse(
        cursor=cursor,
        fetch_interval=fetch_interval,
        now=now_ms,
        internal_ext=internal_ext,
        fetch_type=1,
        heartbeat_duration=heartbeat_duration,
        need_ack=need_ack,
        push_server=push_server,
        is_first=is_first,
    )
    response.messages.extend(messages)
    response.route_params.update(route_params or {})
    return response


def msg_frame(
    response: pb.WebcastResponse, *, log_id: int, seq_id: int = 0, compress: bool = True,
    payload_type: str = PAYLOAD_MSG,
) -> bytes:  # fmt: skip
    """A push frame carrying a fetch result (``msg``, or ``im_enter_room_resp``), gzipped like TikTok's by default."""
    payload = response.SerializeToString()
    frame = pb.PushFrame(seq_id=seq_id, log_id=log_id, payload_encoding="pb", payload_type=payload_type)
    if compress:
        frame.headers["compress_type"] = "gzip"
        payload = gzip.compress(payload, mtime=0)
    frame.payload = payload
    return frame.SerializeToString()
