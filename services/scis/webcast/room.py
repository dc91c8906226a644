"""Finding the live: room id from the live page, room status, stream URLs, first fetch, push URL."""

from __future__ import annotations

import functools
import html
import json
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from scis.webcast import webcast_pb2 as pb
from scis.webcast.frames import MalformedFrame, parse_response

AID = "1988"
WEB_VERSION_CODE = "180800"
PUSH_PATH = "/webcast/im/push/v2/"
ROOM_STATUS_LIVE = 2
ROOM_STATUS_OFFLINE = 4
USER_NOT_FOUND_CODE = 19881007  # TikTok's "user does not exist" status code in the live page state
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
FLV_FALLBACK_KEYS = {"FULL_HD1": "origin", "HD1": "hd", "SD2": "sd", "SD1": "ld"}

_SIGI_STATE = re.compile(r'<script[^>]*id="SIGI_STATE"[^>]*>(.*?)</script>', re.S)
_ANDROID_URL = re.compile(r'<meta[^>]*property="al:android:url"[^>]*content="([^"]*)"', re.S)
_ROOM_ID_IN_TEXT = re.compile(r'"roomId"\s*:\s*"(\d+)"')
_ROOM_ID_PARAM = re.compile(r"room_id=(\d+)")


class RoomLookupError(Exception):
    """The live could not be found or opened."""


class UserNotFound(RoomLookupError):
    """No TikTok user has this handle."""


class NotLive(RoomLookupError):
    """The user exists but is not live now."""


class PrivateLive(RoomLookupError):
    """The live is private (followers or invitation only)."""


class BlockedCountry(RoomLookupError):
    """TikTok refuses this live to the capture's country or region."""


@dataclass(slots=True)
class HostUser:
    id: int | None
    unique_id: str
    nickname: str | None = None
    sec_uid: str | None = None
    avatar_url: str | None = None


@dataclass(slots=True)
class RoomInfo:
    room_id: str
    status: int
    title: str
    host: HostUser
    stream_urls: dict[str, str] = field(default_factory=dict)  # quality ("origin", "hd", "sd", "ld") -> FLV
    hls_url: str | None = None
    push_server: str | None = None
    route_params: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # room/info "data" as received

    @property
    def is_live(self) -> bool:
        return self.status != ROOM_STATUS_OFFLINE


def page_url(tiktok_base_url: str, handle: str) -> str:
    """The live page URL of a handle."""
    return f"{tiktok_base_url.rstrip('/')}/@{handle.lstrip('@')}/live"


def room_id_from_page(page: str) -> tuple[str | None, dict[str, Any]]:
    """The room id the live page carries (page state first, then the app-link meta) and the page state."""
    state: dict[str, Any] = {}
    if match := _SIGI_STATE.search(page):
        try:
            state = json.loads(match.group(1))
        except json.JSONDecodeError:
            state = {}
    user = state.get("LiveRoom", {}).get("liveRoomUserInfo", {}).get("user", {})
    if room_id := str(user.get("roomId") or ""):
        return room_id, state
    meta = _ANDROID_URL.search(page)
    if meta and (param := _ROOM_ID_PARAM.search(html.unescape(meta.group(1)))):
        return param.group(1), state
    if match := _ROOM_ID_IN_TEXT.search(page):
        return match.group(1), state
    return None, state


