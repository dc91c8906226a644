"""Where a command finds PostgreSQL and Redis: an explicit flag, SCIS_* settings, or the local `scis up` stack."""

from __future__ import annotations

from scis.core.settings import Settings


class NoDatabase(Exception):
    """No PostgreSQL configured and no local stack; the message says what to set."""


def resolve_database_url(settings: Settings, explicit: str | None = None) -> str:
    if explicit:
        return explicit
    if settings.database_url:
        return settings.database_url
    from scis.embedded.postgres import EmbeddedPostgres  # the local stack's URL is the embedded package's to say

    home = settings.home.expanduser().resolve()
    if not (home / "postgres" / "PG_VERSION").exists():
        raise NoDatabase(f"no database: set SCIS_DATABASE_URL or run `scis up` first (SCIS_HOME={home})")
    return EmbeddedPostgres(home / "postgres", settings.postgres_port, home / "logs" / "postgres.log").url


def resolve_redis_url(settings: Settings, explicit: str | None = None) -> str | None:
    """The Redis to publish events on; None when there is none (events are still stored)."""
    if explicit:
        return explicit
    if settings.redis_url:
        return settings.redis_url
    home = settings.home.expanduser().resolve()
    if (home / "redis").exists():
        return f"redis://127.0.0.1:{settings.redis_port}/0"
    return None
