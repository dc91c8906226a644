"""The browser source with a real Chromium against the simulator's live page."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from scis.capture.pipeline import CaptureRequest, LiveCapture
from scis.capture.sources.browser import BrowserSource
from scis.core.settings import Settings
from scis.evidence.verify import verify_session
from scis.simulator import SimulatorServer
from tests.capture.support import capture_settings, session_row, stored_events, stored_msg_ids, wait_for
from tests.support.requirements import require

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.browser
require(CHROMIUM.exists(), "needs Chromium at /usr/bin/chromium: run make system-deps")


def browser_capture(
    sim: SimulatorServer, handle: str, settings: Settings, pool: AsyncConnectionPool[Any], **source_args: Any
) -> LiveCapture:
    sim_settings = settings.model_copy(update={"tiktok_base_url": sim.base_url, "webcast_base_url": sim.base_url})
    source = BrowserSource(handle, settings=sim_settings, **source_args)
    request = CaptureRequest(target=handle, source="browser", session_id=uuid.uuid4())
    return LiveCapture(request, source, pool=pool, settings=sim_settings)


async def test_the_browser_source_captures_every_frame_the_page_receives(
    sim: SimulatorServer, settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    room = sim.add_room("in_browser", "every_message", start="manual")
    capture = browser_capture(sim, "in_browser", settings, pool)
    task = asyncio.create_task(capture.run())
    await wait_for(lambda: room.enter_rooms, seconds=30)  # the page itself entered the room
    room.start()
    await asyncio.wait_for(task, 30)
    rows = await stored_events(pool, capture.session_id)
    assert sorted(stored_msg_ids(rows)) == sorted(m.msg_id for m in room.sent_messages)
    by_id = {row["msg_id"]: row for row in rows}
    for message in room.sent_messages:
        if message.msg_id in by_id:
            assert by_id[message.msg_id]["raw"] == message.SerializeToString()
    session = await session_row(pool, capture.session_id)
    assert session["status"] == "ended" and session["source"] == "browser"
    assert session["config"]["source_detail"]["cookies_loaded"] is False
    async with pool.connection() as conn:
        assert (await verify_session(conn, capture.session_id)).intact


async def test_without_frames_the_chat_is_read_from_the_page(
    sim: SimulatorServer, tmp_path: Path, pool: AsyncConnectionPool[Any]
) -> None:
    settings = capture_settings(tmp_path, watchdog_seconds=1.0)
    room = sim.add_room("dom_only", "every_message", start="manual")
    capture = browser_capture(sim, "dom_only", settings, pool, read_frames=False)
    task = asyncio.create_task(capture.run())
    source = capture.source
    assert isinstance(source, BrowserSource)
    await wait_for(lambda: source.dom_fallback, seconds=30)
    room.start()
    await wait_for(lambda: capture.stats.events_by_kind["chat"] >= 3, seconds=15)
    await capture.stop("enough")
    await asyncio.wait_for(task, 15)
    chats = [row for row in await stored_events(pool, capture.session_id) if row["kind"] == "chat"]
    assert [row["body"] for row in chats] == ["hello from Alice", "@alice_k hi!", "bye 👋"]
    assert chats[0]["unique_id"] == "alice_k" and chats[0]["data"] == {"source": "dom"}
    assert chats[0]["raw"].startswith(b"<div")