async def fetch_room(
    tiktok_base_url: str,
    webcast_base_url: str,
    handle: str,
    *,
    client: httpx.AsyncClient | None = None,
    cookies: Mapping[str, str] | None = None,
) -> RoomInfo:
    """Find a handle's live room; raises UserNotFound, NotLive, PrivateLive or BlockedCountry."""
    handle = handle.lstrip("@")
    async with _client(client, cookies) as http:
        response = await http.get(page_url(tiktok_base_url, handle))
        if response.status_code == 404:
            raise UserNotFound(f"@{handle}: no such TikTok user (live page answered 404)")
        page = response.text
        room_id, state = room_id_from_page(page)
        live_room = state.get("LiveRoom", {})
        _raise_for_status(handle, live_room.get("statusCode"), live_room.get("statusMsg") or "")
        if _mentions_blocked(page) and not room_id:
            raise BlockedCountry(f"@{handle}: this LIVE is not available in the capture's country or region")
        if not live_room.get("liveRoomUserInfo", {}).get("user") and not room_id:
            raise UserNotFound(f"@{handle}: no such TikTok user (no user in the live page)")
        if not room_id:
            raise NotLive(f"@{handle} is not live (the live page carries no room id)")

        alive = await _get_json(http, webcast_base_url, "/webcast/room/check_alive/", room_ids=room_id)
        _raise_for_status(handle, alive.get("status_code"), _message(alive))
        entries = alive.get("data") or []
        if entries and not entries[0].get("alive", False):
            raise NotLive(f"@{handle} is not live (room {room_id} is not alive)")

        info = await _get_json(http, webcast_base_url, "/webcast/room/info/", room_id=room_id)
        _raise_for_status(handle, info.get("status_code"), _message(info))
        data = info.get("data") or {}
        status = int(data.get("status", 0))
        if status == ROOM_STATUS_OFFLINE:
            raise NotLive(f"@{handle} is not live (room {room_id} has status 4, offline)")
        return _room_info(handle, room_id, status, data)


async def fetch_first(
    webcast_base_url: str,
    room_id: str,
    *,
    cursor: str = "",
    internal_ext: str = "",
    client: httpx.AsyncClient | None = None,
    cookies: Mapping[str, str] | None = None,
) -> pb.WebcastResponse:
    """The first fetch result (cursor, internal_ext, push_server, route_params and the first messages)."""
    params = {**web_client_params(room_id), "cursor": cursor, "internal_ext": internal_ext}
    async with _client(client, cookies) as http:
        response = await http.get(f"{webcast_base_url.rstrip('/')}/webcast/im/fetch/", params=params)
    if response.status_code != 200:
        raise RoomLookupError(f"room {room_id}: im/fetch answered HTTP {response.status_code}")
    try:
        return parse_response(response.content)
    except MalformedFrame as exc:
        raise RoomLookupError(f"room {room_id}: im/fetch returned no fetch result: {exc.reason}") from exc


def web_client_params(room_id: str) -> dict[str, str]:
    """The query parameters the TikTok web client sends with webcast calls."""
    return {
        "aid": AID,
        "app_name": "tiktok_web",
        "browser_platform": "Linux x86_64",
        "device_platform": "web_pc",
        "identity": "audience",
        "live_id": "12",
        "resp_content_type": "protobuf",
        "room_id": str(room_id),
        "version_code": WEB_VERSION_CODE,
        "webcast_sdk_version": "1.3.0",
    }


def push_url(
    push_server: str,
    room_id: str,
    *,
    cursor: str = "",
    internal_ext: str = "",
    route_params: Mapping[str, str] | None = None,
) -> str:
    """The WebSocket URL: push_server (or a webcast base URL) + route params + the web client's parameters."""
    parts = urlsplit(push_server)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme or "wss")
    path = parts.path if parts.path.rstrip("/").endswith("/push/v2") else parts.path.rstrip("/") + PUSH_PATH
    params = {
        **web_client_params(room_id),
        **dict(route_params or {}),
        "compress": "gzip",
        "room_id": str(room_id),
        "cursor": cursor,
        "internal_ext": internal_ext,
    }
    return urlunsplit((scheme, parts.netloc, path, urlencode(params), ""))


def push_url_for(response: pb.WebcastResponse, room_id: str, webcast_base_url: str) -> str:
    """The push URL a fetch result points to (its push_server, else the webcast base URL)."""
    return push_url(
        response.push_server or webcast_base_url,
        room_id,
        cursor=response.cursor,
        internal_ext=response.internal_ext,
        route_params=dict(response.route_params),
    )


