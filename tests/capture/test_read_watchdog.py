"""The push socket's read deadline (scis.capture.sources.watchdog, decision 241): one timer per socket."""

from __future__ import annotations

import asyncio
import time

import pytest

from scis.capture.sources.watchdog import ReadWatchdog


async def test_a_read_that_waits_longer_than_the_deadline_raises_timeout_error() -> None:
    watchdog = ReadWatchdog(0.2)
    never = asyncio.get_running_loop().create_future()
    with pytest.raises(TimeoutError, match="no frame for 0.2 s"):
        await watchdog.read(never)
    assert never.cancelled()
    watchdog.close()


async def test_reads_that_complete_return_their_value_and_later_reads_still_have_a_deadline() -> None:
    watchdog = ReadWatchdog(0.2)
    for value in range(100):
        ready = asyncio.get_running_loop().create_future()
        ready.set_result(value)
        assert await watchdog.read(ready) == value
    # Time spent between reads (the frame being handled) does not count against the next read.
    await asyncio.sleep(0.5)
    assert await watchdog.read(asyncio.sleep(0, result="next")) == "next"
    with pytest.raises(TimeoutError):
        await watchdog.read(asyncio.get_running_loop().create_future())
    watchdog.close()


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    watchdog = ReadWatchdog(30)
    reading = asyncio.create_task(watchdog.read(asyncio.get_running_loop().create_future()))
    await asyncio.sleep(0)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    watchdog.close()


async def test_a_deadline_that_is_not_positive_is_refused_with_its_value() -> None:
    with pytest.raises(ValueError, match="watchdog seconds must be positive, got 0"):
        ReadWatchdog(0)


async def test_a_frame_that_arrived_while_the_whole_process_was_starved_is_read_not_deemed_a_stall() -> None:
    """The loop handles the starved stretch's bytes and the due timer in one turn, the timer first to run."""
    loop = asyncio.get_running_loop()
    watchdog = ReadWatchdog(0.2)
    frame = loop.create_future()

    def starve_then_deliver() -> None:
        time.sleep(0.5)  # the process gets no CPU past the deadline; a frame is waiting in the socket
        loop.call_soon(frame.set_result, b"frame")  # the socket's callback, queued before the due timer

    loop.call_later(0.05, starve_then_deliver)
    assert await watchdog.read(frame) == b"frame"
    # A read that really waits too long still times out, after the deadline and its grace.
    started = loop.time()
    with pytest.raises(TimeoutError):
        await watchdog.read(loop.create_future())
    assert loop.time() - started >= 0.2 + watchdog.grace - 0.01
    watchdog.close()
