"""Ingest throughput: WebSocket frames → decode → normalise → hash chain → PostgreSQL, in one process.

SCIS path (tuned as `scis capture` tunes itself): the real capture pipeline (ReplaySource over a
capture file of simulator frames, normaliser, dedupe, gift streaks, bounded queue, chained COPY
batches). In the same run and on the same frames:
- baseline: decode each frame alone, and INSERT + commit each event on its own (hash chain
  included, so both paths store the same evidence);
- physical ceiling: the very rows SCIS stored, COPYed again (binary, as PostgreSQL itself exports
  them, in batches of the same size, each in a transaction of the same shape as SCIS's: the COPY and
  the session head's UPDATE, one commit) with no decoding, hashing or row building: what the table
  and the disk allow. SCIS is reported as a fraction of it.

SCIS and its ceiling run in pairs, ROUNDS times: on a shared machine one pair can land in a quiet
second and the other in a busy one (one-shot shares of the same code moved between 22 % and 53 %).
The rates and the share reported are the median pair's; the spread is printed beside them.
"""

from __future__ import annotations

import asyncio
import resource
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from bench.scratch import scratch_postgres
from scis.capture.capture_file import CaptureFileWriter, RecordType
from scis.capture.normalise import Normaliser, to_record
from scis.capture.pipeline import CaptureRequest, LiveCapture
from scis.capture.runner import tune_gc
from scis.capture.sources.replay import ReplaySource
from scis.capture.streaks import GiftStreaks
from scis.core.db import open_pool
from scis.core.settings import Settings
from scis.core.status import SessionStatus
from scis.evidence.canonical import GENESIS_HASH
from scis.evidence.chain import MOVE_HEAD_SQL, ChainTail, chain_records, copy_row, start_session
from scis.evidence.records import EVENT_COLUMNS
from scis.simulator.messages import MessageFactory
from scis.simulator.mix import EventMix
from scis.webcast.events import iter_events
from scis.webcast.frames import build_response, decode_frame, frame_payload, msg_frame

EVENTS = 100_000
BASELINE_EVENTS = 4_000
STAGE_EVENTS = 20_000
MESSAGES_PER_FRAME = 20
GOAL_RATE = 20_000
GOAL_RATIO = 10.0
GOAL_CEILING_SHARE = 0.5
BATCH_SIZE = 1000
ROUNDS = 3


def make_frames(count: int, seed: int = 1) -> list[bytes]:
    """Gzipped push frames of a realistic event mix, 20 messages each, as the simulator sends them."""
    factory = MessageFactory(room_id=7_300_000_000_000_000_001)
    mix = EventMix(factory, seed)
    frames, batch = [], []
    for index in range(count):
        batch.append(mix.next_message())
        if len(batch) == MESSAGES_PER_FRAME or index == count - 1:
            response = build_response(
                batch, cursor=f"r-{index}", internal_ext=f"seq:{index}", now_ms=int(time.time() * 1000)
            )
            frames.append(msg_frame(response, log_id=index))
            batch = []
    return frames


def write_capture_file(path: Path, frames: list[bytes]) -> None:
    writer = CaptureFileWriter(path, {"target": "bench", "room_id": "7300000000000000001"})
    now = datetime.now(UTC)
    for frame in frames:
        writer.write(RecordType.FRAME, now, frame)
    writer.close()


