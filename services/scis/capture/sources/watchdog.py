"""The read deadline of a push socket: one timer per socket instead of a deadline per read.

`asyncio.timeout` around each read schedules a timer and cancels it again for every frame, a cost per
frame per live (decision 241). This watchdog's timer fires once per `seconds` at most and only looks
at when the current read began; it cancels the reading task when that read has waited `seconds`,
which `read` turns into a TimeoutError as `asyncio.timeout` would.

A deadline found passed is confirmed once more a short grace later, on a later turn of the loop. When
the whole process was starved (a CPU quota, a paused VM), the frames that arrived meanwhile and the
due timer are handled in the same turn, the timer after the socket's bytes but before the reading task
resumes: without the second look, the socket would be deemed dead with its frames read and waiting,
and a live ending during the reconnect would lose them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class ReadWatchdog:
    """Raises TimeoutError from `read` when one read waits `seconds` or more; `close` when done."""

    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"watchdog seconds must be positive, got {seconds!r}")
        self.seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._reader: asyncio.Task[object] | None = None  # the task waiting in `read`, if any
        self._read_started = self._loop.time()
        self._suspect: float | None = None  # start of the read whose deadline was found passed once
        self._fired = False
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(seconds, self._check)

    async def read(self, reading: Awaitable[T]) -> T:
        """Await `reading` under the deadline."""
        task = asyncio.current_task()
        self._reader, self._read_started = task, self._loop.time()
        try:
            return await reading
        except asyncio.CancelledError:
            if self._fired and task is not None and task.uncancel() == 0:
                raise TimeoutError(f"no frame for {self.seconds:g} s") from None
            raise
        finally:
            self._reader = None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        now = self._loop.time()
        due = self._read_started + self.seconds
        if self._reader is None or now < due:  # not reading (the frame is being handled), or not long enough
            self._timer = self._loop.call_at(max(due, now + self.seconds / 10), self._check)
            return
        if self._suspect != self._read_started:  # first look at this read: let the loop deliver what it holds
            self._suspect = self._read_started
            self._timer = self._loop.call_later(self.grace, self._check)
            return
        self._fired = True
        self._reader.cancel()

    @property
    def grace(self) -> float:
        return min(1.0, self.seconds / 10)
