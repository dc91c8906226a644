"""Server-side builders: one webcast Message envelope per event, each with a unique msg_id and time."""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Iterable
from typing import Any

from scis.simulator.scenario import SimUser
from scis.webcast import webcast_pb2 as pb
from scis.webcast.frames import envelope

MSG_ID_BASE = 7_400_000_000_000_000_000
# What a host can pin (scenario `pin: {type: ...}`), and the message type TikTok names it by.
PINNABLE = {
    "chat": "WebcastChatMessage",
    "social": "WebcastSocialMessage",
    "gift": "WebcastGiftMessage",
    "member": "WebcastMemberMessage",
    "like": "WebcastLikeMessage",
}
_msg_ids = itertools.count(1)


def next_msg_id() -> int:
    """A msg_id unique within this process, shaped like TikTok's 19-digit ids."""
    return MSG_ID_BASE + next(_msg_ids)


@functools.lru_cache(maxsize=4096)
def pb_user(user: SimUser) -> pb.User:
    """A webcast User for a simulated user (cached: callers copy it into their message, never change it)."""
    return pb.User(
        id=user.id,
        id_str=str(user.id),
        nickname=user.nickname,
        unique_id=user.handle,
        sec_uid=user.sec_uid,
        avatar_thumb=pb.Image(url_list=[f"https://p16-sign.tiktokcdn.com/sim/{user.id}.webp"]),
        follow_info=pb.FollowInfo(following_count=user.id % 500, follower_count=user.id % 5000),
    )


