"""Shared by the sign-in attack tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis


@pytest.fixture(autouse=True)
def forget_login_failures(redis_url: str) -> Iterator[None]:
    """Lockouts must not leak into other tests (they may share the client address)."""
    yield
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("scis:login:*"):
        client.delete(key)
    client.close()
