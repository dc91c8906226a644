"""The soak's report (bench/soak.py): a capture that falls behind shows as a backlog, not as a leak."""

from __future__ import annotations

import random
from collections import Counter

from bench.soak import (
    LATENCY_BUCKET_GROWTH,
    Latencies,
    Sample,
    SoakPlan,
    behind_rows,
    latency_bucket,
    rss_net_of_backlog,
)


def sample(at: float, rss: float, queued_in_memory: int, *, stored: int = 0, sent: int | None = None) -> Sample:
    return Sample(at=at, rss_mb=rss, fds=40, sent=sent, received=stored + queued_in_memory, stored=stored,
                  queued=queued_in_memory, queued_in_memory=queued_in_memory, cpu={"capture": 100.0},
                  load=2.0)  # fmt: skip


def test_memory_that_follows_the_backlog_is_told_apart_from_a_leak() -> None:
    noise = random.Random(3)
    # 0.02 MB per queued event and no leak: the queue rises then falls (a writer catching up).
    queue = [int(40_000 * min(i, 120 - i) / 60) for i in range(120)]
    backlog = [sample(i * 10.0, 150 + 0.02 * q + noise.uniform(-0.5, 0.5), q) for i, q in enumerate(queue)]
    leak_per_hour, per_thousand = rss_net_of_backlog(backlog)
    assert abs(leak_per_hour) < 5 and abs(per_thousand - 20) < 0.5, (leak_per_hour, per_thousand)
    # The same backlog plus a true leak of 100 MB/hour: the leak is found, the backlog's share too.
    leaking = [sample(p.at, p.rss_mb + 100 * p.at / 3600, p.queued_in_memory) for p in backlog]
    leak_per_hour, per_thousand = rss_net_of_backlog(leaking)
    assert abs(leak_per_hour - 100) < 5 and abs(per_thousand - 20) < 0.5, (leak_per_hour, per_thousand)


def test_a_capture_storing_less_than_offered_is_reported_behind_with_its_queue_bounded_in_memory() -> None:
    plan = SoakPlan(seconds=600, lives=8, rate=200)  # 1,600 events/s offered
    samples = [sample(t, 200.0, min(80_000, 700 * t), stored=900 * t, sent=1_600 * t) for t in range(5, 601, 5)]
    by_name = {row["name"]: row for row in behind_rows(plan, samples, memory_bound=80_000)}
    assert by_name["soak_stored_rate"]["value"] == 900 and "FELL BEHIND" in by_name["soak_stored_rate"]["goal"]
    in_memory = by_name["soak_queue_in_memory_peak"]
    assert in_memory["value"] == 80_000 and in_memory["ratio"] == 1
    kept_up = [sample(t, 200.0, 50, stored=1_600 * t, sent=1_600 * t) for t in range(5, 601, 5)]
    assert "kept up" in {row["name"]: row for row in behind_rows(plan, kept_up, 80_000)}["soak_stored_rate"]["goal"]


def test_latency_p99_comes_from_bounded_histograms_within_their_bucket_width() -> None:
    latencies = Latencies(period=10.0, started=0.0)
    values = [1.0 + i * 0.37 for i in range(20_000)]  # ms
    for index, value in enumerate(values):  # periods 0..5 hold the values in turn
        latencies.periods.setdefault(index % 6, Counter())[latency_bucket(value)] += 1
    exact = sorted(values)[int(0.99 * (len(values) - 1))]
    measured = latencies.p99_ms(0, 60)
    assert exact <= measured <= exact * LATENCY_BUCKET_GROWTH**2, (exact, measured)
    assert sum(len(histogram) for histogram in latencies.periods.values()) < 6 * 600  # not one entry per event