def own_cpu_seconds() -> float:
    """User + system CPU seconds this process used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu_seconds(server: Any) -> float:
    """User + system CPU seconds of the PostgreSQL server and its backends so far, the backends that
    ended included (the postmaster reaped them: their time is in its children_* counters)."""
    root = psutil.Process(int((server.data_dir / "postmaster.pid").read_text().split()[0]))
    reaped = root.cpu_times()
    total = reaped.children_user + reaped.children_system
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def scis_path(url: str, home: Path, frames_file: Path) -> tuple[float, int, uuid.UUID]:
    settings = Settings(
        home=home, capture_batch_size=BATCH_SIZE, capture_queue_size=100_000, streak_timeout_seconds=3600
    )
    pool = open_pool(url, min_size=1, max_size=2)
    await pool.open(wait=True)
    try:
        request = CaptureRequest(target="bench", source="replay", session_id=uuid.uuid4())
        capture = LiveCapture(request, ReplaySource(frames_file), pool=pool, settings=settings)
        started = time.perf_counter()
        await capture.run()
        elapsed = time.perf_counter() - started
        return elapsed, capture.stats.records_total, request.session_id
    finally:
        await pool.close()


def ceiling_path(url: str, stored_session: uuid.UUID) -> tuple[float, int]:
    """COPY the rows SCIS stored for a session into a new session, as PostgreSQL's own binary export."""
    copy_session = uuid.uuid4()
    columns = ", ".join(EVENT_COLUMNS)
    selected = ", ".join("{new}::uuid" if c == "session_id" else c for c in EVENT_COLUMNS)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE session_copy AS SELECT * FROM live_sessions WHERE id = %s", (stored_session,))
        conn.execute("UPDATE session_copy SET id = %s", (copy_session,))
        conn.execute("INSERT INTO live_sessions SELECT * FROM session_copy")
        last = conn.execute("SELECT max(seq) FROM events WHERE session_id = %s", (stored_session,)).fetchone()
        batches: list[bytes] = []
        for first in range(0, int(last[0]) + 1, BATCH_SIZE):  # type: ignore[index]
            query = sql.SQL(
                f"COPY (SELECT {selected} FROM events WHERE session_id = {{old}} AND seq >= {{first}} "
                "AND seq < {end} ORDER BY seq) TO STDOUT (FORMAT BINARY)"
            ).format(new=str(copy_session), old=str(stored_session), first=first, end=first + BATCH_SIZE)
            with conn.cursor().copy(query) as copy:
                batches.append(b"".join(bytes(chunk) for chunk in copy))
        started = time.perf_counter()
        for index, batch in enumerate(batches):  # the transaction SCIS commits: COPY, then move the session's head
            with conn.transaction():
                with conn.cursor().copy(f"COPY events ({columns}) FROM STDIN (FORMAT BINARY)") as copy:  # type: ignore[arg-type]
                    copy.write(batch)
                conn.execute(MOVE_HEAD_SQL, (GENESIS_HASH, (index + 1) * BATCH_SIZE, copy_session))
        elapsed = time.perf_counter() - started
        stored = conn.execute("SELECT count(*) FROM events WHERE session_id = %s", (copy_session,)).fetchone()
    return elapsed, int(stored[0])  # type: ignore[index]


def baseline_path(url: str, frames: list[bytes]) -> tuple[float, int]:
    """Decode each frame alone; one INSERT and one commit per event."""
    session_id = uuid.uuid4()
    columns = (
        "session_id, seq, msg_id, kind, method, room_id, user_id, unique_id, nickname, body, gift_id, gift_name, "
        "diamond_count, repeat_count, inferred, counts, data, server_time, captured_at, raw, raw_sha256, chain_hash"
    )
    insert = f"INSERT INTO events ({columns}) VALUES ({', '.join(['%s'] * 22)})"
    stored = 0
    with psycopg.connect(url) as conn:
        asyncio.run(_start_session(url, session_id))
        first_hash = conn.execute(
            "SELECT chain_hash FROM events WHERE session_id = %s AND seq = 0", (session_id,)
        ).fetchone()[0]  # type: ignore[index]
        tail = ChainTail(next_seq=1, prev_hash=first_hash)
        started = time.perf_counter()
        for raw in frames:
            frame = decode_frame(raw)
            for event in iter_events(frame_payload(frame, raw)):
                record = to_record(event, datetime.now(UTC))
                (item,), tail = chain_records(session_id, tail, [record])
                r = item.record
                conn.execute(
                    insert,  # type: ignore[arg-type]
                    (session_id, item.seq, r.msg_id, r.kind, r.method, r.room_id, r.user_id, r.unique_id, r.nickname,
                     r.body, r.gift_id, r.gift_name, r.diamond_count, r.repeat_count, r.inferred,
                     None if r.counts is None else Jsonb(r.counts), Jsonb(r.data), r.server_time, r.captured_at,
                     r.raw, item.raw_sha256, item.chain_hash),
                )  # fmt: skip
                conn.commit()
                stored += 1
        return time.perf_counter() - started, stored


def stage_cpu(frames: list[bytes]) -> dict[str, float]:
    """CPU seconds per 1,000 events of each stage the SCIS process runs, on the same frames, in this
    process (CPU time: hardly changed by other load, unlike the rates): what bounds SCIS when the
    disk does not."""
    events = len(frames) * MESSAGES_PER_FRAME
    captured_at = datetime.now(UTC)
    normaliser = Normaliser(GiftStreaks(3600))
    started = time.process_time()
    records = [record for raw in frames for record in normaliser.push_frame(raw, captured_at)]
    decoded = time.process_time()
    rows, _ = chain_records(uuid.uuid4(), ChainTail(), records)
    chained = time.process_time()
    for item in rows:
        copy_row(item)
    built = time.process_time()
    per_1000 = 1000 / events
    return {
        "decode_normalise": (decoded - started) * per_1000,
        "canonical_json_hash_chain": (chained - decoded) * per_1000,
        "copy_row_building": (built - chained) * per_1000,
    }


async def _start_session(url: str, session_id: uuid.UUID) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
        await start_session(
            conn, session_id=session_id, target="baseline", source="replay", case_id=None, config={},
            started_at=datetime.now(UTC), status=SessionStatus.LIVE,
        )  # fmt: skip


@dataclass(frozen=True)
class Pair:
    """One run of the SCIS path and, right after it, the bare COPY of the rows it stored."""

    elapsed: float
    records: int
    ceiling_elapsed: float
    ceiling_records: int

    @property
    def share(self) -> float:
        # The ceiling copies chain records (streaks folded), so compare like with like.
        return (self.records / self.elapsed) / (self.ceiling_records / self.ceiling_elapsed)


