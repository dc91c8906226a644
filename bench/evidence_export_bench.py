"""Evidence export and offline verify throughput (issue 12), on a scratch database.

A case with one sealed session of N events (SCIS_BENCH_EXPORT_EVENTS, default 1,000,000) is written
through the evidence chain, then:
1. `scis export`'s export_case writes the archive (records as canonical JSON, chain, raw frames, tar):
   events/s. Baseline: PostgreSQL's own COPY of the same session's event rows to nowhere, the rate at
   which the rows can leave the database at all.
2. The offline verifier (scis.evidence.archive.verify_archive: every file re-hashed, every chain
   recomputed) reads it back: events/s. Baseline: one plain SHA-256 pass over the archive's bytes
   (what reading and hashing it once costs), expressed in events/s.
3. The web UI's path (decision 715): the archive stored into case_export_chunks as an export job
   finishes it (hash pass + 1 MiB rows), then streamed back chunk by chunk as the download does: MB/s
   each, and the bytes read back must hash to the stored archive SHA-256.
Peak RSS of the process is printed too: all of it streams, so it should not follow N.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.reports_bench import make_case, peak_rss_mb
from bench.scratch import scratch_postgres
from scis.core.audit.models import AuditContext
from scis.core.auth.models import Role, User
from scis.evidence.archive import verify_archive
from scis.evidence.export import ExportResult, export_case
from scis.reports.exports import BuiltExport, archive_chunks, store_export


async def export_seconds(url: str, case_id: int, out: Path) -> tuple[float, str]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        result = await export_case(conn, case_id, out)
        return time.perf_counter() - started, result.manifest_sha256


def copy_seconds(url: str, case_id: int) -> float:
    """PostgreSQL's COPY of the case's events to nowhere: the rows' own exit rate."""
    query = f"""COPY (SELECT e.* FROM events e JOIN live_sessions s ON s.id = e.session_id
                      WHERE s.case_id = {int(case_id)} ORDER BY e.session_id, e.seq) TO STDOUT"""
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        with conn.cursor().copy(query) as copy:  # type: ignore[arg-type]
            for _ in copy:
                pass
        return time.perf_counter() - started


async def store_and_read_seconds(url: str, case_id: int, out: Path, manifest: str) -> tuple[float, float]:
    """Seconds to store the archive as an export job does, then to stream it back as the download does."""
    from psycopg_pool import AsyncConnectionPool

    context = AuditContext(actor=User(username="bench", role=Role.admin), source_ip=None, request_id=None,
                           service="reports")  # fmt: skip
    built = BuiltExport(ExportResult(out, manifest, 1, 0), out.parent)  # the caller removes the folder
    async with AsyncConnectionPool(url, min_size=1, max_size=2, open=False) as pool:
        async with pool.connection() as conn:
            await conn.set_autocommit(True)
            started = time.perf_counter()
            async with conn.transaction():
                export_id = await store_export(conn, built=built, case_id=case_id, context=context)
            stored = time.perf_counter() - started
            cur = await conn.execute("SELECT archive_sha256 FROM case_exports WHERE id = %s", (export_id,))
            row = await cur.fetchone()
        started = time.perf_counter()
        digest = hashlib.sha256()
        async for chunk in archive_chunks(pool, export_id):
            digest.update(chunk)
        read = time.perf_counter() - started
    assert row is not None and digest.hexdigest() == row[0], "the archive read back is not the one stored"
    return stored, read


def hash_seconds(path: Path) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return time.perf_counter() - started


def run() -> list[dict[str, Any]]:
    events = int(os.environ.get("SCIS_BENCH_EXPORT_EVENTS", "1000000"))
    with scratch_postgres("export") as (home, server):
        started = time.perf_counter()
        case_id = asyncio.run(make_case(server.superuser_url, events))
        print(f"   {events:,} events written in {time.perf_counter() - started:.0f} s (setup, not measured)")
        with tempfile.TemporaryDirectory(prefix="scis-export-bench-", dir=home) as folder:
            out = Path(folder) / "case.tar"
            exported, manifest = asyncio.run(export_seconds(server.url, case_id, out))
            size_mb = out.stat().st_size / 2**20
            copied = copy_seconds(server.url, case_id)
            started = time.perf_counter()
            problems, _ = verify_archive(str(out), manifest)
            verified = time.perf_counter() - started
            assert problems == [], problems[:3]
            hashed = hash_seconds(out)
            stored, streamed = asyncio.run(store_and_read_seconds(server.url, case_id, out, manifest))
    print(f"   export {events / exported:,.0f} events/s ({exported:.1f} s, {size_mb:,.0f} MB archive); "
          f"COPY {events / copied:,.0f} events/s")  # fmt: skip
    print(f"   verify {events / verified:,.0f} events/s ({verified:.1f} s); one SHA-256 pass "
          f"{events / hashed:,.0f} events/s; peak RSS {peak_rss_mb():.0f} MB")  # fmt: skip
    print(f"   export job storing {size_mb / stored:,.0f} MB/s ({stored:.1f} s); download stream "
          f"{size_mb / streamed:,.0f} MB/s ({streamed:.1f} s); SHA-256 pass {size_mb / hashed:,.0f} MB/s")  # fmt: skip
    return [
        {"name": f"evidence_export_{events}_events_per_s", "value": round(events / exported), "unit": "events/s",
         "baseline": round(events / copied), "ratio": round(copied / exported, 3),
         "goal": "measured (issue 12)"},
        {"name": f"evidence_verify_{events}_events_per_s", "value": round(events / verified), "unit": "events/s",
         "baseline": round(events / hashed), "ratio": round(hashed / verified, 3),
         "goal": "measured (issue 12)"},
        {"name": f"evidence_export_store_{events}_mb_per_s", "value": round(size_mb / stored, 1), "unit": "MB/s",
         "baseline": round(size_mb / hashed, 1), "ratio": round(hashed / stored, 3),
         "goal": "measured (decision 715)"},
        {"name": f"evidence_export_download_{events}_mb_per_s", "value": round(size_mb / streamed, 1),
         "unit": "MB/s", "baseline": round(size_mb / hashed, 1), "ratio": round(hashed / streamed, 3),
         "goal": "measured (decision 715)"},
        {"name": f"evidence_export_{events}_peak_rss_mb", "value": round(peak_rss_mb()), "unit": "MB",
         "baseline": None, "ratio": None, "goal": "flat: does not follow the number of events"},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run():
        print(row)
