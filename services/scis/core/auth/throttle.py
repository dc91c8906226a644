"""Login throttling in Redis: failed sign-ins are counted per account name and per client address;
too many within the window lock that name or address out for a while.

Counting by the name typed, whether or not such an account exists, keeps the answer the same for
both, so the lockout reveals nothing about which accounts exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from scis.core.settings import Settings


@dataclass(frozen=True, slots=True)
class Lockout:
    scope: str  # "account" or "address"
    retry_after_seconds: int

    def message(self) -> str:
        until = (datetime.now(UTC) + timedelta(seconds=self.retry_after_seconds)).strftime("%H:%M:%S UTC")
        what = "this account name" if self.scope == "account" else "your address"
        return (
            f"too many failed sign-ins for {what}: sign-in is locked for {self.retry_after_seconds} s; "
            f"try again after {until}"
        )


@dataclass(frozen=True, slots=True)
class _Counter:
    scope: str
    subject: str
    limit: int

    @property
    def failures_key(self) -> str:
        return f"scis:login:failures:{self.scope}:{self.subject}"

    @property
    def lock_key(self) -> str:
        return f"scis:login:lock:{self.scope}:{self.subject}"


def _counters(settings: Settings, username: str, address: str | None) -> list[_Counter]:
    counters = [_Counter("account", username.lower(), settings.login_max_failures)]
    if address:
        counters.append(_Counter("address", address, settings.login_address_max_failures))
    return counters


async def current_lockout(
    client: aioredis.Redis, settings: Settings, *, username: str, address: str | None
) -> Lockout | None:
    """The lockout in force for the name or the address, if any."""
    counters = _counters(settings, username, address)
    async with client.pipeline(transaction=False) as pipe:
        for counter in counters:
            pipe.ttl(counter.lock_key)
        remaining = await pipe.execute()
    for counter, seconds in zip(counters, remaining, strict=True):
        if seconds and seconds > 0:
            return Lockout(counter.scope, int(seconds))
    return None


async def record_failure(
    client: aioredis.Redis, settings: Settings, *, username: str, address: str | None
) -> Lockout | None:
    """Count one failed sign-in; returns the lockout it started, if it reached a limit."""
    started: Lockout | None = None
    for counter in _counters(settings, username, address):
        async with client.pipeline(transaction=True) as pipe:
            pipe.incr(counter.failures_key)
            pipe.expire(counter.failures_key, settings.login_failure_window_seconds, nx=True)
            failures, _ = await pipe.execute()
        if int(failures) >= counter.limit:
            async with client.pipeline(transaction=True) as pipe:
                pipe.set(counter.lock_key, "1", ex=settings.login_lockout_seconds)
                pipe.delete(counter.failures_key)
                await pipe.execute()
            started = started or Lockout(counter.scope, settings.login_lockout_seconds)
    return started


async def clear_account_failures(client: aioredis.Redis, username: str) -> None:
    """A successful sign-in forgets the name's earlier failures (the address keeps its count)."""
    await client.delete(_Counter("account", username.lower(), 0).failures_key)
