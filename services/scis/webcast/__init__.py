"""TikTok LIVE webcast protocol: wire format, frames, typed events, room lookup and the push socket."""

from scis.webcast.events import WebcastEvent, iter_events
from scis.webcast.frames import MalformedFrame

__all__ = ["MalformedFrame", "WebcastEvent", "iter_events"]
