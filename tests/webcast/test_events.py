from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from scis.simulator.messages import PINNABLE, MessageFactory
from scis.simulator.scenario import SimUser
from scis.webcast import webcast_pb2 as pb
from scis.webcast.events import _EXACT_MS_BELOW, WebcastEvent, _ms_to_datetime, iter_events, to_event
from scis.webcast.frames import MalformedFrame, build_response, decode, envelope, msg_frame

ROOM_ID = 7300000000000000123
ALICE = SimUser(id=6811000000000000001, handle="alice_k", nickname="Alice")
BOB = SimUser(id=6811000000000000002, handle="bob.builds", nickname="Bob")


def _through_the_wire(message: pb.Message, compress: bool = True) -> WebcastEvent:
    response = build_response([message], cursor="c", internal_ext="e", now_ms=1)
    _, decoded = decode(msg_frame(response, log_id=1, compress=compress))
    assert decoded is not None
    (event,) = iter_events(decoded)
    return event


def _common_fields(event: WebcastEvent, message: pb.Message) -> None:
    assert event.msg_id == message.msg_id
    assert event.room_id == str(ROOM_ID)
    assert event.raw == message.SerializeToString()
    assert isinstance(event.server_time, datetime) and event.server_time.tzinfo is UTC


@pytest.mark.parametrize("compress", [True, False])
def test_chat(compress: bool) -> None:
    message = MessageFactory(ROOM_ID).chat(BOB, "@alice_k hi!", at_user=ALICE)
    event = _through_the_wire(message, compress)
    _common_fields(event, message)
    assert (event.kind, event.method) == ("chat", "WebcastChatMessage")
    assert (event.user_id, event.unique_id, event.nickname, event.body) == (BOB.id, "bob.builds", "Bob", "@alice_k hi!")
    assert event.data["at_user"]["id"] == ALICE.id
    assert event.data["user"]["sec_uid"] == BOB.sec_uid


def test_gift_streak_frame_and_end() -> None:
    factory = MessageFactory(ROOM_ID)
    group = factory.new_group_id()
    middle = _through_the_wire(
        factory.gift(
            ALICE,
            gift_id=5655,
            name="Rose",
            diamonds=1,
            repeat_count=2,
            repeat_end=False,
            group_id=group,
            streakable=True,
        )
    )
    end = _through_the_wire(
        factory.gift(
            ALICE,
            gift_id=5655,
            name="Rose",
            diamonds=1,
            repeat_count=3,
            repeat_end=True,
            group_id=group,
            streakable=True,
        )
    )
    assert (middle.kind, middle.gift_id, middle.gift_name, middle.diamond_count) == ("gift", 5655, "Rose", 1)
    assert (middle.repeat_count, middle.repeat_end, middle.group_id, middle.gift_type) == (2, False, group, 1)
    assert (end.repeat_count, end.repeat_end, end.group_id) == (3, True, group)
    assert end.user_id == ALICE.id


def test_like_join_follow_share_viewers() -> None:
    factory = MessageFactory(ROOM_ID)
    like = _through_the_wire(factory.likes(ALICE, 5, 105))
    assert (like.kind, like.counts, like.user_id) == ("like", {"count": 5, "total": 105}, ALICE.id)
    join = _through_the_wire(factory.join(BOB, 17))
    assert (join.kind, join.counts, join.unique_id) == ("join", {"member_count": 17}, "bob.builds")
    follow = _through_the_wire(factory.follow(BOB))
    assert (follow.kind, follow.counts, follow.data["action"]) == ("follow", {"follow_count": 1}, 1)
    share = _through_the_wire(factory.share(ALICE))
    assert (share.kind, share.counts, share.data["action"]) == ("share", {"share_count": 1}, 3)
    viewers = _through_the_wire(factory.viewers(12, 40, [ALICE, BOB], popularity=99))
    assert viewers.kind == "viewers"
    assert viewers.counts == {"viewer_count": 12, "total_user": 40, "popularity": 99}
    assert [v["id"] for v in viewers.data["top_viewers"]] == [ALICE.id, BOB.id]
    assert viewers.data["top_viewers"][0]["rank"] == 1


def test_social_action_mapping_falls_back_to_display_key_then_unknown() -> None:
    def social(action: int, key: str = "") -> WebcastEvent:
        common = pb.Common(msg_id=1, room_id=ROOM_ID, create_time=1, display_text=pb.Text(key=key))
        payload = pb.SocialMessage(common=common, action=action).SerializeToString()
        return to_event(pb.Message(method="WebcastSocialMessage", payload=payload, msg_id=1))

    assert social(1).kind == "follow"
    assert social(3).kind == "share"
    assert social(7, "pm_mt_guidance_share").kind == "share"
    assert social(7, "pm_main_follow_message_viewer_2").kind == "follow"
    odd = social(7, "pm_something_else")
    assert odd.kind == "unknown" and odd.data["action"] == 7 and odd.method == "WebcastSocialMessage"


