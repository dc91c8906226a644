"""The fault suite reuses the capture tests' fixtures (simulator, pool, Redis client, settings); the root
conftest kills any capture process a failing test left running."""

from tests.capture.conftest import pool, redis_client, settings, sim

__all__ = ["pool", "redis_client", "settings", "sim"]
