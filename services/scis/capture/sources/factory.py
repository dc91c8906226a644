"""Build the source a capture asks for."""

from __future__ import annotations

from pathlib import Path

from scis.capture.sources.base import CaptureSource
from scis.capture.sources.replay import ReplaySource
from scis.capture.sources.websocket import WebsocketSource
from scis.core.settings import Settings

SOURCE_KINDS = ("websocket", "browser", "replay")


def build_source(kind: str, handle: str, settings: Settings, *, replay_file: Path | None = None) -> CaptureSource:
    if kind == "websocket":
        return WebsocketSource(
            handle,
            tiktok_base_url=settings.tiktok_base_url,
            webcast_base_url=settings.webcast_base_url,
            watchdog_seconds=settings.watchdog_seconds,
        )
    if kind == "browser":
        from scis.capture.sources.browser import BrowserSource  # Playwright is imported only when used

        return BrowserSource(handle, settings=settings)
    if kind == "replay":
        if replay_file is None:
            raise ValueError("a replay capture needs a replay file")
        return ReplaySource(replay_file, handle=handle or None)
    raise ValueError(f"source={kind!r} is not one of {', '.join(SOURCE_KINDS)}")
