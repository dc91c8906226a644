"""Snapshots ("mark this moment"): a member marks a moment of a recorded live; the bookmark holds the
still frame (decoded from the live stream now, or from the recording for a past moment) and the records
around it, hashed; outsiders cannot see or make one; the case export carries them and the offline check
names a changed bookmark."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import httpx
import psycopg
import pytest

from scis.core.settings import Settings
from scis.evidence.archive import verify_archive
from scis.evidence.export import export_case
from scis.evidence.media import DirectoryStore
from scis.simulator import SimulatorServer
from scis.simulator.video import CLOCK_BITS, read_code
from tests.capture.support import capture_settings, new_capture, opened_pool, wait_for
from tests.services.conftest import auth
from tests.support.cases import make_case, make_session

CLOCK_MODULO = 1 << CLOCK_BITS


def seconds_between(jpeg: bytes, moment: str) -> float:
    """How far from `moment` the still's picture was drawn (the simulator draws its clock into each frame)."""
    with av.open(io.BytesIO(jpeg), mode="r") as container:
        frame = next(container.decode(video=0))
    drawn_ms = read_code(frame)[1]
    marked_ms = int(datetime.fromisoformat(moment).timestamp() * 1000) % CLOCK_MODULO
    apart = (marked_ms - drawn_ms) % CLOCK_MODULO
    return min(apart, CLOCK_MODULO - apart) / 1000


async def test_marking_moments_of_a_recorded_live(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str, superuser_url: str,
    settings: Settings, tmp_path: Path,
) -> None:  # fmt: skip
    lives = clients["lives"]
    member = auth(tokens["investigator"])
    case_id = make_case(postgres_url, created_by="t-admin", members=["t-investigator"])
    async with SimulatorServer() as sim, opened_pool(postgres_url) as pool:
        room = sim.add_room("marked_live", rate=20, seed=5)
        capture_in = capture_settings(settings.home, video_segment_seconds=1.0)
        capture = new_capture(sim, "marked_live", capture_in, pool, video=True, case_id=case_id)
        running = asyncio.create_task(capture.run())
        await wait_for(lambda: capture.stats.video_segments >= 2 and capture.stats.events_total >= 20, seconds=60)
        url = f"/api/lives/lives/{capture.session_id}/snapshots"

        now = await lives.post(url, json={"note": "the gift at 12:01"}, headers=member)
        assert now.status_code == 201, now.text
        marked = now.json()
        assert marked["frame_source"] == "live stream" and marked["intact"] and marked["case_id"] == case_id
        assert marked["records"] and all(r["chain_hash"] for r in marked["records"])
        frame = await lives.get(f"{url}/{marked['id']}/frame", headers=member)
        assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
        lag = seconds_between(frame.content, marked["marked_at"])
        assert lag < 15, f"the still is the live's picture of the moment marked, not one {lag:.1f} s away"

        hidden = await lives.post(url, json={}, headers=auth(tokens["viewer"]))
        assert hidden.status_code in (403, 404)
        outsider = auth(tokens["admin"])  # admins see every case; a non-member investigator does not:
        other_case = make_case(postgres_url, created_by="t-admin", members=[])
        foreign = make_session(postgres_url, case_id=other_case, created_by="t-admin")
        assert (await lives.post(f"/api/lives/lives/{foreign}/snapshots", json={}, headers=member)).status_code == 404
        assert (await lives.get(f"/api/lives/cases/{other_case}/snapshots", headers=member)).status_code == 404
        assert (await lives.get(f"/api/lives/cases/{other_case}/snapshots", headers=outsider)).status_code == 200

        room.end()
        await asyncio.wait_for(running, 60)
        past = (capture.stats.started_at or datetime.now(UTC)) + timedelta(seconds=1.5)
        earlier = await lives.post(url, json={"at": past.isoformat(), "seconds_around": 5}, headers=member)
        assert earlier.status_code == 201, earlier.text
        assert earlier.json()["frame_source"].startswith("recorded segment"), earlier.json()["frame_source"]
        still = await lives.get(f"{url}/{earlier.json()['id']}/frame", headers=member)
        lag = seconds_between(still.content, earlier.json()["marked_at"])
        assert lag < 15, f"the recorded still is of the moment marked, not one {lag:.1f} s away"

        too_late = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        refused = await lives.post(url, json={"at": too_late}, headers=member)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "at", refused.text
        bad = await lives.post(url, json={"seconds_around": 0}, headers=member)
        assert bad.status_code == 422 and "seconds_around" in bad.text

        listed = (await lives.get(url, headers=member)).json()
        assert [s["id"] for s in listed] == [marked["id"], earlier.json()["id"]]
        by_case = (await lives.get(f"/api/lives/cases/{case_id}/snapshots", headers=member)).json()
        assert [s["id"] for s in by_case] == [s["id"] for s in listed]
        await room.stop()

    # Bookmarks are evidence: the application role cannot change one.
    with psycopg.connect(postgres_url, autocommit=True) as conn, pytest.raises(psycopg.Error):
        conn.execute("UPDATE case_snapshots SET note = 'changed' WHERE id = %s", (marked["id"],))

    # The case export carries each bookmark and its frame; the offline check re-hashes both.
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        store = DirectoryStore(settings.home / "video")
        exported = await export_case(conn, case_id, tmp_path / "case.tar", media=store)
    problems, lines = verify_archive(str(exported.path), exported.manifest_sha256)
    assert problems == [], problems
    assert f"snapshots/{marked['id']}.json: intact" in lines
    with tarfile.open(exported.path) as tar:
        names = tar.getnames()
    assert any(name.endswith(f"snapshots/{marked['id']}.jpg") for name in names)

    # A bookmark whose note was changed after the fact (manifest rebuilt to match) is named.
    changed = rewrite_bookmark(exported.path, tmp_path / "changed.tar", marked["id"])
    problems, _ = verify_archive(str(changed))
    assert [p.item for p in problems] == [f"snapshots/{marked['id']}.json"]


def rewrite_bookmark(source: Path, target: Path, snapshot_id: int) -> Path:
    """A copy of the archive whose bookmark note differs, with a manifest that hashes the new file."""
    with tarfile.open(source) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]  # type: ignore[union-attr]
    edited: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for member, data in members:
        if data is not None and member.name.endswith(f"snapshots/{snapshot_id}.json"):
            bookmark = json.loads(data)
            bookmark["note"] = "something else"
            data = json.dumps(bookmark).encode()
        edited.append((member, data))
    manifest_name = next(m.name for m, _ in edited if m.name.endswith("/manifest.json"))
    manifest = json.loads(next(d for m, d in edited if m.name == manifest_name) or b"{}")
    for member, data in edited:
        relative = member.name.split("/", 1)[1] if "/" in member.name else ""
        if data is not None and relative in manifest["files"]:
            manifest["files"][relative] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    new_manifest = json.dumps(manifest).encode()
    with tarfile.open(target, "w") as out:
        for member, data in edited:
            if member.name == manifest_name:
                data = new_manifest
            if member.name.endswith("/manifest.sha256"):
                data = (hashlib.sha256(new_manifest).hexdigest() + "\n").encode()
            if data is None:
                out.addfile(member)
            else:
                member.size = len(data)
                out.addfile(member, io.BytesIO(data))
    return target
