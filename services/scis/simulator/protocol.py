"""uvicorn's wsproto WebSocket protocol, made to behave like TikTok's push server."""

from __future__ import annotations

from collections.abc import Callable

from uvicorn.protocols.websockets.wsproto_impl import WSProtocol
from wsproto import events

TRANSPORT_KEY = "scis.transport"
ON_PING_KEY = "scis.on_ping"


class TikTokWSProtocol(WSProtocol):
    """Records WebSocket pings (then answers them, as TikTok's push server does) and exposes the
    transport, to die silently."""

    def handle_connect(self, event: events.Request) -> None:
        super().handle_connect(event)
        self.scope["extensions"][TRANSPORT_KEY] = self.transport  # type: ignore[index,assignment]

    def handle_ping(self, event: events.Ping) -> None:
        extensions = getattr(self, "scope", {}).get("extensions") or {}
        on_ping: Callable[[bytes], None] | None = extensions.get(ON_PING_KEY)
        if on_ping is not None:
            on_ping(bytes(event.payload))
        super().handle_ping(event)
