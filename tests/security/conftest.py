"""The attack suite reuses the service fixtures: every app with its real lifespan, real PostgreSQL."""

from tests.services.conftest import accounts, apps, clients, settings, tokens  # noqa: F401
