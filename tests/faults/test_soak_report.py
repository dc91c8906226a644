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


def lags(lag_ms: list[float], period: float = 5.0) -> Latencies:
    """Latencies whose TikTok-time lag is lag_ms[i] in period i."""
    latencies = Latencies(period=period, started=0.0)
    for index, value in enumerate(lag_ms):
        latencies.lag_periods[index] = Counter({latency_bucket(value): 100})
    return latencies


def test_a_capture_left_with_a_backlog_when_production_ends_is_reported_behind_its_memory_queue_bounded() -> None:
    plan = SoakPlan(seconds=600, lives=8, rate=200)  # 1,600 events/s offered
    samples = [sample(t, 200.0, min(80_000, 700 * t), stored=900 * t, sent=1_900 * t) for t in range(5, 601, 5)]
    growing = lags([200.0 + 100 * i for i in range(120)])  # reading further and further behind
    behind = behind_rows(plan, samples, 80_000, growing, stored_total=900 * 600 + 300_000)
    by_name = {row["name"]: row for row in behind}
    backlog = by_name["soak_backlog_at_end"]
    assert backlog["value"] == 300_000 and "FELL BEHIND" in backlog["goal"]
    assert by_name["soak_lag_p99_last_quarter"]["ratio"] > 2
    in_memory = by_name["soak_queue_in_memory_peak"]
    assert in_memory["value"] == 80_000 and in_memory["ratio"] == 1
    # Sent counts every streak frame (more than stored) yet nothing waits at the end and the lag is flat: kept up.
    kept_up = [sample(t, 200.0, 50, stored=1_300 * t, sent=1_600 * t) for t in range(5, 601, 5)]
    steady = behind_rows(plan, kept_up, 80_000, lags([300.0] * 120), stored_total=1_300 * 600 + 50)
    assert "kept up" in {row["name"]: row for row in steady}["soak_backlog_at_end"]["goal"]


def test_latency_p99_comes_from_bounded_histograms_within_their_bucket_width() -> None:
    latencies = Latencies(period=10.0, started=0.0)
    values = [1.0 + i * 0.37 for i in range(20_000)]  # ms
    for index, value in enumerate(values):  # periods 0..5 hold the values in turn
        latencies.periods.setdefault(index % 6, Counter())[latency_bucket(value)] += 1
    exact = sorted(values)[int(0.99 * (len(values) - 1))]
    measured = latencies.p99_ms(0, 60)
    assert exact <= measured <= exact * LATENCY_BUCKET_GROWTH**2, (exact, measured)
    assert sum(len(histogram) for histogram in latencies.periods.values()) < 6 * 600  # not one entry per event