def stream_urls_from(stream_url: Mapping[str, Any]) -> tuple[dict[str, str], str | None]:
    """FLV URLs per quality (pull data first, flv_pull_url as fallback) and the HLS URL."""
    urls: dict[str, str] = {}
    pull = stream_url.get("live_core_sdk_data", {}).get("pull_data", {}).get("stream_data")
    if pull:
        try:
            qualities = json.loads(pull).get("data", {})
        except (json.JSONDecodeError, AttributeError):
            qualities = {}
        for quality, entry in qualities.items():
            if flv := (entry.get("main") or {}).get("flv"):
                urls[quality] = flv
    for key, flv in (stream_url.get("flv_pull_url") or {}).items():
        urls.setdefault(FLV_FALLBACK_KEYS.get(key, key), flv)
    return urls, stream_url.get("hls_pull_url") or None


def _room_info(handle: str, room_id: str, status: int, data: dict[str, Any]) -> RoomInfo:
    owner = data.get("owner") or {}
    stream_urls, hls_url = stream_urls_from(data.get("stream_url") or {})
    owner_id = owner.get("id_str") or owner.get("id")
    return RoomInfo(
        room_id=str(data.get("id_str") or room_id),
        status=status,
        title=data.get("title") or "",
        host=HostUser(
            id=int(owner_id) if owner_id and str(owner_id).isdigit() else None,
            unique_id=owner.get("display_id") or handle,
            nickname=owner.get("nickname"),
            sec_uid=owner.get("sec_uid"),
            avatar_url=next(iter((owner.get("avatar_thumb") or {}).get("url_list") or []), None),
        ),
        stream_urls=stream_urls,
        hls_url=hls_url,
        push_server=data.get("push_server") or None,
        route_params=dict(data.get("route_params") or {}),
        raw=data,
    )


def _message(body: dict[str, Any]) -> str:
    data = body.get("data")
    parts = [str(data.get(key, "")) for key in ("message", "prompts")] if isinstance(data, dict) else []
    return " ".join(p for p in parts if p)


def _mentions_blocked(text: str) -> bool:
    lowered = text.lower()
    return "not available in your country" in lowered or "not available in your region" in lowered


def _raise_for_status(handle: str, code: Any, message: str) -> None:
    if not code:
        return
    lowered = message.lower()
    if int(code) == USER_NOT_FOUND_CODE or "user_not_exist" in lowered or "user not found" in lowered:
        raise UserNotFound(f"@{handle}: no such TikTok user (status {code})")
    if "private" in lowered:
        raise PrivateLive(f"@{handle}: the LIVE is private ({message or code})")
    if "region" in lowered or "country" in lowered:
        raise BlockedCountry(f"@{handle}: the LIVE is not available in this country or region ({message})")
    raise RoomLookupError(f"@{handle}: TikTok answered status {code}: {message or 'no message'}")


async def _get_json(http: httpx.AsyncClient, base_url: str, path: str, **params: str) -> dict[str, Any]:
    response = await http.get(f"{base_url.rstrip('/')}{path}", params={"aid": AID, **params})
    try:
        body = response.json()
    except ValueError as exc:
        raise RoomLookupError(f"{path} answered HTTP {response.status_code} with no JSON") from exc
    if not isinstance(body, dict):
        raise RoomLookupError(f"{path} answered an unexpected JSON shape")
    return body


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one verifying TLS context of every webcast HTTP client of this process.

    Building a context reads the whole CA bundle (tens of milliseconds of CPU, far more on a busy
    machine); one per client made opening a few hundred lives at once take longer than the open timeout.
    """
    return httpx.create_ssl_context()


def http_client(cookies: Mapping[str, str] | None = None) -> httpx.AsyncClient:
    """An HTTP client that talks to TikTok as the web client does (user agent, cookies, redirects)."""
    return httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT},
        cookies=dict(cookies or {}),
        follow_redirects=True,
        timeout=15.0,
        verify=tls_context(),
    )


class _client:
    """Use the caller's httpx client, or open (and close) one of our own."""

    def __init__(self, client: httpx.AsyncClient | None, cookies: Mapping[str, str] | None) -> None:
        self._given = client
        self._own: httpx.AsyncClient | None = None
        self._cookies = dict(cookies or {})

    async def __aenter__(self) -> httpx.AsyncClient:
        if self._given is not None:
            return self._given
        self._own = http_client(self._cookies)
        return self._own

    async def __aexit__(self, *_: object) -> None:
        if self._own is not None:
            await self._own.aclose()
