"""The live's video as evidence: segments of the bytes as received, hashed into the chain, a playable
remuxed copy, a dropped stream as a gap, a killed capture resumed with new segments (nothing overwritten)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import signal
import sys
import tarfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from scis.capture.video import FlvSegmenter, NotFlv, remux_to_mp4
from scis.evidence.archive import verify_archive
from scis.evidence.export import export_case
from scis.evidence.media import DirectoryStore, ObjectExists
from scis.evidence.verify import verify_session
from scis.simulator import SimulatorServer
from scis.simulator.video import FPS, FlvEncoder, read_code
from tests.capture.support import capture_settings, new_capture, stored_events, wait_for
from tests.reports.support import make_case


def counters_of(mp4: bytes) -> list[int]:
    """The frame counters the simulator drew into the frames of a playable copy (decoded by PyAV)."""
    with av.open(io.BytesIO(mp4)) as container:
        return [read_code(frame)[0] for frame in container.decode(video=0)]


def test_segments_are_the_received_bytes_cut_at_keyframes_and_each_plays_on_its_own() -> None:
    encoder = FlvEncoder(320, 180)
    stream = encoder.encode(FPS * 7) + encoder.close()
    segmenter = FlvSegmenter(connection=1, seconds=2.0, first_index=0)
    segments = []
    for start in range(0, len(stream), 3001):  # arbitrary chunking, as TCP delivers it
        segments += segmenter.feed(stream[start : start + 3001], datetime.now(UTC))
    last = segmenter.close()
    assert last is not None and last.complete
    segments.append(last)

    assert b"".join(s.data for s in segments) == stream, "segments must be exactly the bytes received"
    assert [s.index for s in segments] == list(range(len(segments))) and len(segments) >= 3
    assert [s.offset for s in segments] == [sum(len(p.data) for p in segments[:i]) for i in range(len(segments))]
    frames: list[int] = []
    for segment in segments:
        playable = segment.data if segment.offset == 0 else bytes(segmenter.init) + segment.data
        counters = counters_of(remux_to_mp4(playable))
        assert counters == list(range(counters[0], counters[0] + len(counters))), "frames play in order"
        frames += counters
    assert frames == list(range(FPS * 7)), "every frame is in exactly one segment"


def test_a_half_tag_at_a_drop_is_kept_and_marked_incomplete() -> None:
    encoder = FlvEncoder(160, 96)
    stream = encoder.encode(FPS * 2)
    segmenter = FlvSegmenter(connection=1, seconds=10.0, first_index=0)
    assert segmenter.feed(stream[:-7], datetime.now(UTC)) == []
    segment = segmenter.close()
    assert segment is not None and not segment.complete and segment.data == stream[:-7]
    assert segment.whole_tags == stream[: len(segment.whole_tags)] and len(segment.whole_tags) < len(stream) - 7
    assert counters_of(remux_to_mp4(segment.whole_tags)), "what was whole still plays"
    with pytest.raises(NotFlv, match="FLV header"):
        FlvSegmenter(connection=1, seconds=1.0, first_index=0).feed(b"<html>nope</html>", datetime.now(UTC))


def test_the_directory_store_never_overwrites(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    store.put("s/run/00000.flv", b"first")
    with pytest.raises(ObjectExists, match="never overwritten"):
        store.put("s/run/00000.flv", b"second")
    assert store.get("s/run/00000.flv") == b"first"
    with pytest.raises(ValueError, match="relative path"):
        store.put("../escape", b"x")


async def test_capture_records_video_segments_into_the_chain_and_a_drop_is_a_gap(
    sim: SimulatorServer, tmp_path: Path, pool: AsyncConnectionPool[Any], postgres_url: str
) -> None:
    room = sim.add_room("video_live", rate=20, seed=13)
    settings = capture_settings(tmp_path, video_segment_seconds=1.0)
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        case_id = await make_case(conn)
    capture = new_capture(sim, "video_live", settings, pool, video=True, case_id=case_id)
    running = asyncio.create_task(capture.run())
    await wait_for(lambda: capture.stats.video_segments >= 2, seconds=60)
    room.fault("video_drop")
    await wait_for(lambda: room.video_connections >= 2 and capture.stats.video_segments >= 4, seconds=60)
    room.end()
    stats = await asyncio.wait_for(running, 60)
    assert stats.status == "ended"

    rows = await stored_events(pool, capture.session_id)
    segments = [r["data"] for r in rows if r["kind"] == "video_segment"]
    video_gaps = [r["data"] for r in rows if r["kind"] == "gap" and r["data"].get("media") == "video"]
    assert len(segments) == stats.video_segments >= 4
    assert len(video_gaps) == 1 and video_gaps[0]["reason"] == "disconnect", video_gaps
    assert {s["connection"] for s in segments} == {1, 2}, "the reconnection starts a new segment"
    assert [s["index"] for s in segments] == list(range(len(segments)))
    store = DirectoryStore(tmp_path / "video")
    for segment in segments:
        raw = store.get(segment["raw"]["key"])
        assert hashlib.sha256(raw).hexdigest() == segment["raw"]["sha256"]
        counters = counters_of(store.get(segment["playable"]["key"]))
        assert counters and counters == sorted(counters), "the playable copy plays the frames in order"
    async with pool.connection() as conn:
        verdict = await verify_session(conn, capture.session_id, media=store)
    assert verdict.intact, verdict.describe()
    assert rows[-1]["data"]["video"]["segments"] == len(segments)

    # The case's evidence archive carries the video, checked offline against the chain records.
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        exported = await export_case(conn, case_id, tmp_path / "case.tar", media=store)
    problems, _ = verify_archive(str(exported.path), exported.manifest_sha256)
    assert problems == []
    with tarfile.open(exported.path) as tar:
        videos = [name for name in tar.getnames() if "/video/" in name and name.endswith((".flv", ".mp4"))]
    assert len(videos) == 2 * len(segments)

    # Changing one byte of a stored segment is found, and named.
    tampered = tmp_path / "video" / segments[1]["raw"]["key"]
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.unlink()
    tampered.write_bytes(bytes(data))
    async with pool.connection() as conn:
        verdict = await verify_session(conn, capture.session_id, media=store)
    assert not verdict.intact and verdict.failure is not None
    assert verdict.failure.check == "video" and segments[1]["raw"]["key"] in verdict.failure.detail
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        exported = await export_case(conn, case_id, tmp_path / "tampered.tar", media=store)
    problems, _ = verify_archive(str(exported.path), exported.manifest_sha256)
    assert len(problems) == 1 and "its record" in str(problems[0]), problems
    await room.stop()


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.*")}


async def test_scis_capture_video_killed_then_resumed_writes_new_segments_and_overwrites_none(
    sim: SimulatorServer, tmp_path: Path, postgres_url: str, redis_url: str, pool: AsyncConnectionPool[Any]
) -> None:
    room = sim.add_room("video_cli", rate=20, seed=5)
    session_id = uuid.uuid4()
    env = dict(os.environ)
    env.update(
        SCIS_HOME=str(tmp_path), SCIS_DATABASE_URL=postgres_url, SCIS_REDIS_URL=redis_url,
        SCIS_TIKTOK_BASE_URL=sim.base_url, SCIS_WEBCAST_BASE_URL=sim.base_url, SCIS_VIDEO_SEGMENT_SECONDS="1",
    )  # fmt: skip
    command = [sys.executable, "-m", "scis.capture.cli", "--target", "@video_cli", "--video",
               "--session-id", str(session_id)]  # fmt: skip

    async def segments_stored() -> int:
        rows = await stored_events(pool, session_id)
        return sum(1 for r in rows if r["kind"] == "video_segment")

    async def wait_segments(count: int) -> None:
        deadline = asyncio.get_running_loop().time() + 90
        while await segments_stored() < count:
            assert asyncio.get_running_loop().time() < deadline, "no video segments stored in time"
            await asyncio.sleep(0.2)

    first = await asyncio.create_subprocess_exec(*command, env=env, stderr=asyncio.subprocess.PIPE)
    await wait_segments(2)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    video = tmp_path / "video"
    before = _files(video)
    assert before, "the first run stored no segment files"

    second = await asyncio.create_subprocess_exec(*command, env=env, stderr=asyncio.subprocess.PIPE)
    already = await segments_stored()
    await wait_segments(already + 2)
    second.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 0, err.decode()
    assert b"video segments" in err

    after = _files(video)
    assert {name: after.get(name) for name in before} == before, "a segment of the killed run was overwritten"
    rows = await stored_events(pool, session_id)
    runs = [r["data"]["run"] for r in rows if r["kind"] == "video_segment"]
    assert len(set(runs)) == 2 and runs == sorted(runs, key=runs.index), "each run writes its own segments"
    assert any(r["kind"] == "gap" and r["data"]["reason"] == "restart" for r in rows)
    verify = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scis.evidence.cli", str(session_id), env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(verify.communicate(), 60)
    assert verify.returncode == 0, out.decode()
    # Segments the killed run had in memory but not yet chained are not in the chain; every chained one
    # is on disk, and no file has two chain records.
    keys = [r["data"]["raw"]["key"] for r in rows if r["kind"] == "video_segment"]
    assert len(keys) == len(set(keys)) and all((video / key).is_file() for key in keys)
    await room.stop()
