"""Session fixtures: a real PostgreSQL and a real Redis-protocol server for the whole test run.

PostgreSQL URLs, one per database role (see docs/decisions/301-*.md):
- `superuser_url`: the owner/superuser; migrations, and tests that tamper with the evidence.
- `postgres_url` (= `app_url`): scis_app, the role every service connects as.
- `explorer_url`: scis_explorer, the SQL explorer's own role.

Set SCIS_TEST_DATABASE_URL (a superuser URL) / SCIS_TEST_REDIS_URL to use servers of your own instead;
the database must be empty or already migrated by SCIS.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from scis.core.db import APP_ROLE, EXPLORER_ROLE, migrate, set_login_passwords
from scis.embedded.ports import free_port
from scis.embedded.postgres import EmbeddedPostgres
from scis.embedded.redis import EmbeddedRedis
from tests.support.processes import kill_spawned


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    yield
    kill_spawned()


@pytest.fixture(scope="session")
def test_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="scis-test-") as folder:
        path = Path(folder)
        path.chmod(0o755)
        yield path


@pytest.fixture(scope="session")
def database_urls(test_home: Path) -> Iterator[dict[str, str]]:
    """A migrated PostgreSQL database shared by the session: its URL for each role."""
    external = os.environ.get("SCIS_TEST_DATABASE_URL")
    if external:
        migrate(external)
        urls = {"superuser": external}
        for role in (APP_ROLE, EXPLORER_ROLE):
            urls[role] = make_conninfo(external, user=role, password=f"test-{role}-password")
        set_login_passwords(external, [urls[APP_ROLE], urls[EXPLORER_ROLE]])
        yield {key: _as_url(value) for key, value in urls.items()}
        return
    server = EmbeddedPostgres(test_home / "postgres", free_port(), test_home / "logs" / "postgres.log")
    server.start()
    try:
        server.migrate()
        yield {"superuser": server.superuser_url, APP_ROLE: server.url, EXPLORER_ROLE: server.explorer_url}
    finally:
        server.stop()


def _as_url(conninfo: str) -> str:
    """A postgresql:// URL from any libpq connection string (tests build URLs from it)."""
    if conninfo.startswith(("postgresql://", "postgres://")):
        return conninfo
    info = conninfo_to_dict(conninfo)
    return (
        f"postgresql://{info['user']}:{info.get('password', '')}@{info.get('host', '127.0.0.1')}:"
        f"{info.get('port', 5432)}/{info.get('dbname', 'postgres')}"
    )


@pytest.fixture(scope="session")
def superuser_url(database_urls: dict[str, str]) -> str:
    """The superuser (embedded) or the owner: migrations, and tests that bypass the append-only triggers."""
    return database_urls["superuser"]


@pytest.fixture(scope="session")
def postgres_url(database_urls: dict[str, str]) -> str:
    """scis_app: what every service connects as; no DDL, no UPDATE/DELETE on events and audit_log."""
    return database_urls[APP_ROLE]


@pytest.fixture(scope="session")
def app_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture(scope="session")
def explorer_url(database_urls: dict[str, str]) -> str:
    """scis_explorer: SELECT on the `explorer` schema's views, nothing else."""
    return database_urls[EXPLORER_ROLE]


@pytest.fixture
def empty_database(superuser_url: str) -> Iterator[str]:
    """An empty database of its own, as the superuser URL (migrations run as the owner, decision 301): for
    tests that need exact counts, a schema at a given migration, or partitions to detach."""
    name = f"scis_empty_{uuid.uuid4().hex[:8]}"
    admin_url = superuser_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield superuser_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


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
