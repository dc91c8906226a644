"""A capture target: a TikTok @handle, given as a handle or as a live URL."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# TikTok handles: letters, digits, underscore and period, at most 24 characters.
HANDLE = re.compile(r"^[A-Za-z0-9_.]{1,24}$")
_URL_HANDLE = re.compile(r"^/@([^/?#]+)(?:/live)?/?$")


class InvalidTarget(ValueError):
    """The target is neither a handle nor a TikTok live URL; the message names the value."""


def parse_target(value: str, *, field: str = "target") -> str:
    """The bare handle (no @) of `@handle`, `handle` or `https://www.tiktok.com/@handle/live`."""
    text = value.strip()
    if "/" in text:
        url = text if "://" in text else f"https://{text}"
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        match = _URL_HANDLE.match(parts.path)
        if not host or not match:
            raise InvalidTarget(
                f"{field}={value!r} is not a TikTok live URL; expected https://www.tiktok.com/@HANDLE/live"
            )
        text = match.group(1)
    handle = text.removeprefix("@")
    if not HANDLE.match(handle) or handle.endswith("."):
        raise InvalidTarget(
            f"{field}={value!r} is not a TikTok handle; expected @HANDLE with letters, digits, '_' or '.' "
            "(at most 24), or a live URL"
        )
    return handle
