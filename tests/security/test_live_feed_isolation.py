"""The Socket.IO live feed over real HTTP: joining a session's room needs membership of its case, and a
browser connection must come from SCIS's own origin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import socketio

from scis.core.settings import Settings
from tests.support.cases import make_session
from tests.support.served import served_service


@pytest.fixture
async def analyser_url(settings: Settings) -> AsyncIterator[str]:
    async with served_service("analyser", settings) as url:
        yield url


async def connected(url: str, token: str, headers: dict[str, str] | None = None) -> socketio.AsyncClient:
    client = socketio.AsyncClient()
    await client.connect(url, auth={"token": token}, headers=headers or {}, transports=["websocket"])
    return client


async def test_joining_a_live_needs_membership_of_its_case(
    analyser_url: str,
    tokens: dict[str, str],
    accounts: dict[str, str],
    postgres_url: str,
    member_case: int,
    outsider_case: int,
) -> None:
    owner = accounts["admin"]
    ours = make_session(postgres_url, case_id=member_case, created_by=owner)
    theirs = make_session(postgres_url, case_id=outsider_case, created_by=owner)
    someone_elses_caseless = make_session(postgres_url, case_id=None, created_by=owner)
    for role in ("viewer", "investigator"):
        client = await connected(analyser_url, tokens[role])
        try:
            assert (await client.call("join", {"session_id": ours}, timeout=30))["ok"] is True
            for refused in (theirs, someone_elses_caseless):
                answer = await client.call("join", {"session_id": refused}, timeout=30)
                assert answer == {"ok": False, "error": f"not allowed to follow live session {refused}"}, role
        finally:
            await client.disconnect()
    admin = await connected(analyser_url, tokens["admin"])
    try:
        assert (await admin.call("join", {"session_id": theirs}, timeout=30))["ok"] is True
    finally:
        await admin.disconnect()


async def test_a_socket_from_another_origin_is_refused(
    analyser_url: str, tokens: dict[str, str], settings: Settings
) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connected(analyser_url, tokens["viewer"], headers={"Origin": "https://evil.example"})
    # The configured public address is accepted, and so is a client that sends no Origin (a script).
    for headers in ({"Origin": settings.origin}, {}):
        client = await connected(analyser_url, tokens["viewer"], headers=headers)
        await client.disconnect()
