"""Case evidence export through the real reports service: a job like the reports', the archive stored
with its manifest and archive SHA-256, downloaded (audited) and verified offline by the single-file
verifier; an outsider cannot see, ask for or download another case's export."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import httpx
import psycopg
import pytest

from scis.evidence.archive import MANIFEST_HASH
from tests.evidence.test_archive import offline_verify
from tests.reports.support import write_case_session
from tests.services.conftest import auth
from tests.services.test_report_jobs import wait_for_job
from tests.support.cases import make_case


@pytest.fixture
async def exported_case(postgres_url: str, accounts: dict[str, str]) -> int:
    case_id = make_case(postgres_url, created_by=accounts["admin"], members=[accounts["investigator"]])
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        await write_case_session(conn, case_id, offset=1000, reason="network")
        await write_case_session(conn, case_id, offset=2000, reason="overflow")
    return case_id


def manifest_hash_in(archive: Path) -> str:
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/" + MANIFEST_HASH))
        stream = tar.extractfile(member)
        assert stream is not None
        return stream.read().decode().strip()


async def test_an_export_job_stores_an_archive_that_verifies_offline_with_the_hash_shown(
    clients: dict[str, httpx.AsyncClient],
    tokens: dict[str, str],
    postgres_url: str,
    exported_case: int,
    tmp_path: Path,
) -> None:
    reports, token = clients["reports"], tokens["investigator"]
    response = await reports.post(f"/api/reports/cases/{exported_case}/exports", headers=auth(token))
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "export" and response.json()["export_id"] is None

    job = await wait_for_job(reports, token, response.json()["id"], until={"done", "failed", "cancelled"})
    assert job["status"] == "done", job
    assert job["export_id"] and len(job["manifest_sha256"]) == 64 and job["report_id"] is None
    assert job["progress_seen"] == sorted(job["progress_seen"]), "progress never goes back"

    listed = await reports.get(f"/api/reports/cases/{exported_case}/exports", headers=auth(token))
    assert listed.status_code == 200, listed.text
    [shown] = listed.json()
    assert shown["id"] == job["export_id"] and shown["manifest_sha256"] == job["manifest_sha256"]
    assert shown["sessions"] == 2 and shown["records"] > 0 and shown["created_by"] == "t-investigator"

    download = await reports.get(
        f"/api/reports/cases/{exported_case}/exports/{shown['id']}/archive", headers=auth(token)
    )
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/x-tar"
    assert download.headers["x-scis-manifest-sha256"] == shown["manifest_sha256"]
    assert len(download.content) == shown["size"]
    assert hashlib.sha256(download.content).hexdigest() == shown["archive_sha256"]
    archive = tmp_path / "downloaded.tar"
    archive.write_bytes(download.content)
    # What the UI shows is what the archive holds, and the offline verifier (no scis, no database) agrees.
    assert manifest_hash_in(archive) == shown["manifest_sha256"]
    done = offline_verify(archive, shown["manifest_sha256"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "archive intact" in done.stdout
    wrong = offline_verify(archive, "0" * 64, tmp_path)
    assert wrong.returncode != 0, "a different hash than the one shown must not pass"

    with psycopg.connect(postgres_url) as conn:
        actions = conn.execute(
            "SELECT action, actor, details->>'archive_sha256' FROM audit_log"
            " WHERE target = %s OR target = %s ORDER BY id",
            (f"case_export:{shown['id']}", f"report_job:{job['id']}"),
        ).fetchall()
        # Stored exports are evidence: not even the application may change one.
        with pytest.raises(psycopg.errors.Error):
            conn.execute("UPDATE case_export_chunks SET data = 'x' WHERE export_id = %s", (shown["id"],))
    assert actions == [
        ("export.request", "t-investigator", None),
        ("export.create", "t-investigator", shown["archive_sha256"]),
        ("export.download", "t-investigator", shown["archive_sha256"]),
    ]


async def test_another_cases_export_reads_as_missing(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str, accounts: dict[str, str]
) -> None:
    reports = clients["reports"]
    theirs = make_case(postgres_url, created_by=accounts["admin"], members=[])
    for method, path in (
        ("POST", f"/api/reports/cases/{theirs}/exports"),
        ("GET", f"/api/reports/cases/{theirs}/exports"),
        ("GET", f"/api/reports/cases/{theirs}/exports/1/archive"),
    ):
        response = await reports.request(method, path, headers=auth(tokens["investigator"]))
        assert response.status_code == 404, (method, path, response.text)
        assert f"no case with id {theirs}" in response.json()["detail"]
    viewer = await reports.post(f"/api/reports/cases/{theirs}/exports", headers=auth(tokens["viewer"]))
    assert viewer.status_code == 403
