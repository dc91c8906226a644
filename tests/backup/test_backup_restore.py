"""`scis backup` while a capture runs, `scis restore` into a fresh SCIS_HOME: every chain verifies."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tarfile
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from scis.backup.models import Manifest
from scis.backup.service import BackupError, check_archive, restore_backup
from scis.capture.pipeline import CaptureRequest, LiveCapture
from scis.embedded.ports import free_port
from scis.embedded.postgres import EmbeddedPostgres
from scis.simulator import SimulatorServer
from tests.capture.support import capture_settings, opened_pool, wait_for, websocket_source
from tests.stack.helpers import run_scis, stack_env
from tests.support.processes import spawn_module


@pytest.fixture
def folder() -> Iterator[Path]:
    # Not pytest's tmp_path: other pytest runs reset its root to 0700, which locks out the server's own user.
    with tempfile.TemporaryDirectory(prefix="scis-backup-test-") as name:
        path = Path(name)
        path.chmod(0o755)
        yield path


@pytest.fixture
def source_postgres(folder: Path) -> Iterator[EmbeddedPostgres]:
    """A database of this test's own: the shared one holds deliberately tampered sessions."""
    with EmbeddedPostgres(folder / "source-pg", free_port(), folder / "source-pg.log").migrated() as server:
        yield server


@pytest.fixture
async def source_pool(source_postgres: EmbeddedPostgres) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with opened_pool(source_postgres.url) as pool:
        yield pool


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    async with SimulatorServer() as server:
        yield server


async def scis(*args: str, env: dict[str, str], within: float = 180) -> tuple[int, str, str]:
    process = await spawn_module("scis", *args, env=env)
    out, err = await asyncio.wait_for(process.communicate(), within)
    return process.returncode or 0, out.decode(), err.decode()


def rows_of(url: str, session_id: uuid.UUID) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT seq, msg_id, kind, chain_hash, raw_sha256 FROM events WHERE session_id = %s ORDER BY seq",
            (session_id,),
        ).fetchall()


async def test_backup_while_capturing_restores_and_verifies(
    sim: SimulatorServer, source_postgres: EmbeddedPostgres, source_pool: AsyncConnectionPool[Any], folder: Path
) -> None:
    home = folder / "home"
    # A small queue makes the capture spill while it runs; the capture file is evidence in SCIS_HOME too.
    settings = capture_settings(home, capture_queue_size=20, capture_batch_size=50)
    room = sim.add_room("backed.up", rate=300, max_events=100_000, seed=5)
    request = CaptureRequest(
        target="backed.up", source="websocket", session_id=uuid.uuid4(),
        record_path=home / "captures" / "backed.up.scap",
    )  # fmt: skip
    capture = LiveCapture(request, websocket_source(sim, "backed.up", settings), pool=source_pool, settings=settings)
    task = asyncio.create_task(capture.run())
    try:
        await wait_for(lambda: capture.stats.events_total >= 300, seconds=60)
        env = stack_env(home)
        archive = folder / "scis.tar"
        code, out, err = await scis("backup", "--database-url", source_postgres.url, "--output", str(archive), env=env)
        assert code == 0, err
        assert "backup written" in out
        assert not task.done() and not room.finished.is_set(), "the backup must be taken while the capture runs"
        room.end()
        await asyncio.wait_for(asyncio.shield(task), 60)
    finally:
        if not task.done():
            await capture.stop("test over")
            await asyncio.wait_for(task, 60)

    manifest = check_archive(archive)
    (at_backup,) = [s for s in manifest.sessions if s.id == request.session_id]
    assert at_backup.status == "live" and at_backup.events_count > 0
    assert any(f.path == "home/captures/backed.up.scap" for f in manifest.files)

    # Restore into a fresh SCIS_HOME with its own new embedded PostgreSQL, as an operator would.
    fresh = folder / "restored"
    restore_env = stack_env(fresh)
    code, out, err = await scis("restore", str(archive), env=restore_env)
    assert code == 0, err + out
    assert "every chain verifies" in out
    assert f"session {request.session_id}: intact, {at_backup.events_count} records, not sealed yet" in out

    restored_pg = EmbeddedPostgres(fresh / "postgres", int(restore_env["SCIS_POSTGRES_PORT"]), fresh / "pg.log")
    restored_pg.start()
    try:
        # `scis verify` on the restored copy, and the records are the source's, hash for hash.
        verified = await asyncio.to_thread(
            run_scis, "verify", str(request.session_id), "--database-url", restored_pg.url, env=restore_env
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
        restored_rows = rows_of(restored_pg.url, request.session_id)
        source_rows = rows_of(source_postgres.url, request.session_id)
        assert len(restored_rows) == at_backup.events_count
        assert restored_rows == source_rows[: len(restored_rows)]
        assert restored_rows[-1]["chain_hash"] == at_backup.chain_head
    finally:
        restored_pg.stop()
    for entry in manifest.files:
        restored_file = fresh / Path(*Path(entry.path).parts[1:])
        assert hashlib.sha256(restored_file.read_bytes()).hexdigest() == entry.sha256
    print(
        f"\nbackup round trip: {len(manifest.sessions)} session(s), {at_backup.events_count} records at backup "
        f"(capture went on to {capture.stats.records_total}), {len(manifest.files)} evidence files restored"
    )


def test_an_altered_archive_is_refused_before_anything_is_written(folder: Path) -> None:
    staging = folder / "staging"
    (staging / "database").mkdir(parents=True)
    (staging / "database" / "scis.dump").write_bytes(b"dump")
    (staging / "database" / "roles.sql").write_bytes(b"-- roles")
    digest = hashlib.sha256(b"dump").hexdigest()
    manifest = {
        "created_at": "2026-01-01T00:00:00Z", "scis_version": "test", "server_version": "18",
        "database": {"path": "database/scis.dump", "bytes": 4, "sha256": digest},
        "roles": {"path": "database/roles.sql", "bytes": 8, "sha256": hashlib.sha256(b"-- roles").hexdigest()},
        "files": [], "sessions": [],
    }  # fmt: skip
    (staging / "manifest.json").write_text(Manifest.model_validate(manifest).model_dump_json())
    (staging / "database" / "scis.dump").write_bytes(b"dumq")  # one byte changed after the manifest
    archive = folder / "altered.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("manifest.json", "database/scis.dump", "database/roles.sql"):
            tar.add(staging / name, arcname=name)
    with pytest.raises(BackupError, match=r"database/scis.dump has SHA-256 .* the manifest says"):
        check_archive(archive)
    code = run_scis("restore", "--check", str(archive), env={**os.environ, "SCIS_HOME": str(folder / "h")})
    assert code.returncode == 1 and "altered" in code.stderr


def test_restore_refuses_a_database_that_already_holds_scis(source_postgres: EmbeddedPostgres, folder: Path) -> None:
    archive = folder / "empty.tar"
    code = run_scis("backup", "--database-url", source_postgres.url, "--output", str(archive), env=stack_env(folder))
    assert code.returncode == 0, code.stderr
    with pytest.raises(BackupError, match="already holds SCIS tables"):
        restore_backup(archive, source_postgres.url, folder / "other-home")
