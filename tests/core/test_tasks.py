"""`cancel_and_wait`: a cancel that a client library turned into its own error is delivered again."""

from __future__ import annotations

import asyncio

import pytest

from scis.core.tasks import cancel_and_wait


async def test_a_cancel_turned_into_a_retried_error_is_delivered_again() -> None:
    """What redis-py can do when the cancel lands inside its read timeout (the subjects enricher's
    listener then retried for ever, and its stop() never returned)."""
    retries = 0

    async def retrying_listener() -> None:
        nonlocal retries
        while True:
            try:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    if retries == 0:
                        raise TimeoutError("Timeout reading from 127.0.0.1") from None
                    raise
            except OSError:  # the listener's "never let a Redis error kill me"
                retries += 1

    task = asyncio.create_task(retrying_listener())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait([task]), 30)
    assert task.cancelled() and retries == 1


async def test_a_task_that_failed_reraises_and_finished_ones_are_left_alone() -> None:
    async def failing() -> None:
        raise ValueError("broken")

    async def finished() -> int:
        return 1

    failed, done = asyncio.create_task(failing()), asyncio.create_task(finished())
    await asyncio.sleep(0)
    await cancel_and_wait([done])
    assert done.result() == 1
    with pytest.raises(ValueError, match="broken"):
        await cancel_and_wait([failed])
