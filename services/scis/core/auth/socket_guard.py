"""Closes Socket.IO connections whose login session ended.

A revocation (sign-out, disabled account, role or password change) is published on
`scis:sessions:revoked`; every connection of a revoked session is disconnected as soon as the
message arrives. Sessions that simply expire are found by a sweep every few seconds (one pipelined
EXISTS per sweep). A connection's identity is the `User` its authenticate callback saved in the
Socket.IO session under "identity" (see scis.capture.fanout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from http.cookies import SimpleCookie
from typing import Any

import redis.asyncio as aioredis
import socketio

from scis.core import bus
from scis.core.auth.models import User
from scis.core.auth.sessions import SESSIONS_REVOKED_CHANNEL, live_sessions
from scis.core.deps import TOKEN_COOKIE
from scis.core.tasks import cancel_and_wait

log = logging.getLogger(__name__)


def token_from(environ: dict[str, Any], auth: Any) -> str | None:
    """The bearer token from the Socket.IO auth payload, else from the session cookie."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return str(auth["token"])
    cookies = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    morsel = cookies.get(TOKEN_COOKIE)
    return morsel.value if morsel else None


class SocketSessionGuard:
    def __init__(
        self, sio: socketio.AsyncServer, redis_url: str, *, namespace: str = "/", check_seconds: float = 5.0
    ) -> None:
        self.sio = sio
        self.redis_url = redis_url
        self.namespace = namespace
        self.check_seconds = check_seconds
        self.disconnected = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()

    async def start(self) -> None:
        """Listen for revocations and sweep for expiries; returns once the subscription is active."""
        if not self._tasks:
            self._listening.clear()
            self._tasks = [
                asyncio.create_task(self._follow_revocations(), name="scis-socket-revocations"),
                asyncio.create_task(self._sweep_expired(), name="scis-socket-expiry"),
            ]
        await asyncio.wait_for(self._listening.wait(), 10)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []

    async def connected_sessions(self) -> dict[str, str]:
        """Socket id -> login session id of every connection on this server."""
        found: dict[str, str] = {}
        for sid, _ in list(self.sio.manager.get_participants(self.namespace, None)):
            with contextlib.suppress(KeyError):
                identity = (await self.sio.get_session(sid, namespace=self.namespace)).get("identity")
                if isinstance(identity, User) and identity.session_id:
                    found[sid] = identity.session_id
        return found

    async def disconnect_sessions(self, ended: set[str]) -> int:
        """Disconnect every connection whose login session is in `ended`; returns how many."""
        closed = 0
        for sid, session_id in (await self.connected_sessions()).items():
            if session_id in ended:
                await self.sio.disconnect(sid, namespace=self.namespace)
                closed += 1
        self.disconnected += closed
        return closed

    async def _follow_revocations(self) -> None:
        await bus.follow(
            self.redis_url,
            SESSIONS_REVOKED_CHANNEL,
            handle=self._on_revoked,
            subscribed=self._listening,
            what="session revocations",
        )

    async def _on_revoked(self, channel: str, payload: dict[str, object]) -> None:
        session_ids = payload.get("session_ids")
        if not isinstance(session_ids, list):
            log.warning("ignoring a malformed message on %s", channel)
            return
        await self.disconnect_sessions({str(session_id) for session_id in session_ids})

    async def _sweep_expired(self) -> None:
        client = bus.connect(self.redis_url)
        try:
            while True:
                await asyncio.sleep(self.check_seconds)
                try:
                    connected = set((await self.connected_sessions()).values())
                    alive = await live_sessions(client, sorted(connected))
                    await self.disconnect_sessions(connected - alive)
                except (aioredis.RedisError, OSError) as error:
                    log.warning("session expiry sweep: Redis failed (%s); retrying", error)
        finally:
            await client.aclose()
