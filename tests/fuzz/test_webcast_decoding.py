"""What TikTok sends is untrusted: the decoder either succeeds or says MalformedFrame, keeping the bytes.

Arbitrary bytes and mutated valid frames (built with scis.webcast.frames) go through `decode` and
`iter_events`; generated WebcastEvents go through the normaliser and the evidence canonical form.
Deterministic (derandomised) and bounded so the file runs in seconds.
"""

from __future__ import annotations

import dataclasses
import gzip
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message as ProtoMessage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scis.capture.normalise import to_record
from scis.evidence.canonical import GENESIS_HASH, link, raw_sha256, storable_canonical
from scis.webcast import webcast_pb2 as pb
from scis.webcast.events import KNOWN_METHODS, WebcastEvent, iter_events, to_event
from scis.webcast.frames import (
    MalformedFrame,
    build_response,
    decode,
    envelope,
    frame_payload,
    msg_frame,
    raw_messages,
)

FUZZ = settings(
    max_examples=200,
    derandomize=True,
    deadline=2000,  # a hang shows up as a deadline failure, not a stuck CI job
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
METHOD_TYPES: dict[str, type[ProtoMessage]] = {
    "WebcastChatMessage": pb.ChatMessage,
    "WebcastGiftMessage": pb.GiftMessage,
    "WebcastLikeMessage": pb.LikeMessage,
    "WebcastMemberMessage": pb.MemberMessage,
    "WebcastSocialMessage": pb.SocialMessage,
    "WebcastRoomUserSeqMessage": pb.RoomUserSeqMessage,
    "WebcastControlMessage": pb.ControlMessage,
    "WebcastRoomPinMessage": pb.RoomPinMessage,
    "WebcastEmoteChatMessage": pb.EmoteChatMessage,
}
assert set(METHOD_TYPES) == KNOWN_METHODS, "a new message type needs a strategy here"

# -- protobuf messages with arbitrary field values, driven by the descriptors ----------------------------


def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    """Any integer of the range, the edges (and the edges of time in milliseconds) often."""
    edges = [0, 1, -1, low, high, high // 2, 253_402_300_800_000]  # the last: year 10000, in ms
    return st.sampled_from([edge for edge in edges if low <= edge <= high]) | st.integers(low, high)


_INTS = {
    FieldDescriptor.CPPTYPE_INT32: _integers(-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: _integers(-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: _integers(0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_UINT64: _integers(0, 2**64 - 1),
}
# Text as TikTok may send it: ordinary, digits (ids as strings), NUL, lone surrogates are not valid UTF-8.
_TEXT = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="0123456789²³١٢", min_size=1, max_size=25),
    st.sampled_from(["", "@alice", "\x00", "follow", "share", "9" * 5000]),
)


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.cpp_type in _INTS:
        return _INTS[field.cpp_type]
    if field.cpp_type == FieldDescriptor.CPPTYPE_BOOL:
        return st.booleans()
    if field.cpp_type in (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT):
        return st.floats(width=32)
    if field.cpp_type == FieldDescriptor.CPPTYPE_ENUM:
        return st.sampled_from([value.number for value in field.enum_type.values])
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=16)
    return _TEXT


@st.composite
def proto_message(draw: st.DrawFn, descriptor: Descriptor, depth: int = 0) -> ProtoMessage:
    message_class = _class_of(descriptor)
    message = message_class()
    for field in descriptor.fields:
        if not draw(st.booleans()):
            continue
        repeated = field.is_repeated
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            entries = draw(st.dictionaries(_scalar(key), _scalar(value), max_size=2))
            getattr(message, field.name).update(entries)
        elif field.message_type is not None:
            if depth >= 2:
                continue
            children = draw(st.lists(proto_message(field.message_type, depth + 1), max_size=2 if repeated else 1))
            if repeated:
                getattr(message, field.name).extend(children)
            elif children:
                getattr(message, field.name).CopyFrom(children[0])
        elif repeated:
            getattr(message, field.name).extend(draw(st.lists(_scalar(field), max_size=2)))
        else:
            setattr(message, field.name, draw(_scalar(field)))
    return message


def _class_of(descriptor: Descriptor) -> type[ProtoMessage]:
    return getattr(pb, descriptor.name)  # type: ignore[no-any-return]


@st.composite
def envelopes(draw: st.DrawFn) -> pb.Message:
    """One Message envelope: a known type with arbitrary fields, a known type with garbage, or an unknown type."""
    method = draw(st.sampled_from(sorted(METHOD_TYPES)) | st.text(max_size=20))
    if method in METHOD_TYPES and draw(st.booleans()):
        inner: ProtoMessage = draw(proto_message(METHOD_TYPES[method].DESCRIPTOR))
        return envelope(method, inner, msg_id=draw(_INTS[FieldDescriptor.CPPTYPE_INT64]))
    return pb.Message(method=method, payload=draw(st.binary(max_size=40)), msg_id=draw(st.integers(0, 2**63 - 1)))


@st.composite
def valid_frames(draw: st.DrawFn) -> tuple[bytes, list[pb.Message]]:
    messages = draw(st.lists(envelopes(), max_size=4))
    response = build_response(
        messages,
        cursor=draw(st.text(max_size=8)),
        internal_ext=draw(st.text(max_size=8)),
        now_ms=draw(st.integers(0, 2**63 - 1)),
        need_ack=draw(st.booleans()),
    )
    frame = msg_frame(response, log_id=draw(st.integers(0, 2**64 - 1)), compress=draw(st.booleans()))
    return frame, messages


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few bytes flipped, cut, inserted or appended."""
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "truncate", "insert", "append", "delete"]))
        at = draw(st.integers(0, len(buffer)))
        if action == "flip" and buffer:
            at = min(at, len(buffer) - 1)
            buffer[at] ^= draw(st.integers(1, 255))
        elif action == "truncate":
            del buffer[at:]
        elif action == "insert":
            buffer[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "append":
            buffer += draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and buffer:
            del buffer[at : at + draw(st.integers(1, 8))]
    return bytes(buffer)


# -- properties ------------------------------------------------------------------------------------------


def decode_all(data: bytes) -> list[WebcastEvent] | None:
    """Decode a push frame fully, as the capture does; None when it is not a `msg` frame."""
    try:
        frame, response = decode(data)
    except MalformedFrame as error:
        assert error.raw == data, "a malformed frame keeps its exact bytes"
        return None
    if response is None:
        return None
    payload = frame_payload(frame, data)
    try:
        return list(iter_events(payload))
    except MalformedFrame as error:
        assert error.raw == payload
        return None


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_are_malformed(data: bytes) -> None:
    decode_all(data)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_fetch_results_give_events_or_are_malformed(payload: bytes) -> None:
    try:
        events = list(iter_events(payload))
    except MalformedFrame as error:
        assert error.raw == payload
        return
    assert [event.raw for event in events] == raw_messages(payload)


@st.composite
def protobuf_shaped(draw: st.DrawFn) -> bytes:
    """Bytes shaped like protobuf: fields of every wire type, groups (3, 4) and reserved ones included."""
    out = bytearray()
    for _ in range(draw(st.integers(0, 6))):
        field_number, wire_type = draw(st.integers(1, 6)), draw(st.integers(0, 7))
        out += _varint(field_number << 3 | wire_type)
        if wire_type == 0:
            out += _varint(draw(st.integers(0, 2**64 - 1)))
        elif wire_type == 1:
            out += draw(st.binary(min_size=8, max_size=8))
        elif wire_type == 5:
            out += draw(st.binary(min_size=4, max_size=4))
        elif wire_type == 2:
            content = draw(st.binary(max_size=12) | envelopes().map(lambda m: m.SerializeToString()))
            out += _varint(len(content)) + content
        elif wire_type == 3:  # a group: ended by the matching end tag
            out += _varint(field_number << 3 | 4)
    return bytes(out)


@FUZZ
@given(protobuf_shaped())
def test_protobuf_shaped_fetch_results_give_events_or_are_malformed(payload: bytes) -> None:
    try:
        events = list(iter_events(payload))
    except MalformedFrame as error:
        assert error.raw == payload
        return
    assert [event.raw for event in events] == raw_messages(payload)


@FUZZ
@given(valid_frames())
def test_valid_frames_give_one_event_per_message(built: tuple[bytes, list[pb.Message]]) -> None:
    data, messages = built
    events = decode_all(data)
    assert events is not None
    assert len(events) == len(messages)
    for event, message in zip(events, messages, strict=True):
        assert event.method == message.method
        assert event.raw == message.SerializeToString(), "each event keeps its envelope's exact bytes"
        if message.method not in KNOWN_METHODS:
            assert event.kind == "unknown"
            assert event.data["payload_b64"] is not None


@FUZZ
@given(valid_frames().flatmap(lambda built: mutated(built[0])))
def test_mutated_frames_decode_or_are_malformed(data: bytes) -> None:
    decode_all(data)


@FUZZ
@given(envelopes().flatmap(lambda message: mutated(message.SerializeToString())))
def test_mutated_envelopes_inside_a_valid_frame(raw_envelope: bytes) -> None:
    # Length-delimited field 1 of the fetch result: the envelope's bytes, whatever they are.
    payload = b"\x0a" + _varint(len(raw_envelope)) + raw_envelope
    frame = pb.PushFrame(payload_type="msg", payload_encoding="pb", payload=gzip.compress(payload, mtime=0))
    frame.headers["compress_type"] = "gzip"
    decode_all(frame.SerializeToString())


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


@FUZZ
@given(st.text(max_size=30).filter(lambda method: method not in KNOWN_METHODS), st.binary(max_size=50))
def test_an_unknown_method_is_kept_as_unknown(method: str, payload: bytes) -> None:
    message = pb.Message(method=method, payload=payload, msg_id=5)
    event = to_event(message)
    assert event.kind == "unknown" and event.method == method
    assert event.raw == message.SerializeToString()


# -- the canonical form of normalised events -------------------------------------------------------------

SESSION = UUID("00000000-0000-4000-8000-000000000001")
CAPTURED_AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
_JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_JSON = st.recursive(
    _JSON_LEAF,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
_OPTIONAL_BIG = st.none() | st.integers(-(2**70), 2**70)
_OPTIONAL_TEXT = st.none() | st.text(max_size=12)

webcast_events = st.builds(
    WebcastEvent,
    kind=st.sampled_from(["chat", "gift", "like", "join", "follow", "share", "viewers", "control", "unknown"]),
    method=st.text(max_size=20),
    msg_id=_OPTIONAL_BIG,
    room_id=_OPTIONAL_TEXT,
    server_time=st.none() | st.datetimes(timezones=st.just(UTC)),
    user_id=_OPTIONAL_BIG,
    unique_id=_OPTIONAL_TEXT,
    nickname=_OPTIONAL_TEXT,
    body=_OPTIONAL_TEXT,
    gift_id=_OPTIONAL_BIG,
    gift_name=_OPTIONAL_TEXT,
    diamond_count=st.none() | st.integers(-(2**40), 2**40),
    repeat_count=st.none() | st.integers(-(2**40), 2**40),
    repeat_end=st.booleans(),
    group_id=_OPTIONAL_BIG,
    gift_type=st.none() | st.integers(0, 3),
    counts=st.none() | st.dictionaries(st.text(max_size=6), st.integers(0, 2**40), max_size=3),
    data=st.dictionaries(st.text(max_size=6), _JSON, max_size=3),
    raw=st.binary(max_size=30),
)


def _canonical(event: WebcastEvent, seq: int = 0) -> bytes:
    record = to_record(dataclasses.replace(event, data=dict(event.data)), CAPTURED_AT)
    return storable_canonical(SESSION, seq, record, raw_sha256(record.raw))[0]


@FUZZ
@given(webcast_events)
def test_canonical_bytes_are_deterministic_ascii_json(event: WebcastEvent) -> None:
    first = _canonical(event)
    assert first == _canonical(event)
    assert first.isascii()


_CHANGEABLE = {
    "msg_id": st.integers(0, 2**63 - 1),
    "room_id": st.text(min_size=1, max_size=8),
    "user_id": st.integers(1, 2**63 - 1),
    "unique_id": st.text(min_size=1, max_size=8),
    "nickname": st.text(min_size=1, max_size=8),
    "body": st.text(min_size=1, max_size=8),
    "gift_name": st.text(min_size=1, max_size=8),
    "diamond_count": st.integers(0, 2**31 - 1),
    "server_time": st.datetimes(timezones=st.just(UTC)),
    "raw": st.binary(max_size=30),
    "kind": st.sampled_from(["chat", "like", "join", "unknown"]),
    "method": st.text(max_size=20),
    "counts": st.dictionaries(st.text(max_size=6), st.integers(0, 2**40), max_size=3),
    "data": st.dictionaries(st.text(max_size=6), st.integers() | st.text(max_size=6), max_size=3),
}


@st.composite
def changed(draw: st.DrawFn) -> tuple[WebcastEvent, WebcastEvent, str]:
    event = draw(webcast_events)
    name = draw(st.sampled_from(sorted(_CHANGEABLE)))
    value = draw(_CHANGEABLE[name].filter(lambda new: new != getattr(event, name)))
    return event, dataclasses.replace(event, **{name: value}), name


def _distinct_after_storing(before: WebcastEvent, after: WebcastEvent, name: str) -> bool:
    """Storing replaces what PostgreSQL cannot hold (NUL, lone surrogates) by U+FFFD; the raw hash keeps it."""
    return _stored(before, name) != _stored(after, name)


def _stored(event: WebcastEvent, name: str) -> Any:
    record = to_record(dataclasses.replace(event, data=dict(event.data)), CAPTURED_AT)
    storable_canonical(SESSION, 0, record, raw_sha256(record.raw))
    return record.raw if name == "raw" else getattr(record, name)


@FUZZ
@given(changed())
def test_any_field_change_changes_the_chain_hash(change: tuple[WebcastEvent, WebcastEvent, str]) -> None:
    before, after, name = change
    if not _distinct_after_storing(before, after, name):
        return  # e.g. "\x00" and "\ufffd": the same stored text, told apart by raw_sha256 instead
    assert link(GENESIS_HASH, _canonical(before)) != link(GENESIS_HASH, _canonical(after)), name


@FUZZ
@given(webcast_events, st.integers(0, 2**40))
def test_the_chain_hash_depends_on_seq_and_predecessor(event: WebcastEvent, seq: int) -> None:
    canonical = _canonical(event, seq)
    assert canonical != _canonical(event, seq + 1)
    assert link(GENESIS_HASH, canonical) != link("f" * 64, canonical)
