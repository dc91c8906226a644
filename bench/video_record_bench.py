"""Recording the live's video as evidence (scis.capture.video.VideoRecorder) in one process.

The source is the simulator's FLV (320x180, 10 fps H.264) encoded once and replayed, paced in real time,
to every connection by another process (bench/video_peers.py replay), so this process's CPU is the
recorders' only: reading, cutting into segments at keyframes, hashing, storing the raw bytes and the
remuxed MP4 in a directory store, as a capture does.

1. CPU per recorded live: CPU-seconds this process spends per live-minute of recording, against the
   baseline of a recorder that also decodes every frame once (to re-encode or inspect it): this figure
   plus the CPU PyAV spends decoding the same bytes, measured here.
2. Recorded lives per process: recorders are added (16, 64, 128, 256) until one of them falls behind the
   live by more than MAX_LAG_SECONDS (the bytes it has read stop keeping up with real time); baseline:
   one core's minute over the baseline's CPU per live-minute (an estimate, not a ramp).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import av

from bench.video_bench import peer
from scis.capture.video import VideoRecorder
from scis.core.settings import Settings
from scis.evidence.media import DirectoryStore
from scis.evidence.records import EventRecord
from scis.simulator.video import FPS, QUALITIES, FlvEncoder

SOURCE_SECONDS = 90  # the replayed live (longer than a step)
STEP_SECONDS = 30
RAMP = (16, 64, 128, 256)
MAX_LAG_SECONDS = 2.0
SEGMENT_SECONDS = float(Settings.model_fields["video_segment_seconds"].default)


def encode_source(path: Path) -> bytes:
    """SOURCE_SECONDS of the simulator's live as FLV bytes, written to `path`."""
    encoder = FlvEncoder(*QUALITIES["origin"])
    clock = iter(range(SOURCE_SECONDS * FPS))
    flv = encoder.encode(SOURCE_SECONDS * FPS, clock=lambda: next(clock) / FPS) + encoder.close()
    path.write_bytes(flv)
    return flv


def decode_cpu_per_minute(flv: bytes) -> float:
    """Baseline: CPU-seconds to decode one minute of the live (one decode per live)."""
    import io

    started = time.process_time()
    with av.open(io.BytesIO(flv), format="flv") as container:
        frames = sum(1 for _ in container.decode(video=0))
    return (time.process_time() - started) / (frames / FPS / 60)


def lag_seconds(records: list[EventRecord], stopped_at: datetime) -> float:
    """How far behind the live a recorder was when stopped: wall time since its first byte minus media read."""
    segments = [r.data for r in records if r.kind == "video_segment"]
    if not segments:
        return float("inf")
    first = datetime.fromisoformat(segments[0]["from"])
    media_ms = max(s["media_to_ms"] or 0 for s in segments) - (segments[0]["media_from_ms"] or 0)
    return (stopped_at - first).total_seconds() - media_ms / 1000


async def record(url: str, lives: int, store: DirectoryStore) -> tuple[float, float, int]:
    """`lives` recorders for STEP_SECONDS: CPU-seconds used, worst lag, segments stored."""
    emitted: list[list[EventRecord]] = [[] for _ in range(lives)]
    recorders = [
        VideoRecorder(uuid.uuid4(), {"origin": url}, store, emitted[i].append, segment_seconds=SEGMENT_SECONDS)
        for i in range(lives)
    ]
    cpu_started = time.process_time()
    tasks = [asyncio.create_task(recorder.run()) for recorder in recorders]
    await asyncio.sleep(STEP_SECONDS)
    stopped_at = datetime.now().astimezone()
    for recorder in recorders:
        await recorder.stop()
    await asyncio.gather(*tasks)
    cpu = time.process_time() - cpu_started
    lag = max(lag_seconds(records, stopped_at) for records in emitted)
    return cpu, lag, sum(recorder.segments for recorder in recorders)


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="scis-video-bench-") as tmp:
        flv = encode_source(Path(tmp) / "live.flv")
        baseline_cpu = decode_cpu_per_minute(flv)
        store = DirectoryStore(Path(tmp) / "store")
        steps: list[tuple[int, float, float]] = []
        with peer("replay", str(Path(tmp) / "live.flv")) as (_, ready):
            for lives in RAMP:
                cpu, lag, segments = asyncio.run(record(ready["url"], lives, store))
                per_minute = cpu / (lives * STEP_SECONDS / 60)
                steps.append((lives, round(per_minute, 3), round(lag, 2)))
                print(f"   {lives} lives: {per_minute:.3f} CPU-s per live-minute, lag {lag:.2f} s, "
                      f"{segments} segments", flush=True)  # fmt: skip
                if lag > MAX_LAG_SECONDS:
                    break
    kept_up = [lives for lives, _, lag in steps if lag <= MAX_LAG_SECONDS]
    cpu_per_minute = statistics.median(cpu for lives, cpu, lag in steps if lag <= MAX_LAG_SECONDS) if kept_up else None
    decode_cpu = baseline_cpu
    baseline_cpu = (cpu_per_minute or 0) + decode_cpu  # the same recording, plus one decode per live
    baseline_lives = int(60 / baseline_cpu)  # one core's CPU-seconds per minute
    best = max(kept_up, default=0)
    return [
        {
            "name": "video_record_cpu_per_live_minute",
            "value": cpu_per_minute,
            "unit": "CPU-s",
            "baseline": round(baseline_cpu, 3),
            "ratio": round(cpu_per_minute / baseline_cpu, 2) if cpu_per_minute else None,
            "goal": f"informative; median of the steps that kept up {steps} (lives, CPU-s, lag s); "
            f"baseline: the same plus one decode per live ({decode_cpu:.3f} CPU-s)",
        },
        {
            "name": "video_recorded_lives_per_process",
            "value": best,
            "unit": "lives",
            "baseline": baseline_lives,
            "ratio": round(best / baseline_lives, 2) if baseline_lives else None,
            "goal": f"largest step whose recorders kept within {MAX_LAG_SECONDS} s of the live "
            f"(steps {list(RAMP)}; baseline: one core / decode cost per live, an estimate)",
        },
    ]
