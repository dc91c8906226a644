"""The dedupe window (scis.capture.dedupe, decision 422): exact, at least `capacity` recent keys, bounded."""

from __future__ import annotations

import gc

import psutil

from scis.capture.dedupe import RecentKeys


def test_a_key_is_a_duplicate_only_for_its_own_kind_and_events_without_msg_id_are_always_new() -> None:
    keys = RecentKeys(capacity=10)
    assert not keys.seen("chat", 7) and keys.seen("chat", 7)
    assert not keys.seen("gift", 7)  # same msg_id, another kind
    assert not keys.seen("chat", None) and not keys.seen("chat", None)
    assert keys.duplicates == 1


def test_the_window_keeps_at_least_capacity_recent_keys_and_at_most_twice_as_many() -> None:
    keys = RecentKeys(capacity=1000)
    for msg_id in range(10_000):
        assert not keys.seen("chat", msg_id)
        assert len(keys) <= 2000
    assert all(keys.seen("chat", msg_id) for msg_id in range(9_000, 10_000))  # the last `capacity`
    assert not keys.seen("chat", 0)  # long forgotten: new again (and remembered)


def test_a_full_default_window_costs_a_few_megabytes() -> None:
    process = psutil.Process()
    gc.collect()
    before = process.memory_info().rss
    keys = RecentKeys()
    for msg_id in range(2 * keys.capacity - 1):  # both generations full: the most it ever holds
        keys.seen("chat" if msg_id % 3 else "like", 7_300_000_000_000_000_000 + msg_id * 7919)
    gc.collect()
    grown_mb = (process.memory_info().rss - before) / 2**20
    assert len(keys) == 2 * keys.capacity - 1
    assert grown_mb < 8, f"{grown_mb:.0f} MB for {len(keys)} keys"
