"""Drop an event already seen: (kind, msg_id) within a bounded window of recent keys."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable


class RecentKeys:
    """The most recent `capacity` keys; a reconnect's replay falls well inside the window."""

    def __init__(self, capacity: int = 500_000) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[tuple[str, int], None] = OrderedDict()
        self.duplicates = 0

    def seen(self, kind: str, msg_id: int | None) -> bool:
        """True if (kind, msg_id) was seen before; otherwise remembers it. Events without msg_id are new."""
        if msg_id is None:
            return False
        key = (kind, msg_id)
        if key in self._keys:
            self.duplicates += 1
            return True
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return False

    def remember(self, keys: Iterable[tuple[str, int]]) -> None:
        for kind, msg_id in keys:
            self.seen(kind, msg_id)

    def __len__(self) -> int:
        return len(self._keys)
