"""The simulator's HTTP and WebSocket surface: www.tiktok.com pages and webcast.tiktok.com API paths."""

from __future__ import annotations

import base64
import json
import time
from importlib.resources import files
from typing import Annotated, Any, Protocol, cast

from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.requests import HTTPConnection

from scis.simulator.protocol import ON_PING_KEY
from scis.simulator.room import FAULTS, SimRoom
from scis.simulator.session import PushSession
from scis.simulator.video import QUALITIES, flv_stream, video_available
from scis.webcast.room import USER_NOT_FOUND_CODE

PRIVATE_STATUS_CODE = 4003101  # the simulator's own codes; SCIS classifies by the message text
BLOCKED_STATUS_CODE = 4003102
ROOM_NOT_FOUND_CODE = 4003103
PRIVATE_PROMPT = "This LIVE is private"
BLOCKED_PROMPT = "This LIVE isn't available in your country or region"
FLV_PULL_KEYS = {"FULL_HD1": "origin", "HD1": "hd", "SD2": "sd", "SD1": "ld"}
PROTOBUF_MEDIA_TYPE = "application/protobuffer"


class Simulator(Protocol):
    """What the routes need of the simulator that serves them (SimulatorServer, in app.state.simulator)."""

    rooms: dict[str, SimRoom]
    webcast_base_url: str | None
    stopping: bool

    def room_by_id(self, room_id: str | int) -> SimRoom | None: ...

    def add_room(self, handle: str, **spec: Any) -> SimRoom: ...


def current_simulator(connection: HTTPConnection) -> Simulator:
    return cast(Simulator, connection.app.state.simulator)


Sim = Annotated[Simulator, Depends(current_simulator)]


def create_app() -> FastAPI:
    """The ASGI app of one simulator; whoever serves it puts itself in ``app.state.simulator``."""
    app = FastAPI(title="SCIS TikTok LIVE simulator", docs_url="/_sim/docs", openapi_url="/_sim/openapi.json")
    template = files("scis.simulator").joinpath("static/live.html").read_text(encoding="utf-8")

    def now_ms() -> int:
        return int(time.time() * 1000)

    def room_or_none(sim: Simulator, room_id: str | None) -> SimRoom | None:
        return sim.room_by_id(room_id) if room_id else None

    # -- www.tiktok.com ---------------------------------------------------------------------------

    @app.get("/@{handle}/live", response_class=HTMLResponse)
    def live_page(handle: str, sim: Sim) -> HTMLResponse:
        room = sim.rooms.get(handle.lstrip("@"))
        if room is None:
            state: dict[str, Any] = {"LiveRoom": {"statusCode": USER_NOT_FOUND_CODE, "statusMsg": "user_not_exist"}}
            title, room_id = "Couldn't find this account", ""
        else:
            state = {"LiveRoom": _live_room_state(room)}
            title, room_id = room.title, str(room.room_id)
        html = (
            template.replace("__SIGI_STATE__", json.dumps(state).replace("</", "<\\/"))
            .replace("__ROOM_ID__", room_id)
            .replace("__TITLE__", _escape(title))
            .replace("__WEBCAST_BASE__", json.dumps(sim.webcast_base_url or ""))
        )
        return HTMLResponse(html)

    # -- webcast.tiktok.com -----------------------------------------------------------------------

    @app.get("/webcast/room/check_alive/")
    def check_alive(sim: Sim, room_ids: str = "") -> JSONResponse:
        data = []
        for room_id in filter(None, room_ids.split(",")):
            room = room_or_none(sim, room_id)
            alive = room is not None and room.is_live
            data.append({"alive": alive, "room_id": int(room_id), "room_id_str": room_id})
        return JSONResponse({"data": data, "extra": {"now": now_ms()}, "status_code": 0})

    @app.get("/webcast/room/info/")
    def room_info(request: Request, sim: Sim, room_id: str = "") -> JSONResponse:
        room = room_or_none(sim, room_id)
        if room is None:
            return _error(ROOM_NOT_FOUND_CODE, "room not found", "This LIVE doesn't exist")
        if room.state == "private":
            return _error(PRIVATE_STATUS_CODE, "private room", PRIVATE_PROMPT)
        if room.state == "blocked":
            return _error(BLOCKED_STATUS_CODE, "region blocked", BLOCKED_PROMPT)
        base = str(request.base_url).rstrip("/")
        return JSONResponse({"data": _room_data(room, base), "extra": {"now": now_ms()}, "status_code": 0})

    @app.get("/webcast/im/fetch/")
    def im_fetch(request: Request, sim: Sim, room_id: str = "", cursor: str = "", internal_ext: str = "") -> Response:
        room = room_or_none(sim, room_id)
        if room is None or not room.is_live or room.state != "live":
            return _error(ROOM_NOT_FOUND_CODE, "room not live", "This LIVE has ended")
        position = room.position_from(cursor, internal_ext)
        start = room.fresh_position() if position is None else position
        end = min(len(room.sent_messages), start + 100)
        ws_base = str(request.base_url).rstrip("/").replace("http", "ws", 1)
        response = room.response_for(
            start, end, push_server=f"{ws_base}/webcast/im/push/v2/", is_first=position is None
        )
        return Response(response.SerializeToString(), media_type=PROTOBUF_MEDIA_TYPE)

    @app.websocket("/webcast/im/push/v2/")
    async def push(websocket: WebSocket, sim: Sim) -> None:
        params = websocket.query_params
        room = room_or_none(sim, params.get("room_id"))
        if room is None or not room.is_live or room.state != "live":
            await websocket.close(code=1008)
            return
        websocket.scope.setdefault("extensions", {})[ON_PING_KEY] = room.record_ping
        await websocket.accept()
        room.connections += 1
        position = room.position_from(params.get("cursor", ""), params.get("internal_ext", ""))
        start = room.fresh_position() if position is None else max(0, position - room.resend_on_resume)
        session = PushSession(room, websocket, start)
        room.sessions.add(session)
        try:
            await session.run()
        finally:
            room.sessions.discard(session)

    # -- the CDN ----------------------------------------------------------------------------------

    @app.get("/stage/stream-{room_id}_{quality}.flv")
    def flv(room_id: str, quality: str, sim: Sim) -> StreamingResponse:
        room = room_or_none(sim, room_id)
        if room is None or not room.is_live or quality not in QUALITIES:
            raise HTTPException(404, "no such stream")
        if not video_available():
            raise HTTPException(503, "the simulator's video stream needs PyAV: pip install 'scis[video]'")
        room.video_connections += 1
        drops = room.video_drops
        return StreamingResponse(
            flv_stream(quality, lambda: room.is_live and not sim.stopping and room.video_drops == drops),
            media_type="video/x-flv",
        )

    # -- control API ------------------------------------------------------------------------------

    @app.get("/_sim/rooms")
    def list_rooms(sim: Sim) -> list[dict[str, Any]]:
        return [room.stats() for room in sim.rooms.values()]

    @app.post("/_sim/rooms")
    async def add_room(spec: dict[str, Any], sim: Sim) -> dict[str, Any]:
        handle = spec.pop("handle")
        room = sim.add_room(handle, **spec)
        return room.stats()

    @app.get("/_sim/rooms/{handle}")
    def room_stats(handle: str, sim: Sim) -> dict[str, Any]:
        return _room(sim, handle).stats()

    @app.get("/_sim/rooms/{handle}/sent")
    def sent(handle: str, sim: Sim) -> list[dict[str, Any]]:
        return [
            {"msg_id": m.msg_id, "method": m.method, "raw_b64": base64.b64encode(m.SerializeToString()).decode()}
            for m in _room(sim, handle).sent_messages
        ]

    @app.post("/_sim/rooms/{handle}/start")
    def start(handle: str, sim: Sim) -> dict[str, Any]:
        room = _room(sim, handle)
        room.start()
        return room.stats()

    @app.post("/_sim/rooms/{handle}/fault/{name}")
    async def fault(handle: str, name: str, request: Request, sim: Sim) -> dict[str, Any]:
        if name not in FAULTS:
            raise HTTPException(404, f"unknown fault {name!r}; one of {', '.join(FAULTS)}")
        params: dict[str, Any] = dict(request.query_params)
        if await request.body():
            params.update(await request.json())
        room = _room(sim, handle)
        try:
            room.fault(name, **params)
        except (TypeError, ValueError) as exc:
            raise HTTPException(422, str(exc)) from exc
        return room.stats()

    return app


