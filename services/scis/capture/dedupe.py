"""Drop an event already seen: (kind, msg_id) within a bounded window of recent keys."""

from __future__ import annotations

from collections.abc import Iterable

# Remembered: at least this many most recent keys, at most twice as many. Above the keys a resume
# loads (adoption.STORED_KEYS); a reconnect's replay falls well inside the window.
CAPACITY = 250_000


class RecentKeys:
    """The most recent keys, at least `capacity` of them, in two generations of msg_id sets per kind.

    When the current generation holds `capacity` keys it becomes the old one and the older one is
    dropped, so between `capacity` and twice as many keys are remembered. Sets of ints take ~80 bytes
    a key; the OrderedDict of (kind, msg_id) tuples it replaces took ~220 and held 500,000 keys, ~105 MB
    per capture once full, which a 20-minute soak at 200 events/s saw grow all along as a "leak"
    (decision 422)."""

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
