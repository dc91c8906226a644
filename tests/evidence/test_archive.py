"""`scis export` then offline verify: intact passes; one changed byte anywhere is found and named."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import scis.evidence.archive
from scis.reports import service
from scis.reports.models import ReportCreate
from tests.reports.support import CONTEXT, make_case, write_case_session

SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture
async def conn(postgres_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
async def exported(conn: psycopg.AsyncConnection[Any], postgres_url: str, tmp_path: Path) -> tuple[Path, str]:
    """A case with two sessions and a report, exported by the real `scis export` command."""
    case_id = await make_case(conn)
    await write_case_session(conn, case_id, 1000, "disconnect")
    await write_case_session(conn, case_id, 2000, "stall")
    await service.create(conn, report_in=ReportCreate(case_id=case_id), context=CONTEXT)
    out = tmp_path / "case.tar"
    command = [sys.executable, "-m", "scis", "export", "--case", str(case_id), "--out", str(out),
               "--database-url", postgres_url]  # fmt: skip
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = re.search(r"manifest SHA-256 ([0-9a-f]{64})", done.stdout)
    assert found, done.stdout
    return out, found.group(1)


def offline_verify(archive: Path, manifest_sha256: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The single-file verifier, copied out of the package and run by the system Python: no scis, no database."""
    verifier = tmp_path / "verifier" / "archive.py"
    verifier.parent.mkdir(exist_ok=True)
    shutil.copy(scis.evidence.archive.__file__, verifier)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run(
        [SYSTEM_PYTHON, "-I", str(verifier), str(archive), "--manifest-sha256", manifest_sha256],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip


def flip_inside(archive: Path, suffix: str, needle: bytes | None = None) -> str:
    """Change one byte of the archive inside a member whose path ends with `suffix` (holding `needle`); its path."""
    with tarfile.open(archive) as tar:
        candidates = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(suffix)]
        contents = {m.name: tar.extractfile(m).read() for m in candidates}  # type: ignore[union-attr]
    member = next(m for m in candidates if needle is None or needle in contents[m.name])
    data = contents[member.name]
    at = data.index(needle) + len(needle) - 1 if needle else len(data) // 2
    with archive.open("r+b") as stream:
        stream.seek(member.offset_data + at)
        byte = stream.read(1)
        stream.seek(member.offset_data + at)
        stream.write(bytes([byte[0] ^ 0x01]))
    return member.name.split("/", 1)[1]


def test_the_exported_archive_verifies_offline(exported: tuple[Path, str], tmp_path: Path) -> None:
    archive, manifest_sha256 = exported
    done = offline_verify(archive, manifest_sha256, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": intact") == 2 and "archive intact" in done.stdout
    with tarfile.open(archive) as tar:
        names = {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()}
    assert {"manifest.json", "manifest.sha256", "README.txt"} <= names
    assert sum(name.endswith("/raw.bin") for name in names) == 2 and any(n.startswith("reports/") for n in names)
    # The same through the scis command, still with no database setting at all.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIS_")}
    cli = subprocess.run([sys.executable, "-m", "scis", "verify", str(archive)], capture_output=True, text=True,
                         timeout=300, env=env)  # fmt: skip
    assert cli.returncode == 0, cli.stdout + cli.stderr


@pytest.mark.parametrize(
    ("suffix", "needle", "named"),
    [
        ("records.jsonl", b"chat line 1004", r"records\.jsonl: SHA-256.*\n.*records\.jsonl seq 6: chain hash"),
        ("raw.bin", b"raw-chat-2001", r"raw\.bin: SHA-256.*\n.*raw\.bin seq 2: raw frame"),
        ("manifest.json", b'"reference"', r"MISMATCH manifest\.json: hashes to"),
        (".pdf", None, r"MISMATCH reports/\d+\.pdf: SHA-256"),
    ],
)
def test_one_changed_byte_is_found_and_named(
    exported: tuple[Path, str], tmp_path: Path, suffix: str, needle: bytes | None, named: str
) -> None:
    archive, manifest_sha256 = exported
    changed = flip_inside(archive, suffix, needle)
    done = offline_verify(archive, manifest_sha256, tmp_path)
    assert done.returncode == 1, done.stdout
    assert changed in done.stdout and re.search(named, done.stdout), done.stdout


def test_an_unreadable_archive_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "not.tar"
    bogus.write_bytes(b"not a tar at all" * 100)
    done = offline_verify(bogus, "0" * 64, tmp_path)
    assert done.returncode == 2 and "cannot read archive" in done.stderr
