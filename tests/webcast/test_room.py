from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from scis.simulator import SimulatorServer
from scis.webcast.room import (
    BlockedCountry,
    NotLive,
    PrivateLive,
    UserNotFound,
    fetch_first,
    fetch_room,
    push_url,
    room_id_from_page,
)


async def test_live_room_is_found_with_its_streams(sim: SimulatorServer) -> None:
    room = sim.add_room("lively_host")
    info = await fetch_room(sim.base_url, sim.base_url, "@lively_host")
    assert info.room_id == str(room.room_id) and info.status == 2 and info.is_live
    assert info.host.id == room.host.id and info.host.unique_id == "lively_host"
    assert set(info.stream_urls) == {"origin", "hd", "sd", "ld"}
    assert info.stream_urls["origin"].endswith(f"stream-{room.room_id}_origin.flv")


@pytest.mark.parametrize(
    ("state", "error", "words"),
    [("offline", NotLive, "not live"), ("private", PrivateLive, "private"), ("blocked", BlockedCountry, "region")],
)
async def test_unavailable_rooms_raise_by_name(sim: SimulatorServer, state: str, error: type, words: str) -> None:
    sim.add_room("somebody", state=state)  # type: ignore[arg-type]
    with pytest.raises(error, match=words):
        await fetch_room(sim.base_url, sim.base_url, "somebody")


async def test_unknown_user(sim: SimulatorServer) -> None:
    with pytest.raises(UserNotFound, match="no such TikTok user"):
        await fetch_room(sim.base_url, sim.base_url, "nobody_here")


async def test_ended_live_is_not_live(sim: SimulatorServer) -> None:
    sim.add_room("ending").end()
    with pytest.raises(NotLive):
        await fetch_room(sim.base_url, sim.base_url, "ending")


async def test_first_fetch_gives_cursor_and_push_server(sim: SimulatorServer) -> None:
    room = sim.add_room("fetcher")
    first = await fetch_first(sim.base_url, str(room.room_id))
    assert first.cursor and first.internal_ext and first.is_first
    assert first.push_server == f"ws://127.0.0.1:{sim.port}/webcast/im/push/v2/"
    assert "wrss" in first.route_params


def test_push_url_has_the_web_client_parameters() -> None:
    url = push_url("https://webcast.tiktok.com", "123", cursor="c1", internal_ext="e1", route_params={"wrss": "x"})
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    assert (parts.scheme, parts.path) == ("wss", "/webcast/im/push/v2/")
    for key, value in {
        "aid": "1988",
        "app_name": "tiktok_web",
        "identity": "audience",
        "live_id": "12",
        "resp_content_type": "protobuf",
        "room_id": "123",
        "compress": "gzip",
        "cursor": "c1",
        "internal_ext": "e1",
        "wrss": "x",
    }.items():
        assert query[key] == value
    assert "version_code" in query


def test_room_id_from_the_app_link_meta_alone() -> None:
    page = '<html><meta property="al:android:url" content="snssdk1233://live?room_id=7312345678901234567"></html>'
    assert room_id_from_page(page)[0] == "7312345678901234567"
