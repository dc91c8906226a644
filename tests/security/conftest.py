"""The attack suite's fixtures: the services' fixtures (every app with its lifespan, accounts, tokens)
with settings of its own — TikTok pointed at a closed local port (nothing here may reach the
internet) and a public URL to check Origins against — and two cases: one the test accounts belong
to ("member") and one they do not ("outsider")."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from scis.core.settings import Settings
from scis.embedded.ports import free_port
from tests.services.conftest import accounts, apps, clients, tokens
from tests.support.cases import make_case

__all__ = ["accounts", "apps", "clients", "tokens"]  # fixtures shared with tests/services


@pytest.fixture(scope="session")
def settings(postgres_url: str, redis_url: str, test_home) -> Settings:  # type: ignore[no-untyped-def]
    offline = f"http://127.0.0.1:{free_port()}"
    return Settings(
        database_url=postgres_url, redis_url=redis_url, home=test_home, tiktok_base_url=offline,
        webcast_base_url=offline, public_url="https://scis.example.org",
    )  # fmt: skip


@pytest.fixture(scope="session")
def api_apps(apps: dict[str, FastAPI]) -> dict[str, FastAPI]:
    """The apps that publish an API (all but the frontend)."""
    return {name: app for name, app in apps.items() if app.openapi_url}


@pytest.fixture(scope="session")
def member_case(postgres_url: str, accounts: dict[str, str]) -> int:  # noqa: F811
    return make_case(
        postgres_url, created_by=accounts["investigator"], members=[accounts["investigator"], accounts["viewer"]]
    )


@pytest.fixture(scope="session")
def outsider_case(postgres_url: str, accounts: dict[str, str]) -> int:  # noqa: F811
    return make_case(postgres_url, created_by=accounts["admin"], members=[])
