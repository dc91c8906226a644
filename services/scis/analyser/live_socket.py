"""The analyser's Socket.IO endpoint: signed-in browsers follow a live's events in real time."""

from __future__ import annotations

from typing import Any

import socketio
from fastapi import FastAPI

from scis.analyser.case_alerts import CaseAlertFanout
from scis.analyser.fanout import LiveEventFanout
from scis.core import cases
from scis.core.auth.models import User
from scis.core.auth.service import InvalidToken
from scis.core.auth.sessions import user_of_token
from scis.core.auth.socket_guard import SocketSessionGuard, token_from
from scis.core.settings import Settings


def mount_live_socket(app: FastAPI, settings: Settings) -> LiveEventFanout:
    """Serve Socket.IO at /socket.io/ on the analyser app; every connection must carry a valid token.

    app.state.socket_guard disconnects connections whose login session is revoked or expires.
    """
    # A browser's connection must come from SCIS's own pages (Origin = SCIS_PUBLIC_URL): another site
    # cannot open a socket with the visitor's cookie. Clients that send no Origin (scripts) use a token.
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=settings.allowed_origins)

    async def authenticate(environ: dict[str, Any], auth: Any) -> User | None:
        token = token_from(environ, auth)
        if not token:
            return None
        try:
            return await user_of_token(app.state.redis, token, secret=settings.secret_key)
        except InvalidToken:
            return None

    async def authorize(identity: Any, session_id: str) -> bool:
        # Watching a live is reading its case's evidence: members of the case (and admins) only.
        if not isinstance(identity, User):
            return False
        async with app.state.pool.connection() as conn:
            return await cases.may_see_session(conn, user=identity, session_id=session_id)

    async def authorize_case(identity: Any, case_id: int) -> bool:
        if not isinstance(identity, User):
            return False
        async with app.state.pool.connection() as conn:
            try:
                await cases.require_member(conn, user=identity, case_id=case_id)
            except cases.CaseNotFound:
                return False
            return True

    assert settings.redis_url is not None
    fanout = LiveEventFanout(sio, settings.redis_url, authenticate=authenticate, authorize=authorize)
    app.state.case_alerts = CaseAlertFanout(sio, settings.redis_url, authorize_case=authorize_case)
    app.state.socket_guard = SocketSessionGuard(
        sio, settings.redis_url, check_seconds=settings.socket_session_check_seconds
    )
    app.mount("/socket.io", socketio.ASGIApp(sio, socketio_path=""))
    return fanout
