"""The per-namespace limit on concurrent lives."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable


class CaptureSlots:
    """Who holds a capture slot in each namespace.

    A slot is held from the moment the operator decides to create a capture Pod until that Pod is
    seen finished or gone: reserving under a lock closes the window in which two LiveMonitors
    reconciled at once both see a free slot before either Pod shows up in the watch stream.
    """

    def __init__(self, reservation_seconds: float = 30.0) -> None:
        self._reserved: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._reservation_seconds = reservation_seconds

    def try_take(self, namespace: str, name: str, *, running: Iterable[str], limit: int) -> bool:
        """Take a slot for ``name`` unless ``limit`` monitors already hold one in the namespace."""
        now = time.monotonic()
        with self._lock:
            self._reserved = {
                key: taken for key, taken in self._reserved.items() if now - taken < self._reservation_seconds
            }
            holders = set(running) | {n for (ns, n) in self._reserved if ns == namespace}
            if name in holders:
                return True
            if len(holders) >= limit:
                return False
            self._reserved[(namespace, name)] = now
            return True

    def release(self, namespace: str, name: str) -> None:
        with self._lock:
            self._reserved.pop((namespace, name), None)
