"""Evidence export and offline verify throughput (issue 12), on a scratch database.

A case with one sealed session of N events (SCIS_BENCH_EXPORT_EVENTS, default 1,000,000) is written
through the evidence chain, then:
1. `scis export`'s export_case writes the archive (records as canonical JSON, chain, raw frames, tar):
   events/s. Baseline: PostgreSQL's own COPY of the same session's event rows to nowhere, the rate at
   which the rows can leave the database at all.
2. The offline verifier (scis.evidence.archive.verify_archive: every file re-hashed, every chain
   recomputed) reads it back: events/s. Baseline: one plain SHA-256 pass over the archive's bytes
   (what reading and hashing it once costs), expressed in events/s.
Peak RSS of the process is printed too: both stream, so it should not follow N.
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
from scis.evidence.archive import verify_archive
from scis.evidence.export import export_case


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
    print(f"   export {events / exported:,.0f} events/s ({exported:.1f} s, {size_mb:,.0f} MB archive); "
          f"COPY {events / copied:,.0f} events/s")  # fmt: skip
    print(f"   verify {events / verified:,.0f} events/s ({verified:.1f} s); one SHA-256 pass "
          f"{events / hashed:,.0f} events/s; peak RSS {peak_rss_mb():.0f} MB")  # fmt: skip
    return [
        {"name": f"evidence_export_{events}_events_per_s", "value": round(events / exported), "unit": "events/s",
         "baseline": round(events / copied), "ratio": round(copied / exported, 3),
         "goal": "measured (issue 12)"},
        {"name": f"evidence_verify_{events}_events_per_s", "value": round(events / verified), "unit": "events/s",
         "baseline": round(events / hashed), "ratio": round(hashed / verified, 3),
         "goal": "measured (issue 12)"},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run():
        print(row)
