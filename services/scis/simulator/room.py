"""One simulated live room: its message log, its push sessions, its scenario and faults."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from scis.simulator.messages import MessageFactory
from scis.simulator.mix import EventMix
from scis.simulator.scenario import Scenario, SimUser, Step
from scis.simulator.session import PushSession
from scis.webcast import webcast_pb2 as pb
from scis.webcast.events import WebcastEvent, to_event
from scis.webcast.frames import (
    PAYLOAD_ACK,
    PAYLOAD_ENTER_ROOM,
    PAYLOAD_HEARTBEAT,
    MalformedFrame,
    build_response,
    decode_frame,
)

RoomState = Literal["live", "offline", "private", "blocked"]
StartMode = Literal["first_viewer", "now", "manual"]
ROOM_ID_BASE = 7_300_000_000_000_000_000
HOST_ID_BASE = 6_700_000_000_000_000_000
FRESH_HISTORY = 50  # messages a client connecting with no cursor gets from before its arrival
# The random mix produces what is due every tick, and its sessions send it in one frame: TikTok's
# push server batches messages the same way (a busy live's frames carry several). One frame per
# message made the simulator, not the capture, the first to saturate at a few hundred lives.
MIX_TICK_SECONDS = 0.2
FAULTS = ("drop", "kill", "stall", "malformed", "resend", "no_streak_end", "end", "video_drop")
_POSITION_IN_EXT = re.compile(r"(?:^|\|)seq:(\d+)")
_POSITION_IN_CURSOR = re.compile(r"(?:^|_)r-(\d+)")


def room_id_for(handle: str) -> int:
    """A stable 19-digit room id for a handle."""
    return ROOM_ID_BASE + zlib.crc32(handle.encode()) * 1000


@dataclass(frozen=True, slots=True)
class AckRecord:
    log_id: int
    internal_ext: str


class SimRoom:
    """A live room; ``sent_messages`` is every message it produced, in order, exactly as sent."""

    def __init__(
        self,
        handle: str,
        *,
        scenario: Scenario | None = None,
        rate: float | None = None,
        seed: int = 0,
        max_events: int | None = None,
        state: RoomState = "live",
        start: StartMode = "first_viewer",
        resend_on_resume: int = 2,
        need_ack: bool = True,
        batch_size: int = 20,
        title: str | None = None,
    ) -> None:
        self.handle = handle.lstrip("@")
        self.room_id = room_id_for(self.handle)
        self.host = SimUser(
            id=HOST_ID_BASE + zlib.crc32(self.handle.encode()),
            handle=self.handle,
            nickname=self.handle.replace("_", " ").title(),
        )
        self.title = title or f"{self.host.nickname} is LIVE"
        self.scenario = scenario
        self.rate = rate
        self.seed = seed
        self.max_events = max_events
        self.state: RoomState = state
        self.status = 4 if state == "offline" else 2
        self.start_mode = start
        self.resend_on_resume = resend_on_resume
        self.need_ack = need_ack
        self.batch_size = batch_size
        self.started_at_ms = int(time.time() * 1000)

        self.factory = MessageFactory(self.room_id)
        self.sent_messages: list[pb.Message] = []
        self.enter_rooms: list[pb.EnterRoomMessage] = []
        self.heartbeats: list[pb.HeartbeatMessage] = []
        self.acks: list[AckRecord] = []
        self.pings: list[bytes] = []
        self.client_errors: list[MalformedFrame] = []
        self.connections = 0
        self.sessions: set[PushSession] = set()
        self.video_connections = 0  # FLV stream requests served
        self.video_drops = 0  # bumped by the video_drop fault: every open FLV stream ends
        self.paused = False
        self.suppress_streak_ends = False
        self.quiet = False  # go_quiet(): on air, socket open, nothing new produced
        self.finished = asyncio.Event()  # set when every producer is done (scenario played, mix bounded)
        self._log_ids = itertools.count(int(time.time()) * 10**6)
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False

    # -- answers the HTTP API gives ---------------------------------------------------------------

    @property
    def is_live(self) -> bool:
        return self.status == 2 and self.state != "offline"

    def sent_events(self) -> list[WebcastEvent]:
        """The sent messages as SCIS normalises them."""
        return [to_event(message) for message in self.sent_messages]

    # -- production -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start playing the scenario and the random mix (idempotent)."""
        if self._started or not self.is_live:
            return
        self._started = True
        if self.scenario is not None:
            self._tasks.append(asyncio.create_task(self._play(self.scenario), name=f"sim-{self.handle}-play"))
        if self.rate:
            self._tasks.append(asyncio.create_task(self._mix(self.rate), name=f"sim-{self.handle}-mix"))
        if not self._tasks:
            self.finished.set()
        else:
            asyncio.gather(*self._tasks, return_exceptions=True).add_done_callback(lambda _: self.finished.set())

    async def stop(self) -> None:
        """Cancel the producers and close every session."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for session in list(self.sessions):
            session.command("close", code=1001, reason="simulator stopping")

    def append(self, message: pb.Message) -> None:
        """Publish one message to every session (and to every future resume)."""
        self.sent_messages.append(message)
        for session in self.sessions:
            session.wake.set()

    async def _play(self, scenario: Scenario) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        offset = -scenario.interval
        for step in scenario.steps:
            offset = step.at if step.at is not None else offset + scenario.interval
            await asyncio.sleep(max(0.0, start + offset - loop.time()))
            await self._run_step(step, scenario)
            offset = max(offset, loop.time() - start)
            if not self.is_live:
                return

    async def _run_step(self, step: Step, scenario: Scenario) -> None:
        args, make = step.args, self.factory
        user = scenario.user(args["user"]) if "user" in args else None
        match step.kind:
            case "chat":
                at_user = scenario.user(args["at"]) if "at" in args else None
                self.append(make.chat(_need(user), str(args["text"]), at_user=at_user))
            case "gift":
                await self._gift(_need(user), args, scenario.interval)
            case "likes":
                self.append(make.likes(_need(user), int(args.get("count", 1)), args.get("total")))
            case "join":
                self.append(make.join(_need(user), args.get("member_count")))
            case "follow":
                self.append(make.follow(_need(user)))
            case "share":
                self.append(make.share(_need(user), int(args.get("share_type", 1))))
            case "viewers":
                top = [scenario.user(ref) for ref in args.get("top", [])]
                count = int(args.get("count", 0))
                self.append(make.viewers(count, int(args.get("total", count)), top, args.get("popularity")))
            case "pin":
                self.append(make.pin(_need(user), str(args.get("text", "")), str(args.get("type", "chat"))))
            case "emote":
                self.append(make.emote(_need(user), str(args.get("emote_id", "7000000000000000001"))))
            case "pause":
                self.paused = True
                self.append(make.control(1, str(args.get("tips", "The host paused the LIVE"))))
            case "resume":
                self.paused = False
                self.append(make.control(2, str(args.get("tips", "The LIVE is back"))))
            case "end":
                self.end(str(args.get("tips", "The LIVE has ended")))
            case "unknown":
                payload = base64.b64decode(args["payload_b64"]) if "payload_b64" in args else None
                self.append(make.unknown(str(args.get("method", "WebcastMysteryMessage")), payload))
            case "wait":
                await asyncio.sleep(float(args.get("seconds", 0)))

    async def _gift(self, user: SimUser, args: dict[str, Any], interval: float) -> None:
        gift_id, name, diamonds = int(args["gift_id"]), str(args.get("name", "Gift")), int(args.get("diamonds", 1))
        group_id = self.factory.new_group_id()
        streak = [int(n) for n in args.get("streak", [])]
        if not streak:
            self.append(
                self.factory.gift(
                    user,
                    gift_id=gift_id,
                    name=name,
                    diamonds=diamonds,
                    repeat_count=int(args.get("count", 1)),
                    repeat_end=True,
                    group_id=group_id,
                    streakable=False,
                )
            )
            return
        for index, count in enumerate(streak):
            if index:
                await asyncio.sleep(float(args.get("interval", interval)))
            self.append(
                self.factory.gift(
                    user,
                    gift_id=gift_id,
                    name=name,
                    diamonds=diamonds,
                    repeat_count=count,
                    repeat_end=False,
                    group_id=group_id,
                    streakable=True,
                )
            )
        if args.get("end", True) and not self.suppress_streak_ends:
            self.append(
                self.factory.gift(
                    user,
                    gift_id=gift_id,
                    name=name,
                    diamonds=diamonds,
                    repeat_count=streak[-1],
                    repeat_end=True,
                    group_id=group_id,
                    streakable=True,
                )
            )

    async def _mix(self, rate: float) -> None:
        loop = asyncio.get_running_loop()
        mix = EventMix(self.factory, self.seed)
        produced, start = 0, loop.time()
        while not self.quiet and (self.max_events is None or produced < self.max_events):
            # Every tick, not every 1/rate: at 20 events/s a tick of 1/rate sent one frame per event
            # (decision 221 batches what is due every MIX_TICK_SECONDS, as TikTok's push server does).
            await asyncio.sleep(MIX_TICK_SECONDS)
            due = int((loop.time() - start) * rate) - produced
            if self.max_events is not None:
                due = min(due, self.max_events - produced)
            for _ in range(max(0, due)):
                message = mix.next_message()
                if self.suppress_streak_ends and _is_streak_end(message):
                    continue
                self.append(message)
                produced += 1
            if not self.is_live:
                return

    # -- the fetch result shape -------------------------------------------------------------------

    def position_from(self, cursor: str, internal_ext: str) -> int | None:
        """The log position a cursor / internal_ext we issued points to."""
        match = _POSITION_IN_EXT.search(internal_ext) or _POSITION_IN_CURSOR.search(cursor)
        if match is None:
            return None
        return min(int(match.group(1)), len(self.sent_messages))

    def fresh_position(self) -> int:
        """Where a client with no cursor starts: a little recent history."""
        return max(0, len(self.sent_messages) - FRESH_HISTORY)

    def response_for(
        self, start: int, end: int, *, push_server: str = "", is_first: bool = False
    ) -> pb.WebcastResponse:
        """The fetch result carrying messages [start, end) and the cursor to resume after them."""
        now_ms = int(time.time() * 1000)
        internal_ext = (
            f"internal_src:dim|wss_push_room_id:{self.room_id}|wss_push_did:0|first_req_ms:{self.started_at_ms}"
            f"|fetch_time:{now_ms}|seq:{end}|wss_info:0-{now_ms}-0-0|wrds_v:{end}"
        )
        return build_response(
            self.sent_messages[start:end],
            cursor=f"t-{now_ms}_r-{end}_d-1_u-1_h-1",
            internal_ext=internal_ext,
            now_ms=now_ms,
            need_ack=self.need_ack,
            push_server=push_server,
            route_params={"wrss": f"sim-{self.room_id}"} if push_server else None,
            is_first=is_first,
        )

    def next_log_id(self) -> int:
        return next(self._log_ids)

    # -- what clients send ------------------------------------------------------------------------

    def record_client_frame(self, data: bytes, session: PushSession) -> None:
        """Record enter-room, heartbeat and ack frames a client sends."""
        try:
            frame = decode_frame(data)
            if frame.payload_type == PAYLOAD_ENTER_ROOM:
                self.enter_rooms.append(pb.EnterRoomMessage.FromString(frame.payload))
                session.command("enter_room_resp")  # the session starts sending once it has answered
                if self.start_mode == "first_viewer":
                    self.start()
            elif frame.payload_type == PAYLOAD_HEARTBEAT:
                self.heartbeats.append(pb.HeartbeatMessage.FromString(frame.payload))
            elif frame.payload_type == PAYLOAD_ACK:
                self.acks.append(AckRecord(log_id=frame.log_id, internal_ext=frame.payload.decode("utf-8", "replace")))
        except MalformedFrame as exc:
            self.client_errors.append(exc)
        except Exception as exc:  # a bad payload inside a valid frame
            self.client_errors.append(MalformedFrame(data, str(exc)))

    def record_ping(self, payload: bytes) -> None:
        """A WebSocket ping from a client (the protocol answers it with a pong)."""
        self.pings.append(payload)

    # -- faults -----------------------------------------------------------------------------------

    def fault(self, name: str, **params: Any) -> None:
        """Trigger a fault by name: drop, kill, stall, malformed, resend, no_streak_end, end."""
        actions: dict[str, Callable[..., None]] = {
            "drop": self.drop,
            "kill": self.kill,
            "stall": self.stall,
            "malformed": self.malformed,
            "resend": self.resend,
            "no_streak_end": self.no_streak_end,
            "end": self.end,
            "video_drop": self.video_drop,
        }
        if name not in actions:
            raise ValueError(f"unknown fault {name!r}; one of {', '.join(FAULTS)}")
        actions[name](**params)

    def drop(self, code: int = 1011, reason: str = "simulated drop") -> None:
        """Close every push socket with a close frame, mid-stream."""
        for session in list(self.sessions):
            session.command("close", code=int(code), reason=reason)

    def video_drop(self) -> None:
        """End every open FLV stream mid-live (the CDN drops the connection); new requests are served."""
        self.video_drops += 1

    def kill(self) -> None:
        """Die silently: the TCP connection closes with no close frame."""
        for session in list(self.sessions):
            session.abort()

    def stall(self, seconds: float = 5.0) -> None:
        """Stop sending for N seconds while keeping the sockets open (production goes on)."""
        until = asyncio.get_running_loop().time() + float(seconds)
        for session in list(self.sessions):
            session.stalled_until = until
            session.wake.set()

    def malformed(self, kind: str = "garbage") -> None:
        """Send one malformed frame: ``garbage`` (not a push frame) or ``gzip`` (a corrupt payload)."""
        for session in list(self.sessions):
            session.command("malformed", kind=kind)

    def resend(self, count: int = 500, code: int = 1011) -> None:
        """Drop every push socket; from now on a client resuming with a cursor first gets again the
        `count` messages before it (already sent to it), as TikTok's push server may on a reconnect."""
        self.resend_on_resume = int(count)
        self.drop(code=code, reason=f"simulated drop; the reconnect re-sends {count} messages")

    def no_streak_end(self, enabled: bool = True) -> None:
        """Never send the end of the gift streaks that follow."""
        self.suppress_streak_ends = bool(enabled)

    def end(self, tips: str = "The LIVE has ended") -> None:
        """End the live: a control message (action 3), status 4, sockets closed once flushed."""
        if self.status == 4:
            return
        self.append(self.factory.control(3, tips))
        self.status = 4
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for session in list(self.sessions):
            session.command("close_after_flush")

    def go_quiet(self) -> None:
        """The host stays on air with the socket open but nothing new happens: a capture that fell
        behind can read and store everything sent before the live ends (tests on a loaded machine)."""
        self.quiet = True

    def go_live(self) -> None:
        """The host (re)starts the live: an offline or ended room is live again and produces again.

        A new broadcast: what the previous one sent (its end message too) is not sent to new sockets.
        """
        if self.status == 4 and self.sent_messages:
            self.sent_messages = []
        self.state, self.status = "live", 2
        self.quiet = False
        self._started = False
        self._tasks = []
        self.finished.clear()
        self.start()

    def stats(self) -> dict[str, Any]:
        """A JSON-able summary for the control API."""
        return {
            "handle": self.handle,
            "room_id": str(self.room_id),
            "state": self.state,
            "status": self.status,
            "sent": len(self.sent_messages),
            "sessions": len(self.sessions),
            "connections": self.connections,
            "video_connections": self.video_connections,
            "enter_rooms": len(self.enter_rooms),
            "heartbeats": len(self.heartbeats),
            "acks": len(self.acks),
            "pings": len(self.pings),
            "finished": self.finished.is_set(),
            "suppress_streak_ends": self.suppress_streak_ends,
        }


def _need(user: SimUser | None) -> SimUser:
    if user is None:
        raise ValueError("this step needs a `user`")
    return user


def _is_streak_end(message: pb.Message) -> bool:
    if message.method != "WebcastGiftMessage":
        return False
    gift = pb.GiftMessage.FromString(message.payload)
    return bool(gift.repeat_end) and gift.gift.type == 1
