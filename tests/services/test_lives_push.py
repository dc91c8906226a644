"""The lives list pushed over Socket.IO: a real python-socketio client gets the list on connect and a
push when a live of its case starts and ends; an outsider never sees it; no token, no connection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import socketio

from scis.core.settings import Settings
from scis.lives.push import SOCKET_PATH
from scis.serve import load_app
from tests.support.cases import make_case
from tests.support.served import served


@pytest.fixture
async def lives_url(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    async with served(load_app("lives", settings.model_copy(update={"home": tmp_path}))) as url:
        yield url


class Follower:
    """A browser following the lives list: every `lives` message it was pushed."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient()
        self.pushes: list[list[dict[str, Any]]] = []
        self.client.on("lives", self.pushes.append)

    async def connect(self, url: str, auth: dict[str, Any]) -> None:
        await self.client.connect(url, auth=auth, socketio_path=SOCKET_PATH, transports=["websocket"])

    def ids(self) -> list[str]:
        return [live["session"]["id"] for live in self.pushes[-1]] if self.pushes else []


async def until(check: Any, seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_lives_list_is_pushed_to_members_only(lives_url: str, tokens: dict[str, str], postgres_url: str) -> None:
    case_id = make_case(postgres_url, created_by="t-admin", members=["t-viewer"])
    with pytest.raises(socketio.exceptions.ConnectionError):
        await Follower().connect(lives_url, {})
    member, outsider, bad = Follower(), Follower(), Follower()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await bad.connect(lives_url, {"token": tokens["viewer"], "case_id": "one"})
    await member.connect(lives_url, {"token": tokens["viewer"], "case_id": case_id})
    await outsider.connect(lives_url, {"token": tokens["investigator"]})
    try:
        await until(lambda: bool(member.pushes) and bool(outsider.pushes))  # the list is sent on connect
        assert member.ids() == []
        session_id = str(uuid.uuid4())
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(
                """INSERT INTO live_sessions (id, case_id, target, source, status, created_by)
                   VALUES (%s, %s, 'pushed.live', 'websocket', 'live', 't-admin')""",
                (session_id, case_id),
            )
            await until(lambda: member.ids() == [session_id])
            pushed = member.pushes[-1][0]
            assert pushed["session"]["status"] == "live" and pushed["webrtc_viewers"] == 0
            count = len(member.pushes)
            await asyncio.sleep(2.5)
            assert len(member.pushes) == count, "an unchanged list (only durations move) is not pushed again"
            conn.execute("UPDATE live_sessions SET status = 'ended', ended_at = now() WHERE id = %s", (session_id,))
            await until(lambda: member.ids() == [])
        assert all(session_id not in [live["session"]["id"] for live in push] for push in outsider.pushes)
    finally:
        for follower in (member, outsider):
            await follower.client.disconnect()
