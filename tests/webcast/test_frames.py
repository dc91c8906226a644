from __future__ import annotations

import gzip

import pytest

from scis.simulator.messages import MessageFactory
from scis.simulator.scenario import SimUser
from scis.webcast import webcast_pb2 as pb
from scis.webcast.events import iter_events
from scis.webcast.frames import (
    MalformedFrame,
    ack_frame,
    build_response,
    decode,
    decode_frame,
    enter_room_frame,
    heartbeat_frame,
    msg_frame,
    new_enter_unique_id,
    raw_messages,
)

ROOM_ID = 7300000000000000123
ALICE = SimUser(id=6811000000000000001, handle="alice_k", nickname="Alice")


def _response(*messages: pb.Message) -> pb.WebcastResponse:
    return build_response(list(messages), cursor="t-1_r-1", internal_ext="seq:1", now_ms=1, need_ack=True)


@pytest.mark.parametrize("compress", [True, False])
def test_msg_frame_round_trip(compress: bool) -> None:
    message = MessageFactory(ROOM_ID).chat(ALICE, "hello")
    data = msg_frame(_response(message), log_id=42, seq_id=7, compress=compress)

    frame, response = decode(data)

    assert frame.log_id == 42 and frame.seq_id == 7 and frame.payload_type == "msg"
    assert (frame.headers.get("compress_type") == "gzip") is compress
    assert frame.payload[:2] == b"\x1f\x8b" if compress else frame.payload == _response(message).SerializeToString()
    assert response is not None and response.need_ack and response.cursor == "t-1_r-1"
    assert list(response.messages) == [message]


def test_gzip_said_by_payload_encoding_is_honoured() -> None:
    payload = gzip.compress(_response().SerializeToString())
    data = pb.PushFrame(payload_type="msg", payload_encoding="gzip", payload=payload).SerializeToString()

    _, response = decode(data)

    assert response is not None and response.internal_ext == "seq:1"


def test_garbage_is_malformed_and_keeps_its_bytes() -> None:
    data = b"\xff\xff\xff\xff\x0fnot a push frame"
    with pytest.raises(MalformedFrame) as caught:
        decode(data)
    assert caught.value.raw == data and "push frame" in caught.value.reason


def test_corrupt_gzip_is_malformed_and_keeps_the_whole_frame() -> None:
    data = pb.PushFrame(
        payload_type="msg", headers={"compress_type": "gzip"}, payload=b"\x1f\x8b\x08\x00broken"
    ).SerializeToString()
    with pytest.raises(MalformedFrame) as caught:
        decode(data)
    assert caught.value.raw == data and "gzip" in caught.value.reason


def test_non_msg_frames_carry_no_response() -> None:
    frame, response = decode(pb.PushFrame(payload_type="hb").SerializeToString())
    assert frame.payload_type == "hb" and response is None


def test_the_enter_room_answer_carries_a_fetch_result() -> None:
    result = pb.WebcastResponse(cursor="r-7", internal_ext="seq:7")
    raw = pb.PushFrame(payload_type="im_enter_room_resp", payload=result.SerializeToString()).SerializeToString()
    frame, response = decode(raw)
    assert frame.payload_type == "im_enter_room_resp" and response == result


def test_client_frames() -> None:
    enter = decode_frame(enter_room_frame(ROOM_ID, enter_unique_id=7_123_456_789_012_345_678))
    assert enter.payload_type == "im_enter_room"
    message = pb.EnterRoomMessage.FromString(enter.payload)
    assert message == pb.EnterRoomMessage(
        room_id=ROOM_ID,
        live_id=12,
        identity="audience",
        account_type=0,
        enter_unique_id=7_123_456_789_012_345_678,
        filter_welcome_msg="0",
    )
    assert message.HasField("account_type")  # on the wire even though it is 0, as the web client sends it
    assert new_enter_unique_id() != new_enter_unique_id() and new_enter_unique_id() > 0
    heartbeat = decode_frame(heartbeat_frame(ROOM_ID, 3))
    assert (heartbeat.payload_type, heartbeat.payload_encoding) == ("hb", "pb")
    assert pb.HeartbeatMessage.FromString(heartbeat.payload).send_packet_seq_id == 3
    ack = decode_frame(ack_frame(99, "internal_src:dim|seq:5"))
    assert (ack.payload_type, ack.log_id, ack.payload) == ("ack", 99, b"internal_src:dim|seq:5")


def test_raw_envelopes_are_kept_exactly_with_unknown_fields() -> None:
    chat = MessageFactory(ROOM_ID).chat(ALICE, "hi")
    # field 99 (varint 5) is in no schema: it must survive both the raw slice and a re-serialization
    envelope_bytes = chat.SerializeToString() + b"\x98\x06\x05"
    payload = b"\x0a" + _varint(len(envelope_bytes)) + envelope_bytes + b"\x12\x03t-1"

    assert raw_messages(payload) == [envelope_bytes]
    (event,) = iter_events(payload)
    assert event.raw == envelope_bytes
    assert event.body == "hi"
    parsed = pb.WebcastResponse.FromString(payload)
    assert parsed.messages[0].SerializeToString().endswith(b"\x98\x06\x05")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def test_a_gzip_bomb_is_refused_as_malformed_keeping_the_bytes() -> None:
    from scis.webcast import frames

    bomb = gzip.compress(b"\x00" * (frames.MAX_PAYLOAD_BYTES + 1024), mtime=0)
    frame = pb.PushFrame(payload_type="msg", payload=bomb, headers={"compress_type": "gzip"})
    raw = frame.SerializeToString()
    assert len(raw) < 100_000
    with pytest.raises(frames.MalformedFrame, match="more than") as caught:
        frames.frame_payload(frame, raw)
    assert caught.value.raw == raw


def test_a_truncated_gzip_payload_is_malformed() -> None:
    from scis.webcast import frames

    whole = gzip.compress(b"hello webcast" * 100, mtime=0)
    frame = pb.PushFrame(payload_type="msg", payload=whole[: len(whole) // 2], headers={"compress_type": "gzip"})
    with pytest.raises(frames.MalformedFrame, match="bad gzip payload"):
        frames.frame_payload(frame)