def _room(sim: Simulator, handle: str) -> SimRoom:
    room = sim.rooms.get(handle.lstrip("@"))
    if room is None:
        raise HTTPException(404, f"no simulated room for @{handle}")
    return room


def _error(code: int, message: str, prompts: str) -> JSONResponse:
    body = {
        "data": {"message": message, "prompts": prompts},
        "extra": {"now": int(time.time() * 1000)},
        "status_code": code,
    }
    return JSONResponse(body)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _owner(room: SimRoom) -> dict[str, Any]:
    host = room.host
    return {
        "id": host.id,
        "id_str": str(host.id),
        "display_id": host.handle,
        "nickname": host.nickname,
        "sec_uid": host.sec_uid,
        "avatar_thumb": {"url_list": [f"https://p16-sign.tiktokcdn.com/sim/{host.id}.webp"]},
    }


def _live_room_state(room: SimRoom) -> dict[str, Any]:
    host = room.host
    return {
        "statusCode": 0,
        "liveRoomStatus": room.status,
        "liveRoomUserInfo": {
            "user": {
                "id": str(host.id),
                "uniqueId": host.handle,
                "nickname": host.nickname,
                "secUid": host.sec_uid,
                "roomId": str(room.room_id),
                "status": room.status,
            },
            "liveRoom": {"title": room.title, "status": room.status, "startTime": room.started_at_ms // 1000},
        },
    }


def _room_data(room: SimRoom, base: str) -> dict[str, Any]:
    flv = {quality: f"{base}/stage/stream-{room.room_id}_{quality}.flv" for quality in QUALITIES}
    stream_data = {
        "common": {"session_id": f"sim-{room.room_id}"},
        "data": {
            quality: {
                "main": {
                    "flv": url,
                    "hls": "",
                    "sdk_params": json.dumps({"resolution": "x".join(map(str, QUALITIES[quality])), "VCodec": "h264"}),
                }
            }
            for quality, url in flv.items()
        },
    }
    return {
        "id": room.room_id,
        "id_str": str(room.room_id),
        "status": room.status,
        "title": room.title,
        "create_time": room.started_at_ms // 1000,
        "owner": _owner(room),
        "owner_user_id": room.host.id,
        "user_count": room.factory.member_count,
        "stream_url": {
            "flv_pull_url": {key: flv[quality] for key, quality in FLV_PULL_KEYS.items()},
            "live_core_sdk_data": {"pull_data": {"stream_data": json.dumps(stream_data)}},
        },
    }
