"""Room lookup for sources: the webcast room API's answers as session statuses."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from scis.capture.sources.base import TargetUnavailable
from scis.core.status import SessionStatus
from scis.webcast.room import (
    BlockedCountry,
    NotLive,
    PrivateLive,
    RoomInfo,
    RoomLookupError,
    UserNotFound,
    fetch_room,
)

STATUS_OF = (
    (UserNotFound, SessionStatus.NOT_FOUND),
    (NotLive, SessionStatus.OFFLINE),
    (PrivateLive, SessionStatus.PRIVATE),
    (BlockedCountry, SessionStatus.BLOCKED),
)


async def find_room(
    tiktok_base_url: str,
    webcast_base_url: str,
    handle: str,
    *,
    client: httpx.AsyncClient | None = None,
    cookies: Mapping[str, str] | None = None,
) -> RoomInfo:
    """The live room of a handle; TargetUnavailable names the status (not_found, offline, ...)."""
    try:
        return await fetch_room(tiktok_base_url, webcast_base_url, handle, client=client, cookies=cookies)
    except RoomLookupError as error:
        for kind, status in STATUS_OF:
            if isinstance(error, kind):
                raise TargetUnavailable(status, str(error)) from error
        raise TargetUnavailable(SessionStatus.FAILED, str(error)) from error
    except httpx.HTTPError as error:
        problem = f"@{handle}: cannot reach TikTok at {tiktok_base_url}: {error}"
        raise TargetUnavailable(SessionStatus.FAILED, problem) from error
