"""Stopping background tasks whose loops retry on a client library's errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

CANCEL_AGAIN_SECONDS = 1.0


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel the tasks and return once every one has ended.

    A cancel can reach a task inside a client's own timeout and come out as that client's error
    (redis-py: redis/redis-py#2551, #2028). A loop that retries on that error then goes on, and one
    `cancel()` followed by `await task` waits forever. So the cancel is delivered again until the
    task ends. A task that ended with another error re-raises it here, as `await task` would.
    """
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=CANCEL_AGAIN_SECONDS)
    for task in tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
