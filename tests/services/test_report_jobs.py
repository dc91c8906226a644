"""Report jobs through the real reports service: queued, run by its worker, progress, download, cancel,
and a job whose worker died is taken again or failed with the reason, never left running."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import socketio
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from scis.core.settings import Settings
from scis.reports import jobs
from scis.reports.models import ReportJobRead
from tests.reports.support import write_case_session
from tests.services.conftest import auth
from tests.support.cases import make_case
from tests.support.served import served_service

DEADLINE_SECONDS = 240  # a busy shared machine renders slowly


async def wait_for_job(client: httpx.AsyncClient, token: str, job_id: int, *, until: set[str]) -> dict[str, Any]:
    """The job once its status is one of `until`, polling like the UI does; every progress seen is kept."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    seen: list[int] = []
    while time.monotonic() < deadline:
        response = await client.get(f"/api/reports/reports/jobs/{job_id}", headers=auth(token))
        assert response.status_code == 200, response.text
        job = response.json()
        seen.append(job["progress"])
        if job["status"] in until:
            job["progress_seen"] = seen
            return job  # type: ignore[no-any-return]
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} did not reach {until} in {DEADLINE_SECONDS} s: {job}")


@pytest.fixture
async def case_with_lives(postgres_url: str, accounts: dict[str, str]) -> int:
    case_id = make_case(postgres_url, created_by=accounts["admin"], members=[accounts["investigator"]])
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        await write_case_session(conn, case_id, offset=1000, reason="network")
        await write_case_session(conn, case_id, offset=2000, reason="overflow")
    return case_id


async def test_a_case_report_job_runs_to_done_and_its_download_is_audited(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str, case_with_lives: int
) -> None:
    reports, token = clients["reports"], tokens["investigator"]
    response = await reports.post(
        "/api/reports/reports/jobs", json={"case_id": case_with_lives, "language": "fr"}, headers=auth(token)
    )
    assert response.status_code == 202, response.text
    queued = ReportJobRead(**response.json())
    assert queued.status in ("queued", "running") and queued.requested_by == "t-investigator"

    job = await wait_for_job(reports, token, queued.id, until={"done", "failed", "cancelled"})
    assert job["status"] == "done", job
    assert job["progress"] == 100 and job["stage"] == "done" and job["report_id"] and job["attempts"] == 1
    assert job["progress_seen"] == sorted(job["progress_seen"]), "progress never goes back"

    listed = await reports.get(f"/api/reports/reports/jobs?case_id={case_with_lives}", headers=auth(token))
    assert [item["id"] for item in listed.json()] == [queued.id]

    pdf = await reports.get(f"/api/reports/reports/jobs/{queued.id}/pdf", headers=auth(token))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert hashlib.sha256(pdf.content).hexdigest() == job["sha256"]
    with psycopg.connect(postgres_url) as conn:
        audited = conn.execute(
            "SELECT actor, details->>'sha256', details->>'job_id' FROM audit_log"
            " WHERE action = 'report.download' AND target = %s",
            (f"report:{job['report_id']}",),
        ).fetchall()
        requested = conn.execute(
            "SELECT actor FROM audit_log WHERE action = 'report.request' AND target = %s", (f"report_job:{queued.id}",)
        ).fetchall()
    assert audited == [("t-investigator", job["sha256"], str(queued.id))]
    assert requested == [("t-investigator",)]
    # The plain report download is audited the same way.
    await reports.get(f"/api/reports/reports/{job['report_id']}/pdf", headers=auth(token))
    with psycopg.connect(postgres_url) as conn:
        count = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'report.download' AND target = %s",
            (f"report:{job['report_id']}",),
        ).fetchone()
    assert count == (2,)
    # A finished job cannot be cancelled.
    again = await reports.post(f"/api/reports/reports/jobs/{queued.id}/cancel", headers=auth(token))
    assert again.status_code == 409 and "already ended (done)" in again.json()["detail"]