class MessageFactory:
    """Builds the messages of one room, numbering them and stamping server time."""

    def __init__(self, room_id: int) -> None:
        self.room_id = room_id
        self.member_count = 0
        self.follow_count = 0
        self.share_count = 0
        self.like_total = 0
        self._group_ids = itertools.count(int(time.time() * 1000) * 1000)
        self._last_ms = 0
        self._stamp_second, self._stamp = -1, ""

    def _create_time(self) -> int:
        """Server time in ms, strictly increasing within the room so every message has its own."""
        self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
        return self._last_ms

    def _log_stamp(self) -> str:
        """The local date and time to the second, as log ids start; formatted once a second."""
        second = int(time.time())
        if second != self._stamp_second:
            self._stamp_second, self._stamp = second, time.strftime("%Y%m%d%H%M%S", time.localtime(second))
        return self._stamp

    def _common(self, method: str, msg_id: int, display_key: str = "") -> pb.Common:
        common = pb.Common(
            method=method,
            msg_id=msg_id,
            room_id=self.room_id,
            create_time=self._create_time(),
            log_id=f"{self._log_stamp()}{msg_id % 10**10:010d}",
        )
        if display_key:
            common.display_text.key = display_key
        return common

    def _wrap(self, method: str, build: type, display_key: str = "", **fields: Any) -> pb.Message:
        msg_id = next_msg_id()
        message = build(common=self._common(method, msg_id, display_key), **fields)
        return envelope(method, message, msg_id=msg_id)

    def chat(self, user: SimUser, text: str, *, at_user: SimUser | None = None) -> pb.Message:
        fields: dict[str, Any] = {"user": pb_user(user), "content": text, "content_language": "en"}
        if at_user is not None:
            fields["at_user"] = pb_user(at_user)
        return self._wrap("WebcastChatMessage", pb.ChatMessage, **fields)

    def gift(
        self,
        user: SimUser,
        *,
        gift_id: int,
        name: str,
        diamonds: int,
        repeat_count: int,
        repeat_end: bool,
        group_id: int,
        streakable: bool,
    ) -> pb.Message:
        gift = pb.Gift(
            id=gift_id,
            name=name,
            diamond_count=diamonds,
            type=1 if streakable else 2,
            combo=streakable,
            image=pb.Image(url_list=[f"https://p16-webcast.tiktokcdn.com/sim/gift-{gift_id}.png"]),
        )
        return self._wrap(
            "WebcastGiftMessage",
            pb.GiftMessage,
            user=pb_user(user),
            gift_id=gift_id,
            gift=gift,
            repeat_count=repeat_count,
            combo_count=repeat_count,
            repeat_end=int(repeat_end),
            group_id=group_id,
            group_count=1,
            fan_ticket_count=diamonds * repeat_count,
        )

    def new_group_id(self) -> int:
        """A fresh gift group (streak) id."""
        return next(self._group_ids)

    def likes(self, user: SimUser, count: int, total: int | None = None) -> pb.Message:
        self.like_total = total if total is not None else self.like_total + count
        return self._wrap(
            "WebcastLikeMessage",
            pb.LikeMessage,
            "pm_mt_msg_viewer",
            user=pb_user(user),
            count=count,
            total=self.like_total,
        )

    def join(self, user: SimUser, member_count: int | None = None) -> pb.Message:
        self.member_count = member_count if member_count is not None else self.member_count + 1
        return self._wrap(
            "WebcastMemberMessage",
            pb.MemberMessage,
            "live_room_enter_toast",
            user=pb_user(user),
            member_count=self.member_count,
            action=1,
        )

    def follow(self, user: SimUser) -> pb.Message:
        self.follow_count += 1
        return self._wrap(
            "WebcastSocialMessage",
            pb.SocialMessage,
            "pm_main_follow_message_viewer_2",
            user=pb_user(user),
            action=1,
            follow_count=self.follow_count,
        )

    def share(self, user: SimUser, share_type: int = 1) -> pb.Message:
        self.share_count += 1
        return self._wrap(
            "WebcastSocialMessage",
            pb.SocialMessage,
            "pm_mt_guidance_share",
            user=pb_user(user),
            action=3,
            share_type=share_type,
            share_count=self.share_count,
        )

    def viewers(self, count: int, total: int, top: Iterable[SimUser] = (), popularity: int | None = None) -> pb.Message:
        ranks = [
            pb.TopViewer(user=pb_user(user), rank=rank, coin_count=max(0, 1000 - rank * 100))
            for rank, user in enumerate(top, start=1)
        ]
        return self._wrap(
            "WebcastRoomUserSeqMessage",
            pb.RoomUserSeqMessage,
            ranks=ranks,
            viewer_count=count,
            total_user=total,
            popularity=popularity if popularity is not None else count * 3,
        )

    def control(self, action: int, tips: str = "") -> pb.Message:
        return self._wrap("WebcastControlMessage", pb.ControlMessage, action=action, tips=tips)

    def pin(self, user: SimUser, text: str = "", pinned_type: str = "chat") -> pb.Message:
        """The host pins a message: a chat (the usual), or a follow, gift, join or like message."""
        if pinned_type not in PINNABLE:
            raise ValueError(f"cannot pin a {pinned_type!r} message; one of {', '.join(PINNABLE)}")
        method = PINNABLE[pinned_type]
        common = self._common(method, next_msg_id())
        pinned: Any
        if pinned_type == "chat":
            pinned = pb.ChatMessage(common=common, user=pb_user(user), content=text)
        elif pinned_type == "social":
            pinned = pb.SocialMessage(common=common, user=pb_user(user), action=1, follow_count=self.follow_count)
        elif pinned_type == "gift":
            gift = pb.Gift(id=5655, name="Rose", diamond_count=1, type=1, combo=True)
            pinned = pb.GiftMessage(
                common=common,
                user=pb_user(user),
                gift_id=5655,
                gift=gift,
                repeat_count=1,
                combo_count=1,
                repeat_end=1,
                group_id=self.new_group_id(),
                group_count=1,
            )
        elif pinned_type == "member":
            pinned = pb.MemberMessage(common=common, user=pb_user(user), member_count=self.member_count, action=1)
        else:
            pinned = pb.LikeMessage(common=common, user=pb_user(user), count=1, total=self.like_total)
        return self._wrap(
            "WebcastRoomPinMessage",
            pb.RoomPinMessage,
            pinned_message=pinned.SerializeToString(),
            original_msg_type=method,
            timestamp=int(time.time() * 1000),
        )

    def emote(self, user: SimUser, emote_id: str) -> pb.Message:
        emote = pb.Emote(
            emote_id=emote_id, image=pb.Image(url_list=[f"https://p16-webcast.tiktokcdn.com/sim/emote-{emote_id}.webp"])
        )
        return self._wrap("WebcastEmoteChatMessage", pb.EmoteChatMessage, user=pb_user(user), emotes=[emote])

    def unknown(self, method: str, payload: bytes | None = None) -> pb.Message:
        """A message of a type SCIS does not know, to prove it is kept."""
        msg_id = next_msg_id()
        if payload is None:
            common = pb.ControlMessage(common=self._common(method, msg_id)).SerializeToString()
            payload = common + b"\x9a\x01\x04sim!"  # plus field 19 (bytes), unknown to every schema here
        return pb.Message(method=method, payload=payload, msg_id=msg_id)