def run() -> list[dict[str, Any]]:
    with scratch_postgres("ingest") as (home, server):  # the capture path below runs as scis_app
        frames = make_frames(EVENTS)
        frames_file = home / "frames.sciscap"
        write_capture_file(frames_file, frames)
        tune_gc()  # as `scis capture` does
        pairs: list[Pair] = []
        scis_cpu_total = server_cpu_total = 0.0
        for _ in range(ROUNDS):
            cpu_before, server_before = own_cpu_seconds(), server_cpu_seconds(server)
            elapsed, records, session_id = asyncio.run(scis_path(server.url, home, frames_file))
            scis_cpu_total += own_cpu_seconds() - cpu_before
            server_cpu_total += server_cpu_seconds(server) - server_before
            pairs.append(Pair(elapsed, records, *ceiling_path(server.url, session_id)))
        # Per-event CPU: hardly changed by other load on a shared machine, unlike the rates.
        scis_cpu = scis_cpu_total / (EVENTS * ROUNDS) * 1000
        server_cpu = server_cpu_total / (EVENTS * ROUNDS) * 1000
        median = sorted(pairs, key=lambda pair: pair.share)[ROUNDS // 2]
        elapsed, records = median.elapsed, median.records
        ceiling_elapsed, ceiling_records = median.ceiling_elapsed, median.ceiling_records
        rate = EVENTS / elapsed
        ceiling_rate = ceiling_records / ceiling_elapsed
        stages = stage_cpu(frames[: STAGE_EVENTS // MESSAGES_PER_FRAME])
        base_frames = frames[: BASELINE_EVENTS // MESSAGES_PER_FRAME]
        base_elapsed, base_count = baseline_path(server.url, base_frames)
        base_rate = base_count / base_elapsed
    ratio = round(rate / base_rate, 1)
    records_rate = records / elapsed
    share = round(median.share, 2)
    shares = ", ".join(f"{pair.share:.0%}" for pair in pairs)
    spread = f"{min(p.share for p in pairs):.0%}-{max(p.share for p in pairs):.0%}"
    print(
        f"   SCIS pipeline: {EVENTS} events ({records} chain records) in {elapsed:.2f}s = {rate:,.0f} events/s "
        f"({records_rate:,.0f} records/s)"
    )
    print(f"   naive baseline: {base_count} events in {base_elapsed:.2f}s = {base_rate:,.0f} events/s ({ratio}x)")
    print(f"   physical ceiling: {ceiling_records} records COPYed in {ceiling_elapsed:.2f}s = {ceiling_rate:,.0f} "
          f"records/s; SCIS is {share:.0%} of it (median of {ROUNDS} pairs: {shares})")  # fmt: skip
    print(f"   CPU per 1,000 events: SCIS process {scis_cpu:.3f} s, PostgreSQL {server_cpu:.3f} s "
          f"(one core would ingest {1000 / scis_cpu:,.0f} events/s in the SCIS process)")  # fmt: skip
    print("   CPU per 1,000 events by stage (SCIS process): "
          + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in stages.items()))  # fmt: skip
    return [
        *(
            {
                "name": f"ingest_cpu_seconds_per_1000_events_stage_{name}",
                "value": round(seconds, 4),
                "unit": "CPU s",
                "baseline": None,
                "ratio": None,
                "goal": "informative: one stage of the SCIS process's CPU per 1,000 events",
            }
            for name, seconds in stages.items()
        ),
        {
            "name": "ingest_events_per_second",
            "value": round(rate),
            "unit": "events/s",
            "baseline": round(base_rate),
            "ratio": ratio,
            "goal": f">= {GOAL_RATE:,} events/s and >= {GOAL_RATIO:g}x baseline",
        },
        {
            "name": "ingest_share_of_physical_ceiling",
            "value": round(records_rate),
            "unit": "records/s",
            "baseline": round(ceiling_rate),
            "ratio": share,
            "goal": f">= {GOAL_CEILING_SHARE:.0%} of a bare COPY of the same rows (baseline = that COPY); "
            f"median of {ROUNDS} pairs, spread {spread}",
        },
        {
            "name": "ingest_cpu_seconds_per_1000_events_scis",
            "value": round(scis_cpu, 3),
            "unit": "CPU s",
            "baseline": None,
            "ratio": None,
            "goal": f"informative, load-insensitive: decode+chain+COPY in the SCIS process; "
            f"{GOAL_RATE:,} events/s on one core needs <= {1000 / GOAL_RATE:.3f}",
        },
        {
            "name": "ingest_cpu_seconds_per_1000_events_postgres",
            "value": round(server_cpu, 3),
            "unit": "CPU s",
            "baseline": None,
            "ratio": None,
            "goal": "informative: PostgreSQL's side of the same ingest",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
