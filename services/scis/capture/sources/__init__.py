"""Capture sources: websocket (TikTok's push socket), browser (a real Chromium page), replay (a file)."""

from scis.capture.sources.base import (
    CaptureSource,
    LiveEnded,
    LiveRoom,
    PageEvent,
    RawFetch,
    RawFrame,
    SourceGap,
    SourceItem,
    TargetUnavailable,
)

__all__ = [
    "CaptureSource",
    "LiveEnded",
    "LiveRoom",
    "PageEvent",
    "RawFetch",
    "RawFrame",
    "SourceGap",
    "SourceItem",
    "TargetUnavailable",
]
