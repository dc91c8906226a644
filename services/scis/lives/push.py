"""The lives list pushed over Socket.IO (at /api/lives/socket.io/), so a browser need not poll.

Authentication follows the analyser's socket (scis.analyser.live_socket): the token in the auth
payload or the session cookie, Origin checked, connections of a revoked login closed by the
SocketSessionGuard. A client may pass `case_id` in its auth payload to follow one case's lives.

Every PUSH_SECONDS the service reads each connected caller's list (the same function as GET
/lives/active, so the same case-membership filter) and emits `lives` to that connection only when
the list changed: a live starting or ending, its status, counters or viewers. Durations are not a
change (the browser counts them up from started_at). On connect the current list is sent at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import socketio
from fastapi import FastAPI

from scis.core.auth.models import User
from scis.core.auth.service import InvalidToken
from scis.core.auth.sessions import user_of_token
from scis.core.auth.socket_guard import SocketSessionGuard, token_from
from scis.core.settings import Settings
from scis.lives import service
from scis.lives.models import ActiveLive

log = logging.getLogger(__name__)

PUSH_SECONDS = 1.0
SOCKET_PATH = "/api/lives/socket.io"


def change_key(lives: list[ActiveLive]) -> str:
    """What makes two lists differ for the viewer: everything but the running durations."""
    return json.dumps([live.model_dump(mode="json", exclude={"duration_seconds"}) for live in lives], sort_keys=True)


class LivesPush:
    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=settings.allowed_origins)
        self.sent: dict[str, str] = {}  # sid -> change key of the list last emitted to it
        self.pushes = 0
        self._task: asyncio.Task[None] | None = None
        self.guard: SocketSessionGuard | None = None
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)

    def mount(self) -> None:
        self.app.mount(SOCKET_PATH, socketio.ASGIApp(self.sio, socketio_path=""))

    async def start(self) -> None:
        if self.settings.redis_url:  # no Redis, no login sessions to follow (nor any connection accepted)
            self.guard = SocketSessionGuard(
                self.sio, self.settings.redis_url, check_seconds=self.settings.socket_session_check_seconds
            )
            await self.guard.start()
        self._task = asyncio.create_task(self._loop(), name="lives-push")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.guard is not None:
            await self.guard.stop()

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = token_from(environ, auth)
        if not token:
            raise socketio.exceptions.ConnectionRefusedError("not signed in: pass {token} in the auth payload")
        try:
            user = await user_of_token(self.app.state.redis, token, secret=self.settings.secret_key)
        except InvalidToken as error:
            raise socketio.exceptions.ConnectionRefusedError(f"token refused ({error}); sign in again") from None
        case_id = auth.get("case_id") if isinstance(auth, dict) else None
        if case_id is not None and (not isinstance(case_id, int) or isinstance(case_id, bool) or case_id < 1):
            raise socketio.exceptions.ConnectionRefusedError(f"case_id {case_id!r}: must be a positive integer")
        await self.sio.save_session(sid, {"identity": user, "case_id": case_id})
        self.sent[sid] = ""
        asyncio.get_running_loop().create_task(self._push_to(sid))

    async def _disconnect(self, sid: str, *_: Any) -> None:
        self.sent.pop(sid, None)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(PUSH_SECONDS)
            tick: dict[tuple[str, int | None], list[ActiveLive]] = {}  # one query per viewer and case per tick
            for sid in list(self.sent):
                try:
                    await self._push_to(sid, tick)
                except Exception as error:  # one caller's failure never stops the others' pushes
                    log.warning("lives push to %s failed: %s", sid, error)

    async def _push_to(self, sid: str, tick: dict[tuple[str, int | None], list[ActiveLive]] | None = None) -> None:
        session = await self.sio.get_session(sid)
        user, case_id = session.get("identity"), session.get("case_id")
        if not isinstance(user, User) or sid not in self.sent:
            return
        lives = None if tick is None else tick.get((user.username, case_id))
        if lives is None:
            async with self.app.state.pool.connection() as conn:
                lives = await service.active_lives(
                    conn, user=user, case_id=case_id, viewers_of=self.app.state.viewers.count
                )
            if tick is not None:
                tick[(user.username, case_id)] = lives
        key = change_key(lives)
        if self.sent.get(sid) == key:
            return
        self.sent[sid] = key
        self.pushes += 1
        await self.sio.emit("lives", [live.model_dump(mode="json") for live in lives], to=sid)