def test_control_pin_emote() -> None:
    factory = MessageFactory(ROOM_ID)
    control = _through_the_wire(factory.control(3, "The LIVE has ended"))
    assert (control.kind, control.body, control.data["action_name"]) == ("control", "The LIVE has ended", "end")
    assert _through_the_wire(factory.control(1)).data["action_name"] == "pause"
    pin = _through_the_wire(factory.pin(ALICE, "pinned words"))
    assert (pin.kind, pin.body, pin.user_id) == ("pin", "pinned words", ALICE.id)
    assert pin.data["original_msg_type"] == "WebcastChatMessage"
    for pinned_type, method in PINNABLE.items():
        typed = _through_the_wire(factory.pin(BOB, pinned_type=pinned_type))
        assert (typed.kind, typed.user_id, typed.data["original_msg_type"]) == ("pin", BOB.id, method)
        assert typed.data["pinned_msg_id"] > 0 and "pinned_b64" not in typed.data
    assert _through_the_wire(factory.pin(BOB, pinned_type="gift")).data["pinned_gift"]["name"] == "Rose"
    emote = _through_the_wire(factory.emote(BOB, "7100000000000000042"))
    assert (emote.kind, emote.user_id) == ("emote", BOB.id)
    assert emote.data["emotes"][0]["emote_id"] == "7100000000000000042"


def test_unknown_method_is_kept_raw() -> None:
    message = MessageFactory(ROOM_ID).unknown("WebcastMysteryMessage")
    event = _through_the_wire(message)
    assert (event.kind, event.method, event.msg_id) == ("unknown", "WebcastMysteryMessage", message.msg_id)
    assert base64.b64decode(event.data["payload_b64"]) == message.payload
    assert event.raw == message.SerializeToString()


def test_unparsable_payload_of_a_known_method_is_kept_as_unknown() -> None:
    message = pb.Message(method="WebcastChatMessage", payload=b"\xff\xff\xff", msg_id=5)
    event = to_event(message)
    assert event.kind == "unknown" and "error" in event.data and event.msg_id == 5
    assert base64.b64decode(event.data["payload_b64"]) == b"\xff\xff\xff"


def test_events_keep_the_order_of_the_response() -> None:
    factory = MessageFactory(ROOM_ID)
    messages = [factory.chat(ALICE, str(i)) for i in range(5)]
    response = build_response(messages, cursor="c", internal_ext="e", now_ms=1)
    assert [e.body for e in iter_events(response)] == ["0", "1", "2", "3", "4"]
    assert [e.raw for e in iter_events(response.SerializeToString())] == [m.SerializeToString() for m in messages]


# -- inputs the fuzz tests (tests/fuzz/test_webcast_decoding.py) found ------------------------------------


def test_a_create_time_past_year_9999_is_kept_in_data_not_raised() -> None:
    message = pb.ChatMessage(content="hi")
    message.common.create_time = 2**62
    event = to_event(envelope("WebcastChatMessage", message, msg_id=1))
    assert event.kind == "chat" and event.server_time is None
    assert event.data["create_time_ms"] == 2**62


@pytest.mark.parametrize("id_str", ["²", "١٢٣", "9" * 5000])
def test_an_id_str_that_is_no_usable_number_is_kept_as_text(id_str: str) -> None:
    message = pb.ChatMessage(content="hi")
    message.user.id_str = id_str
    event = to_event(envelope("WebcastChatMessage", message, msg_id=1))
    assert event.kind == "chat" and event.user_id is None
    assert event.data["user"]["id_str"] == id_str


def test_a_fetch_result_with_a_group_field_is_malformed_with_its_bytes() -> None:
    payload = b"\x0b\x0c"  # field 1 as a (start, end) group: protobuf accepts it, the envelope reader not
    with pytest.raises(MalformedFrame) as refused:
        list(iter_events(payload))
    assert refused.value.raw == payload


def test_server_times_below_2_to_the_32_seconds_are_exactly_what_fromtimestamp_gives() -> None:
    step = _EXACT_MS_BELOW // 997  # spread over the whole fast range, odd milliseconds included
    for ms in [1, 999, 1_764_670_000_123, _EXACT_MS_BELOW - 1, _EXACT_MS_BELOW, *range(7, _EXACT_MS_BELOW, step)]:
        assert _ms_to_datetime(ms) == datetime.fromtimestamp(ms / 1000, tz=UTC), ms
    assert _ms_to_datetime(0) is None and _ms_to_datetime(-5) is None
    assert _ms_to_datetime(10**20) is None  # past year 9999
