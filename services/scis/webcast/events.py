"""Normalise webcast messages into typed events; nothing received is ever dropped."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage

from scis.webcast import webcast_pb2 as pb
from scis.webcast.frames import MalformedFrame, parse_response, raw_messages

CONTROL_ACTIONS = {1: "pause", 2: "resume", 3: "end", 4: "suspended"}
SOCIAL_FOLLOW = 1
SOCIAL_SHARE = 3


@dataclass(slots=True)
class WebcastEvent:
    kind: str  # "chat","gift","like","join","follow","share","viewers","control","pin","emote","unknown"
    method: str  # TikTok's type name, e.g. "WebcastChatMessage"
    msg_id: int | None
    room_id: str | None
    server_time: datetime | None  # common.create_time (ms) as aware UTC datetime
    user_id: int | None  # numeric id = identity
    unique_id: str | None  # @handle without '@'
    nickname: str | None
    body: str | None  # chat text / control tips / pinned text
    gift_id: int | None = None
    gift_name: str | None = None
    diamond_count: int | None = None
    repeat_count: int | None = None
    repeat_end: bool = False
    group_id: int | None = None
    gift_type: int | None = None  # 1 = streakable
    counts: dict[str, int] | None = None
    data: dict[str, Any] = field(default_factory=dict)
    raw: bytes = b""  # the serialized Message envelope exactly as received


def iter_events(
    response: pb.WebcastResponse | bytes, *, parsed: pb.WebcastResponse | None = None
) -> Iterator[WebcastEvent]:
    """One event per message of a fetch result.

    Pass the decompressed fetch-result bytes to get each event's ``raw`` exactly as received (with
    `parsed`, those bytes already parsed: they are not parsed again); with a parsed response alone,
    ``raw`` is the envelope re-serialized (unknown fields included).
    """
    if isinstance(response, bytes | bytearray | memoryview):
        payload = bytes(response)
        parsed = parse_response(payload) if parsed is None else parsed
        try:
            raws = raw_messages(payload)
        except ValueError as exc:  # protobuf accepted it, our reader of the exact bytes did not
            raise MalformedFrame(payload, f"bad fetch result: {exc}") from exc
        if len(raws) != len(parsed.messages):
            raise MalformedFrame(payload, f"{len(parsed.messages)} messages parsed but {len(raws)} found as bytes")
    else:
        parsed = response
        raws = [message.SerializeToString() for message in response.messages]
    for message, raw in zip(parsed.messages, raws, strict=True):
        yield to_event(message, raw)


def to_event(message: pb.Message, raw: bytes | None = None) -> WebcastEvent:
    """Normalise one Message envelope; unknown or unparsable payloads become kind "unknown"."""
    raw = message.SerializeToString() if raw is None else raw
    spec = _PARSERS.get(message.method)
    if spec is None:
        return _unknown(message, raw)
    message_type, convert = spec
    inner = message_type()
    try:
        inner.ParseFromString(message.payload)
    except DecodeError as exc:
        return _unknown(message, raw, error=str(exc))
    common: pb.Common = inner.common  # type: ignore[attr-defined]
    event = WebcastEvent(
        kind="unknown",
        method=message.method,
        msg_id=message.msg_id or common.msg_id or None,
        room_id=str(common.room_id) if common.room_id else None,
        server_time=_ms_to_datetime(common.create_time),
        user_id=None,
        unique_id=None,
        nickname=None,
        body=None,
        raw=raw,
    )
    if common.create_time > 0 and event.server_time is None:
        event.data["create_time_ms"] = common.create_time  # not a date Python can hold: kept as sent
    try:
        convert(inner, event)
    except (ValueError, OverflowError) as exc:  # values SCIS cannot interpret: kept raw, with the reason
        return _unknown(message, raw, error=f"{type(exc).__name__}: {exc}")
    return event


def _unknown(message: pb.Message, raw: bytes, error: str | None = None) -> WebcastEvent:
    data: dict[str, Any] = {"payload_b64": base64.b64encode(message.payload).decode()}
    if error:
        data["error"] = error
    return WebcastEvent(
        kind="unknown",
        method=message.method,
        msg_id=message.msg_id or None,
        room_id=None,
        server_time=None,
        user_id=None,
        unique_id=None,
        nickname=None,
        body=None,
        data=data,
        raw=raw,
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Below 2**32 s a float of ms / 1000 is within half a microsecond of the exact time, so fromtimestamp's
# rounding gives exactly the epoch plus the milliseconds, which costs half as much.
_EXACT_MS_BELOW = 2**32 * 1000


def _ms_to_datetime(ms: int) -> datetime | None:
    """Milliseconds since the epoch as a UTC datetime; None for 0 and for times past year 9999."""
    if ms <= 0:
        return None
    if ms < _EXACT_MS_BELOW:
        return _EPOCH + timedelta(0, 0, 0, ms)
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def user_dict(user: pb.User) -> dict[str, Any]:
    """A JSON-able summary of a User."""
    user_id = _user_id(user)
    summary: dict[str, Any] = {
        "id": user_id,
        "unique_id": user.unique_id.lstrip("@") or None,
        "nickname": user.nickname or None,
    }
    _add_user_details(summary, user, user_id)
    return summary


def _add_user_details(summary: dict[str, Any], user: pb.User, user_id: int | None) -> None:
    """What `user_dict` holds besides the id, the handle and the nickname."""
    if user_id is None and user.id_str:
        summary["id_str"] = user.id_str  # not a number SCIS can use as the identity: kept as sent
    if user.sec_uid:
        summary["sec_uid"] = user.sec_uid
    if user.avatar_thumb.url_list:
        summary["avatar"] = user.avatar_thumb.url_list[0]
    if user.HasField("follow_info"):
        summary["follower_count"] = user.follow_info.follower_count
        summary["following_count"] = user.follow_info.following_count


def _user_id(user: pb.User) -> int | None:
    if user.id:
        return user.id
    # ASCII digits only ("²" is a digit to str.isdigit) and few enough for int() and a bigint column.
    text = user.id_str
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 20 else None


def _set_user(event: WebcastEvent, message: ProtoMessage) -> None:
    if not message.HasField("user"):
        return
    user: pb.User = message.user  # type: ignore[attr-defined]
    event.user_id = _user_id(user)
    event.unique_id = user.unique_id.lstrip("@") or None
    event.nickname = user.nickname or None
    extra: dict[str, Any] = {}
    _add_user_details(extra, user, event.user_id)
    if extra:
        event.data["user"] = extra


def _chat(message: pb.ChatMessage, event: WebcastEvent) -> None:
    event.kind = "chat"
    _set_user(event, message)
    event.body = message.content
    if message.HasField("at_user"):
        event.data["at_user"] = user_dict(message.at_user)
    if message.emotes:
        event.data["emotes"] = [
            {"index": e.index, "emote_id": e.emote.emote_id, "url": next(iter(e.emote.image.url_list), None)}
            for e in message.emotes
        ]
    if message.content_language:
        event.data["content_language"] = message.content_language


def _gift(message: pb.GiftMessage, event: WebcastEvent) -> None:
    event.kind = "gift"
    _set_user(event, message)
    gift = message.gift
    event.gift_id = message.gift_id or gift.id or None
    event.gift_name = gift.name or None
    event.diamond_count = gift.diamond_count
    event.repeat_count = message.repeat_count
    event.repeat_end = bool(message.repeat_end)
    event.group_id = message.group_id or None
    event.gift_type = gift.type
    for name in ("fan_ticket_count", "group_count", "combo_count"):
        if value := getattr(message, name):
            event.data[name] = value
    if message.HasField("to_user"):
        event.data["to_user"] = user_dict(message.to_user)


def _like(message: pb.LikeMessage, event: WebcastEvent) -> None:
    event.kind = "like"
    _set_user(event, message)
    event.counts = {"count": message.count, "total": message.total}


def _member(message: pb.MemberMessage, event: WebcastEvent) -> None:
    event.kind = "join"
    _set_user(event, message)
    event.counts = {"member_count": message.member_count}
    event.data["action"] = message.action


def _social(message: pb.SocialMessage, event: WebcastEvent) -> None:
    """Follow and share share one message type.

    Mapping (TikTok's web client and the public schemas): ``action`` 1 is a follow (display key
    ``pm_main_follow_message_viewer_2``), ``action`` 3 is a share (display key
    ``pm_mt_guidance_share``, ``share_type`` names the target). When ``action`` is something else,
    the display key decides; failing that the event is kept as kind "unknown" with its action.
    """
    _set_user(event, message)
    display_key = message.common.display_text.key
    event.data.update(action=message.action, share_type=message.share_type)
    if display_key:
        event.data["display_type"] = display_key
    if message.action == SOCIAL_FOLLOW or (message.action != SOCIAL_SHARE and "follow" in display_key):
        event.kind = "follow"
        event.counts = {"follow_count": message.follow_count}
    elif message.action == SOCIAL_SHARE or "share" in display_key:
        event.kind = "share"
        event.counts = {"share_count": message.share_count}


def _viewers(message: pb.RoomUserSeqMessage, event: WebcastEvent) -> None:
    event.kind = "viewers"
    event.counts = {
        "viewer_count": message.viewer_count,
        "total_user": message.total_user,
        "popularity": message.popularity,
    }
    if message.anonymous:
        event.data["anonymous"] = message.anonymous
    event.data["top_viewers"] = [
        {"rank": r.rank, "coin_count": r.coin_count, **user_dict(r.user)} for r in message.ranks
    ]


def _control(message: pb.ControlMessage, event: WebcastEvent) -> None:
    event.kind = "control"
    event.body = message.tips or None
    event.data["action"] = message.action
    event.data["action_name"] = CONTROL_ACTIONS.get(message.action, "unknown")


# The messages a host can pin, by the type name TikTok gives in original_msg_type.
_PINNED_TYPES: dict[str, type[Any]] = {
    "WebcastChatMessage": pb.ChatMessage,
    "WebcastSocialMessage": pb.SocialMessage,
    "WebcastGiftMessage": pb.GiftMessage,
    "WebcastMemberMessage": pb.MemberMessage,
    "WebcastLikeMessage": pb.LikeMessage,
}


def _pin(message: pb.RoomPinMessage, event: WebcastEvent) -> None:
    event.kind = "pin"
    event.data["original_msg_type"] = message.original_msg_type
    if message.timestamp:
        event.data["pinned_at"] = message.timestamp
    pinned_type = _PINNED_TYPES.get(message.original_msg_type)
    if pinned_type is None:
        event.data["pinned_b64"] = base64.b64encode(message.pinned_message).decode()
        return
    pinned = pinned_type()
    try:
        pinned.ParseFromString(message.pinned_message)
    except DecodeError:
        event.data["pinned_b64"] = base64.b64encode(message.pinned_message).decode()
        return
    _set_user(event, pinned)
    event.data["pinned_msg_id"] = pinned.common.msg_id  # type: ignore[attr-defined]
    if isinstance(pinned, pb.ChatMessage):
        event.body = pinned.content
    elif isinstance(pinned, pb.GiftMessage):
        event.data["pinned_gift"] = {"gift_id": pinned.gift_id, "name": pinned.gift.name}


def _emote(message: pb.EmoteChatMessage, event: WebcastEvent) -> None:
    event.kind = "emote"
    _set_user(event, message)
    event.data["emotes"] = [{"emote_id": e.emote_id, "url": next(iter(e.image.url_list), None)} for e in message.emotes]


_PARSERS: dict[str, tuple[type[ProtoMessage], Callable[[Any, WebcastEvent], None]]] = {
    "WebcastChatMessage": (pb.ChatMessage, _chat),
    "WebcastGiftMessage": (pb.GiftMessage, _gift),
    "WebcastLikeMessage": (pb.LikeMessage, _like),
    "WebcastMemberMessage": (pb.MemberMessage, _member),
    "WebcastSocialMessage": (pb.SocialMessage, _social),
    "WebcastRoomUserSeqMessage": (pb.RoomUserSeqMessage, _viewers),
    "WebcastControlMessage": (pb.ControlMessage, _control),
    "WebcastRoomPinMessage": (pb.RoomPinMessage, _pin),
    "WebcastEmoteChatMessage": (pb.EmoteChatMessage, _emote),
}
KNOWN_METHODS = frozenset(_PARSERS)
