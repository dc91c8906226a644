"""Cross-site request refusal: a write sent with the login cookie must come from SCIS's own pages.

Browsers attach the HttpOnly `scis_token` cookie to any request to our host, wherever the page that
sends it comes from; SameSite=strict already keeps it off cross-site requests in current browsers,
this is the second lock. Bearer-token clients (scripts, the CLI, services calling each other) send
no cookie a third-party page could borrow, so they are not affected.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from scis.core.deps import TOKEN_COOKIE

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of a URL (what a browser sends as Origin), None when it has none."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(sent: str | None, allowed: Sequence[str]) -> bool:
    return sent is not None and sent.rstrip("/").lower() in allowed


def has_token_cookie(cookie_header: str) -> bool:
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(cookie_header)
    except CookieError:
        return False
    return TOKEN_COOKIE in cookies


class CookieWriteOriginMiddleware:
    """403 for a cookie-authenticated write whose Origin (or, lacking it, Referer) is not SCIS's own."""

    def __init__(self, app: ASGIApp, allowed_origins: Sequence[str]) -> None:
        self.app = app
        self.allowed_origins = [origin.lower() for origin in allowed_origins]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers") or []}
        if headers.get("authorization", "").lower().startswith("bearer ") or not has_token_cookie(
            headers.get("cookie", "")
        ):
            await self.app(scope, receive, send)
            return
        sent = headers.get("origin") or origin_of(headers.get("referer", ""))
        if origin_allowed(sent, self.allowed_origins):
            await self.app(scope, receive, send)
            return
        detail = (
            f"refused: a write signed in by cookie must come from {' or '.join(self.allowed_origins)} "
            f"(Origin was {sent!r}); "
            "open SCIS at that address, or set SCIS_PUBLIC_URL to the address you use"
        )
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
