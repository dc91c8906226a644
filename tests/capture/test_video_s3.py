"""The video store on an S3-API server process (localbucket: a real, disk-backed server from PyPI; it does
not check credentials, so the SigV4 signing is exercised but not verified by it)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool

from scis.core.settings import VideoStoreKind
from scis.embedded.ports import free_port
from scis.evidence.media import ObjectExists, ObjectMissing, S3Location, S3Store, media_store
from scis.evidence.verify import verify_session
from scis.simulator import SimulatorServer
from tests.capture.support import capture_settings, new_capture, stored_events, wait_for


@pytest.fixture
def s3_endpoint(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data = tmp_path / "s3-data"
    data.mkdir()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "localbucket", "--port", str(port), str(data)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, "the S3 server exited"
                time.sleep(0.05)
        yield endpoint, data
    finally:
        server.terminate()
        server.wait(10)


def test_s3_store_puts_gets_and_never_overwrites(s3_endpoint: tuple[str, Path]) -> None:
    endpoint, data = s3_endpoint
    store = S3Store(S3Location(endpoint, "evidence-video", "us-east-1", "scis", "secret"))
    store.prepare()
    store.prepare()  # idempotent
    store.put("session/run/00000.flv", b"FLV first")
    assert store.get("session/run/00000.flv") == b"FLV first"
    assert (data / "evidence-video" / "session" / "run" / "00000.flv").read_bytes() == b"FLV first"
    with pytest.raises(ObjectExists, match="never overwritten"):
        store.put("session/run/00000.flv", b"FLV second")
    assert store.get("session/run/00000.flv") == b"FLV first"
    with pytest.raises(ObjectMissing):
        store.get("session/run/00001.flv")
    store.close()


async def test_capture_with_the_s3_store_verifies_and_finds_a_changed_object(
    s3_endpoint: tuple[str, Path], sim: SimulatorServer, tmp_path: Path, pool: AsyncConnectionPool[Any]
) -> None:
    endpoint, data = s3_endpoint
    room = sim.add_room("video_s3", rate=20, seed=3)
    settings = capture_settings(
        tmp_path, video_segment_seconds=1.0, video_store=VideoStoreKind.s3, video_s3_endpoint=endpoint,
        video_s3_bucket="scis-video", video_s3_access_key="scis", video_s3_secret_key="secret",
    )  # fmt: skip
    store = media_store(settings)
    assert isinstance(store, S3Store)
    capture = new_capture(sim, "video_s3", settings, pool, video=True)
    running = asyncio.create_task(capture.run())
    await wait_for(lambda: capture.stats.video_segments >= 2, seconds=60)
    room.end()
    await asyncio.wait_for(running, 60)
    rows = await stored_events(pool, capture.session_id)
    segments = [r["data"] for r in rows if r["kind"] == "video_segment"]
    assert len(segments) >= 2 and all(s["raw"]["key"].startswith(str(capture.session_id)) for s in segments)
    async with pool.connection() as conn:
        verdict = await verify_session(conn, capture.session_id, media=store)
    assert verdict.intact, verdict.describe()
    (data / "scis-video" / segments[0]["playable"]["key"]).write_bytes(b"not the recorded video")
    async with pool.connection() as conn:
        verdict = await verify_session(conn, capture.session_id, media=store)
    assert verdict.failure is not None and verdict.failure.check == "video"
    assert "playable copy" in verdict.failure.detail
    await room.stop()
