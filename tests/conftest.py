"""Session fixtures: a real PostgreSQL and a real Redis-protocol server for the whole test run.

Set SCIS_TEST_DATABASE_URL / SCIS_TEST_REDIS_URL to use servers of your own instead; the database
must be empty or already migrated by SCIS.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scis.core.db import migrate
from scis.embedded.ports import free_port
from scis.embedded.postgres import EmbeddedPostgres
from scis.embedded.redis import EmbeddedRedis


@pytest.fixture(scope="session")
def test_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="scis-test-") as folder:
        path = Path(folder)
        path.chmod(0o755)
        yield path


@pytest.fixture(scope="session")
def postgres_url(test_home: Path) -> Iterator[str]:
    """A migrated PostgreSQL database shared by the session."""
    external = os.environ.get("SCIS_TEST_DATABASE_URL")
    if external:
        migrate(external)
        yield external
        return
    server = EmbeddedPostgres(test_home / "postgres", free_port(), test_home / "logs" / "postgres.log")
    server.start()
    try:
        migrate(server.url)
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(test_home: Path) -> Iterator[str]:
    external = os.environ.get("SCIS_TEST_REDIS_URL")
    if external:
        yield external
        return
    server = EmbeddedRedis(test_home / "redis", free_port(), test_home / "logs" / "redis.log")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