async def test_a_subject_report_holds_every_message_gift_and_handle_of_that_person(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str, case_with_lives: int
) -> None:
    # Written from a thread: the profiles enricher runs on this test's event loop and may hold subject 101's
    # row lock in an open transaction; a blocking write here would stop the loop it needs to commit.
    def seed_subject() -> tuple[int, int]:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            # viewer_1 (user id 101) spoke in both lives; the subject row as the profiles enrichment keeps it.
            tiktok_user_id = 10**15 + int(uuid.uuid4().int % 10**9)
            row = conn.execute(
                """INSERT INTO subjects (tiktok_user_id, unique_id, nickname) VALUES (101, 'viewer_1', 'Viewer 1')
                   ON CONFLICT (tiktok_user_id) DO UPDATE SET unique_id = 'viewer_1' RETURNING id"""
            ).fetchone()
            assert row is not None and tiktok_user_id
            subject_id = row[0]
            conn.execute(
                "INSERT INTO subject_aliases (subject_id, kind, value, first_seen_at, last_seen_at)"
                " VALUES (%s, 'unique_id', 'old_handle_v1', now(), now()) ON CONFLICT DO NOTHING",
                (subject_id,),
            )
        return subject_id, tiktok_user_id

    subject_id, tiktok_user_id = await asyncio.to_thread(seed_subject)
    reports, token = clients["reports"], tokens["investigator"]
    missing = await reports.post(
        "/api/reports/reports/jobs", json={"case_id": case_with_lives, "kind": "subject"}, headers=auth(token)
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "subject_id"
    response = await reports.post(
        "/api/reports/reports/jobs",
        json={"case_id": case_with_lives, "kind": "subject", "subject_id": subject_id},
        headers=auth(token),
    )
    assert response.status_code == 202, response.text
    job = await wait_for_job(reports, token, response.json()["id"], until={"done", "failed", "cancelled"})
    assert job["status"] == "done", job
    pdf = await reports.get(f"/api/reports/reports/jobs/{job['id']}/pdf", headers=auth(token))
    text = (
        await asyncio.to_thread(
            subprocess.run,
            ["pdftotext", "-layout", "-", "-"],
            input=pdf.content,
            capture_output=True,
            check=True,
            timeout=120,
        )
    ).stdout.decode()
    # Chats i = 1 and 4 of each live are viewer_1's; nobody else's lines are in it.
    for line in ("chat line 1001", "chat line 1004", "chat line 2001", "chat line 2004"):
        assert line in text, line
    assert "chat line 1000" not in text and "chat line 1002" not in text
    assert "@viewer_1" in text and "old_handle_v1" in text and "Viewer 1" in text

    # A person never seen in the case: the job fails and says why.
    def seed_stranger() -> tuple[int] | None:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            return conn.execute(
                "INSERT INTO subjects (tiktok_user_id, unique_id) VALUES (%s, 'stranger') RETURNING id",
                (tiktok_user_id,),
            ).fetchone()

    stranger = await asyncio.to_thread(seed_stranger)
    assert stranger is not None
    response = await reports.post(
        "/api/reports/reports/jobs",
        json={"case_id": case_with_lives, "kind": "subject", "subject_id": stranger[0]},
        headers=auth(token),
    )
    failed = await wait_for_job(reports, token, response.json()["id"], until={"done", "failed", "cancelled"})
    assert failed["status"] == "failed" and f"no subject {stranger[0]} seen" in failed["reason"], failed


async def test_a_job_whose_worker_died_is_taken_again_or_failed_never_stuck(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str, case_with_lives: int
) -> None:
    """Rows as a worker killed mid-job leaves them: running, heartbeat long stopped."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        ids = [
            conn.execute(
                """INSERT INTO report_jobs (kind, case_id, language, status, stage, attempts, worker, heartbeat_at,
                                            started_at, requested_by)
                   VALUES ('case', %s, 'en', 'running', 'transcript', %s, 'dead-host:1:abc', now() - interval '1 hour',
                           now() - interval '1 hour', 't-investigator') RETURNING id""",
                (case_with_lives, attempts),
            ).fetchone()[0]  # type: ignore[index]
            for attempts in (1, 3)
        ]
    token = tokens["investigator"]
    retried = await wait_for_job(clients["reports"], token, ids[0], until={"done", "failed", "cancelled"})
    assert retried["status"] == "done" and retried["attempts"] == 2, retried
    exhausted = await wait_for_job(clients["reports"], token, ids[1], until={"done", "failed", "cancelled"})
    assert exhausted["status"] == "failed", exhausted
    assert "stopped answering 3 times (last: dead-host:1:abc)" in exhausted["reason"]


async def test_cancelling_a_running_job_stops_its_worker_and_stores_nothing(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str, case_with_lives: int
) -> None:
    worker = "test-worker:cancel"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        # Running and alive (fresh heartbeat), so the service's own worker leaves it to this one.
        job = conn.execute(
            """INSERT INTO report_jobs (kind, case_id, language, status, attempts, worker, heartbeat_at, started_at,
                                        requested_by)
               VALUES ('case', %s, 'en', 'running', 1, %s, now(), now(), 't-investigator') RETURNING *""",
            (case_with_lives, worker),
        ).fetchone()
        columns = [column.name for column in conn.execute("SELECT * FROM report_jobs LIMIT 0").description or []]
    assert job is not None
    row = dict(zip(columns, job, strict=True))
    cancelled = await clients["reports"].post(
        f"/api/reports/reports/jobs/{row['id']}/cancel", headers=auth(tokens["investigator"])
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["reason"] == "cancelled by t-investigator"
    config = jobs.WorkerConfig(heartbeat_seconds=0.1, stale_seconds=60, max_attempts=3)
    async with AsyncConnectionPool(postgres_url, min_size=1, max_size=2, open=False) as pool:
        outcome = await jobs.run_job(pool, row, worker=worker, config=config)
    assert outcome == "cancelled"
    with psycopg.connect(postgres_url) as conn:
        after = conn.execute("SELECT status, report_id FROM report_jobs WHERE id = %s", (row["id"],)).fetchone()
    assert after == ("cancelled", None)


@pytest.fixture
async def analyser_url(postgres_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The analyser served for real: its Socket.IO endpoint relays the case channels to the case's members."""
    async with served_service(
        "analyser", Settings(database_url=postgres_url, redis_url=redis_url, home=tmp_path)
    ) as url:
        yield url


async def test_job_progress_is_pushed_to_the_case_members_and_no_one_else(
    analyser_url: str, clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], case_with_lives: int
) -> None:
    member_pushed: list[dict[str, Any]] = []
    outsider_pushed: list[dict[str, Any]] = []
    member, outsider = socketio.AsyncClient(), socketio.AsyncClient()
    member.on("report_job", member_pushed.append)
    outsider.on("report_job", outsider_pushed.append)
    await member.connect(analyser_url, auth={"token": tokens["investigator"]}, transports=["websocket"])
    await outsider.connect(analyser_url, auth={"token": tokens["viewer"]}, transports=["websocket"])
    try:
        watched = await member.call("watch_case", {"case_id": case_with_lives}, timeout=30)
        assert watched == {"ok": True, "room": f"case:{case_with_lives}"}
        refused = await outsider.call("watch_case", {"case_id": case_with_lives}, timeout=30)
        assert refused == {"ok": False, "error": f"no case {case_with_lives} of yours"}

        response = await clients["reports"].post(
            "/api/reports/reports/jobs", json={"case_id": case_with_lives}, headers=auth(tokens["investigator"])
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        done = await wait_for_job(clients["reports"], tokens["investigator"], job_id, until={"done", "failed"})
        assert done["status"] == "done", done

        deadline = time.monotonic() + DEADLINE_SECONDS
        while not any(item["status"] == "done" for item in member_pushed):
            assert time.monotonic() < deadline, f"the end of job {job_id} was not pushed: {member_pushed}"
            await asyncio.sleep(0.1)
    finally:
        await member.disconnect()
        await outsider.disconnect()
    assert {item["id"] for item in member_pushed} == {job_id}
    assert member_pushed[0]["status"] == "running", "the start is pushed"
    progress = [item["progress"] for item in member_pushed]
    assert progress == sorted(progress), "pushed progress never goes back"
    last = member_pushed[-1]
    assert last["status"] == "done" and last["report_id"] == done["report_id"] and last["sha256"] == done["sha256"]
    assert outsider_pushed == []


async def test_a_replica_stopping_cleanly_hands_its_running_job_back(postgres_url: str, case_with_lives: int) -> None:
    config = jobs.WorkerConfig(heartbeat_seconds=0.2, stale_seconds=600, max_attempts=3, poll_seconds=0.2)
    async with AsyncConnectionPool(postgres_url, min_size=1, max_size=4, open=False) as pool:
        replica = jobs.Worker(pool, config)
        async with pool.connection() as conn:
            await conn.set_autocommit(True)
            # Enough transcript that the job is still running when the replica stops.
            await write_case_session(conn, case_with_lives, offset=3000, reason="network", extra_chats=20_000)
            # Taken by this replica (fresh heartbeat): the service's own worker, if running, leaves it alone.
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                """INSERT INTO report_jobs (kind, case_id, language, status, attempts, worker, heartbeat_at,
                                            started_at, requested_by)
                   VALUES ('case', %s, 'en', 'running', 1, %s, now(), now(), 't-investigator') RETURNING *""",
                (case_with_lives, replica.name),
            )
            job = await cur.fetchone()
        assert job is not None

        async def state() -> tuple[str, str | None, int, int | None, int]:
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT status, worker, attempts, report_id, progress FROM report_jobs WHERE id = %s", (job["id"],)
                )
                found = await cur.fetchone()
            assert found is not None
            return found

        replica.tasks = [asyncio.create_task(replica.run(job))]
        deadline = time.monotonic() + DEADLINE_SECONDS
        while (await state())[4] < 15:  # its heartbeat says the transcript is being read
            assert time.monotonic() < deadline, f"job {job['id']} never got going: {await state()}"
            await asyncio.sleep(0.05)
        await replica.stop()
        status, worker, attempts, report_id, _ = await state()
        assert worker != replica.name and report_id is None
        # Back in the queue with this try not counted, or already taken again by another replica.
        assert (status, worker, attempts) == ("queued", None, 0) or (status, attempts) == ("running", 1)

        successor = jobs.Worker(pool, config)
        successor.start()
        try:
            while (await state())[0] not in ("done", "failed"):
                assert time.monotonic() < deadline, f"no replica finished job {job['id']}: {await state()}"
                await asyncio.sleep(0.2)
        finally:
            await successor.stop()
        status, _, attempts, report_id, _ = await state()
        assert (status, attempts) == ("done", 1) and report_id is not None
