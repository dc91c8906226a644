"""Where commands find PostgreSQL and Redis: flag first, then settings, then the local stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from scis.core.connections import NoDatabase, resolve_database_url, resolve_redis_url
from scis.core.settings import Settings


def test_flag_then_settings_then_a_clear_error(tmp_path: Path) -> None:
    configured = Settings(home=tmp_path, database_url="postgresql://a@db/x", redis_url="redis://r/0")
    assert resolve_database_url(configured, "postgresql://flag/x") == "postgresql://flag/x"
    assert resolve_database_url(configured) == "postgresql://a@db/x"
    assert resolve_redis_url(configured) == "redis://r/0"
    bare = Settings(home=tmp_path, database_url=None, redis_url=None)
    with pytest.raises(NoDatabase, match=r"set SCIS_DATABASE_URL or run `scis up` first"):
        resolve_database_url(bare)
    assert resolve_redis_url(bare) is None


def test_the_local_stack_is_found_under_scis_home(tmp_path: Path) -> None:
    (tmp_path / "postgres").mkdir()
    (tmp_path / "postgres" / "PG_VERSION").write_text("18\n")
    (tmp_path / "redis").mkdir()
    local = Settings(home=tmp_path, database_url=None, redis_url=None, postgres_port=15432, redis_port=16379)
    assert ":15432/" in resolve_database_url(local)
    assert resolve_redis_url(local) == "redis://127.0.0.1:16379/0"
