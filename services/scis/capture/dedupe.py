"""Drop an event already seen: (kind, msg_id) within a bounded window of recent keys."""

from __future__ import annotations

from collections.abc import Iterable

# Remembered: at least this many most recent keys per capture, at most twice as many (~3 MB). What
# the server sends again is small beside it: 50 messages to a client with no cursor, the frames in
# flight to one resuming from its cursor; a resume loads this many stored keys first. Within one
# session the store's unique (session, kind, msg_id) index refuses anything older (decision 423).
CAPACITY = 20_000


class RecentKeys:
    """The most recent keys, at least `capacity` of them, in two generations of msg_id sets per kind.

    When the current generation holds `capacity` keys it becomes the old one and the older one is
    dropped, so between `capacity` and twice as many keys are remembered. Sets of ints take ~80 bytes
    a key. A window of 250,000 (decision 422) took ~40 MB per busy capture and ~21 minutes at 200
    events/s to fill, so a soak saw memory grow all along; this one is full within minutes, then flat
    (decision 423)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._current: dict[str, set[int]] = {}
        self._old: dict[str, set[int]] = {}
        self._current_size = 0
        self.duplicates = 0

    def seen(self, kind: str, msg_id: int | None) -> bool:
        """True if (kind, msg_id) was seen before; otherwise remembers it. Events without msg_id are new."""
        if msg_id is None:
            return False
        current = self._current.get(kind)
        if current is None:
            current = self._current[kind] = set()
        if msg_id in current or msg_id in self._old.get(kind, ()):
            self.duplicates += 1
            return True
        current.add(msg_id)
        self._current_size += 1
        if self._current_size >= self.capacity:
            self._old, self._current, self._current_size = self._current, {}, 0
        return False

    def remember(self, keys: Iterable[tuple[str, int]]) -> None:
        for kind, msg_id in keys:
            self.seen(kind, msg_id)

    def __len__(self) -> int:
        return sum(map(len, self._current.values())) + sum(map(len, self._old.values()))
