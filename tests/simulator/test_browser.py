"""The live page in a real Chromium: it must receive real frames and render events in the DOM."""

from __future__ import annotations

from pathlib import Path

import pytest

from scis.simulator import SimulatorServer
from scis.webcast.events import iter_events
from scis.webcast.frames import decode, frame_payload
from tests.support.requirements import require

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.browser
require(CHROMIUM.exists(), "needs Chromium at /usr/bin/chromium: run make system-deps")


async def test_live_page_in_chromium(sim: SimulatorServer) -> None:
    from playwright.async_api import WebSocket, async_playwright

    room = sim.add_room("browser_host", "every_message")
    frames: list[bytes] = []

    def on_websocket(ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: frames.append(payload) if isinstance(payload, bytes) else None)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            page.on("websocket", on_websocket)
            await page.goto(f"{sim.base_url}/@browser_host/live")
            await page.wait_for_selector('[data-e2e="live-ended"]', timeout=5000)
            chats = await page.eval_on_selector_all(
                '[data-e2e="chat-message"]',
                "els => els.map(e => [e.querySelector('[data-e2e=message-owner-name]').textContent,"
                " e.querySelector('[data-e2e=chat-message-text]').textContent])",
            )
            gifts = await page.locator('[data-e2e="gift-message"]').count()
            joins = await page.locator('[data-e2e="enter-message"]').count()
        finally:
            await browser.close()

    assert chats == [["Alice", "hello from Alice"], ["Bob 🔨", "@alice_k hi!"], ["Carol", "bye 👋"]]
    assert gifts == 5 and joins == 2
    assert room.enter_rooms and room.heartbeats and room.acks
    received: list[int | None] = []
    for data in frames:
        frame, response = decode(data)
        if response is not None:
            received.extend(e.msg_id for e in iter_events(frame_payload(frame)))
    assert received == [m.msg_id for m in room.sent_messages]
