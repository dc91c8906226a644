"""The browser source: a real Chromium opens the live page and SCIS reads the frames the page receives.

No signing service is involved: the page's own JavaScript talks to TikTok, and Playwright hands
SCIS a copy of every WebSocket binary frame (and of the first im/fetch answer). Session cookies,
if any, are loaded from SCIS_HOME/browser/storage_state.json into this Chromium only; they never
leave the machine. When the page receives no frames at all, chat is read from the page's DOM
instead (kind `chat`, raw = the element's HTML, data.source = "dom").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scis.capture.sources.base import LiveRoom, PageEvent, RawFetch, RawFrame, SourceGap, SourceItem
from scis.capture.sources.lookup import find_room
from scis.core.settings import Settings
from scis.evidence.records import EventRecord
from scis.webcast.room import page_url

log = logging.getLogger(__name__)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-gpu"]  # fmt: skip
PUSH_PATH_MARK = "/webcast/im/push"
FETCH_PATH_MARK = "/webcast/im/fetch"
DOM_BINDING = "__scisDomEvent"
# Reads chat lines added to the page; attributes are TikTok's data-e2e markers.
DOM_OBSERVER = """
(() => {
  if (window.__scisDomObserver) return;
  const KINDS = {"chat-message": "chat", "gift-message": "gift", "enter-message": "join", "social-message": "social"};
  const seen = new WeakSet();
  const report = (node) => {
    if (!(node instanceof HTMLElement) || seen.has(node)) return;
    const kind = KINDS[node.dataset.e2e];
    if (!kind) return;
    seen.add(node);
    const owner = node.querySelector('[data-e2e="message-owner-name"]');
    const text = node.querySelector('[data-e2e="chat-message-text"]');
    window.__scisDomEvent({
      kind, marker: node.dataset.e2e, html: node.outerHTML,
      msg_id: node.dataset.msgId || null, user_id: node.dataset.userId || null,
      unique_id: node.dataset.uniqueId || (owner && owner.title ? owner.title.replace(/^@/, "") : null),
      nickname: owner ? owner.textContent : null,
      body: text ? text.textContent : node.textContent,
    });
  };
  document.querySelectorAll("[data-e2e]").forEach(report);
  window.__scisDomObserver = new MutationObserver((mutations) => {
    for (const m of mutations) for (const n of m.addedNodes) report(n);
  });
  window.__scisDomObserver.observe(document.body, {childList: true, subtree: true});
})();
"""


def _now() -> datetime:
    return datetime.now(UTC)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, str | int) and str(value).isdigit() else None


class BrowserSource:
    name = "browser"

    def __init__(
        self,
        handle: str,
        *,
        settings: Settings,
        storage_state: Path | None = None,
        read_frames: bool = True,
        headless: bool = True,
    ) -> None:
        self.handle = handle
        self.settings = settings
        default_state = settings.home / "browser" / "storage_state.json"
        self.storage_state = storage_state or (default_state if default_state.is_file() else None)
        self.read_frames = read_frames
        self.headless = headless
        self.watchdog_seconds = settings.watchdog_seconds
        self.frames = 0
        self.dom_events = 0
        self.dom_fallback = False
        self._queue: asyncio.Queue[SourceItem | None] = asyncio.Queue()
        self._stopping = False
        self._disconnected_at: datetime | None = None
        self._playwright: Any = None
        self._browser: Any = None
        self._page: Any = None
        self._tasks: set[asyncio.Task[None]] = set()

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "chromium_path": str(self.settings.chromium_path),
            "page": page_url(self.settings.tiktok_base_url, self.handle),
            "watchdog_seconds": self.watchdog_seconds,
            "cookies_loaded": self.storage_state is not None,  # the cookies themselves are never recorded
        }

    async def open(self) -> LiveRoom:
        room = await find_room(self.settings.tiktok_base_url, self.settings.webcast_base_url, self.handle)
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        try:
            self._browser = await self._playwright.chromium.launch(
                executable_path=str(self.settings.chromium_path), args=CHROMIUM_ARGS, headless=self.headless
            )
            context = await self._browser.new_context(
                storage_state=str(self.storage_state) if self.storage_state else None
            )
            self._page = await context.new_page()
            if self.read_frames:
                self._page.on("websocket", self._on_websocket)
                self._page.on("response", self._on_response)
            await self._page.expose_function(DOM_BINDING, self._on_dom_event)
            await self._page.goto(page_url(self.settings.tiktok_base_url, self.handle), wait_until="domcontentloaded")
        except Exception:
            await self._close_browser()
            raise
        return LiveRoom(
            handle=self.handle,
            room_id=room.room_id,
            title=room.title,
            host_user_id=room.host.id,
            details={"room_status": room.status, "host_nickname": room.host.nickname},
            video_urls=dict(room.stream_urls),
        )

    # -- what the page receives -------------------------------------------------------------------

    def _on_websocket(self, ws: Any) -> None:
        if PUSH_PATH_MARK not in ws.url:
            return
        if self._disconnected_at is not None:
            self._queue.put_nowait(
                SourceGap(
                    self._disconnected_at, _now(), "disconnect", "the page's push socket closed; the page reconnected"
                )
            )
            self._disconnected_at = None
        ws.on("framereceived", self._on_frame)
        ws.on("close", lambda _ws: self._on_socket_closed())

    def _on_frame(self, payload: bytes | str) -> None:
        if isinstance(payload, bytes):
            self.frames += 1
            self._queue.put_nowait(RawFrame(payload, _now()))

    def _on_socket_closed(self) -> None:
        if not self._stopping:
            self._disconnected_at = self._disconnected_at or _now()

    def _on_response(self, response: Any) -> None:
        if FETCH_PATH_MARK in response.url and response.ok:
            task = asyncio.create_task(self._read_fetch(response, _now()))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _read_fetch(self, response: Any, at: datetime) -> None:
        with contextlib.suppress(Exception):
            self._queue.put_nowait(RawFetch(await response.body(), at))

    def _on_dom_event(self, item: dict[str, Any]) -> None:
        if not self.dom_fallback or self._stopping:
            return
        self.dom_events += 1
        record = EventRecord(
            kind=str(item.get("kind") or "unknown"),
            captured_at=_now(),
            msg_id=_int(item.get("msg_id")),
            method=f"dom:{item.get('marker')}",
            user_id=_int(item.get("user_id")),
            unique_id=item.get("unique_id") or None,
            nickname=item.get("nickname") or None,
            body=item.get("body"),
            data={"source": "dom"},
            raw=str(item.get("html") or "").encode(),
        )
        self._queue.put_nowait(PageEvent(record))

    # -- the capture loop -------------------------------------------------------------------------

    async def items(self) -> AsyncIterator[SourceItem]:
        silent_since = _now()
        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), self.watchdog_seconds)
            except TimeoutError:
                if self._stopping:
                    return
                await self._on_silence(silent_since)
                silent_since = _now()
                continue
            if item is None:
                while not self._queue.empty():  # what arrived before stop() is kept
                    rest = self._queue.get_nowait()
                    if rest is not None:
                        yield rest
                return
            silent_since = _now()
            yield item

    async def _on_silence(self, since: datetime) -> None:
        """No frame for the watchdog period: read the DOM if frames never came, else reload the page."""
        if self.frames == 0 and not self.dom_fallback:
            log.warning("@%s: the page received no frames; reading chat from the page instead", self.handle)
            self.dom_fallback = True
            await self._page.evaluate(DOM_OBSERVER)
            return
        if self.dom_fallback:
            return
        detail = f"no frame for {self.watchdog_seconds:g} s: page reloaded"
        log.warning("@%s: %s", self.handle, detail)
        with contextlib.suppress(Exception):
            await self._page.reload(wait_until="domcontentloaded")
        self._queue.put_nowait(SourceGap(since, _now(), "stall", detail))

    async def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        await self._close_browser()
        self._queue.put_nowait(None)

    async def _close_browser(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            if self._browser is not None:
                await self._browser.close()
        with contextlib.suppress(Exception):
            if self._playwright is not None:
                await self._playwright.stop()
        self._browser = self._playwright = self._page = None
