"""Every operation of every service's OpenAPI, fuzzed with schemathesis, in-process over ASGI, with
hostile strings (HOSTILE_STRINGS) put in every text field of half the requests.

Every response is checked: no 5xx, a documented status and content type, a body that conforms to
the documented schema, and every 422 in our shape
(`{"detail": "invalid request: …", "errors": [{"field", "value", "problem"}]}`).

Deterministic (fixed seed, derandomised generation) and bounded (a few examples per operation, no
shrinking) so the whole file runs in well under a minute on two cores.

Nothing in the OpenAPI documents is skipped. Not fuzzed because they are not in them: /metrics and the
/api/<service>/healthz|readyz aliases (include_in_schema=False), the Socket.IO endpoint and the
frontend. POST /api/analyser/monitors is fuzzed for real: see `fuzz_clients` for how it stays offline.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.python.asgi import ASGIClient, shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from scis.core.settings import Settings
from scis.embedded.ports import free_port
from scis.serve import load_app

FUZZED_SERVICES = ("dashboard", "analyser", "profiles", "lives", "create", "database", "reports")
MAX_EXAMPLES = 15
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20260101,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "no-shrink": True},
        # The coverage phase enumerates boundary values deterministically; stateful chains are out of scope here.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _schema(service: str) -> Any:
    # The OpenAPI document needs no database: a never-started app built with placeholder addresses.
    placeholder = Settings(database_url="postgresql://unused/unused", redis_url="redis://127.0.0.1:1/0")
    return schemathesis.openapi.from_dict(load_app(service, placeholder).openapi(), config=CONFIG)


SCHEMAS = {service: _schema(service) for service in FUZZED_SERVICES}

# What an attacker types into every text field: injection in each language SCIS speaks (SQL, HTML,
# templates, paths, logs, headers), encodings that break naive code (lone surrogates, RTL override,
# BOM, combining marks), numbers as text, and sizes. None may cause a 5xx.
# (Nothing here is a whole destructive SQL statement: the explorer runs what it is sent.)
HOSTILE_STRINGS = (
    "x' OR '1'='1",
    "1; SELECT pg_sleep(0)",
    "$$ $tag$ U&'\\0041' E'\\x41'",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}{% raw %}${7*7}{% endraw %}",
    "../../../../etc/passwd",
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    "line1\r\nX-Injected: yes",
    '"},{"level":"error","msg":"forged',
    "\ud800",
    "\udfff\ud800",
    "\u202e\ufeff\u0301\u200b",
    "%00%0d%0a",
    "😀" * 200,
    "A" * 70_000,
    "9" * 400,
    "-0",
    "NaN",
    "1e309",
    "null",
    "",
    " ",
)


def with_hostile_strings(value: Any, hostile: str) -> Any:
    """The value with every string in it (not the keys) replaced by the hostile one."""
    if isinstance(value, str):
        return hostile
    if isinstance(value, dict):
        return {key: with_hostile_strings(item, hostile) for key, item in value.items()}
    if isinstance(value, list):
        return [with_hostile_strings(item, hostile) for item in value]
    return value


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def hostile_variants(value: Any, candidates: tuple[str, ...]) -> Any:
    """Half the generated requests keep schemathesis' values, half carry a hostile string everywhere."""
    from hypothesis import strategies as st

    hostile = st.sampled_from(candidates).map(lambda text: with_hostile_strings(value, text))
    return st.one_of(st.just(value), hostile)


# A URL cannot carry a lone surrogate at all (the client could not send it): those go in bodies only.
URL_HOSTILE_STRINGS = tuple(text for text in HOSTILE_STRINGS if is_utf8(text))


def flatmap_body(ctx: Any, body: Any) -> Any:
    return hostile_variants(body, HOSTILE_STRINGS)


def flatmap_query(ctx: Any, query: Any) -> Any:
    return hostile_variants(query, URL_HOSTILE_STRINGS)


# In a path, an empty value or a slash changes which route is called (the router's 404/405, not ours).
PATH_HOSTILE_STRINGS = tuple(text for text in URL_HOSTILE_STRINGS if text.strip() and "/" not in text)


def flatmap_path_parameters(ctx: Any, parameters: Any) -> Any:
    return hostile_variants(parameters, PATH_HOSTILE_STRINGS)


for _schema_of_service in SCHEMAS.values():
    for _hook in (flatmap_body, flatmap_query, flatmap_path_parameters):
        _schema_of_service.hook(_hook)


@pytest.fixture(scope="module")
def fuzz_clients(
    settings: Settings, tokens: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ASGIClient]]:
    """One started app per service, on the session's PostgreSQL and Redis, called with an admin token.

    The analyser's TikTok addresses point at a closed local port and its Chromium at a missing
    file, so fuzzed POST /monitors requests start captures that fail fast and cleanly instead of
    reaching the internet.
    """
    closed = f"http://127.0.0.1:{free_port()}"
    fuzz_settings = settings.model_copy(
        update={
            "home": tmp_path_factory.mktemp("fuzz-home"),
            "tiktok_base_url": closed,
            "webcast_base_url": closed,
            "chromium_path": Path("/nonexistent/chromium"),
            "watchdog_seconds": 1.0,
        }
    )
    clients: dict[str, ASGIClient] = {}
    try:
        for name in FUZZED_SERVICES:
            client = ASGIClient(load_app(name, fuzz_settings))
            client.__enter__()  # starts the app's lifespan: its PostgreSQL pool, Redis, discovery
            client.headers["authorization"] = f"Bearer {tokens['admin']}"
            clients[name] = client
        yield clients
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)
        shutdown_lifespans()  # every pool closed and capture sealed before PostgreSQL stops


def check(client: ASGIClient, case: Any) -> None:
    client.cookies.clear()  # a fuzzed login must not swap the admin token for its cookie
    response = case.call_and_validate(session=client, checks=CHECKS)
    if response.status_code == 422:  # ours, whether pydantic or the handler found the problem
        body = response.json()
        assert body["detail"].startswith("invalid request: "), body
        assert body["errors"], body
        for error in body["errors"]:
            assert set(error) == {"field", "value", "problem"}, error
            assert isinstance(error["field"], str) and error["field"], error
            assert isinstance(error["problem"], str) and error["problem"], error


FUZZ = hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@SCHEMAS["dashboard"].parametrize()
@FUZZ
def test_dashboard(case: Any, fuzz_clients: dict[str, ASGIClient]) -> None:
    check(fuzz_clients["dashboard"], case)


@SCHEMAS["analyser"].parametrize()
@FUZZ
def test_analyser(case: Any, fuzz_clients: dict[str, ASGIClient]) -> None:
    check(fuzz_clients["analyser"], case)


@SCHEMAS["profiles"].parametrize()
@FUZZ
def test_profiles(case: Any, fuzz_clients: dict[str, ASGIClient]) -> None:
    check(fuzz_clients["profiles"], case)


@SCHEMAS["lives"].parametrize()
@FUZZ
def test_lives(case: Any, fuzz_clients: dict[str, ASGIClient]) -> None:
    check(fuzz_clients["lives"], case)


@SCHEMAS["create"].parametrize()
@FUZZ
def test_create(case: Any, fuzz_clients: dict[str, ASGIClient]) -> None:
    check(fuzz_clients["create"], case)


@SCHEMAS["database"].parametrize()
@FUZZ
def test_database(case: Any, fuzz_clients: dict[str, ASGIClient]) -> None:
    check(fuzz_clients["database"], case)


@SCHEMAS["reports"].parametrize()
@FUZZ
def test_reports(case: Any, fuzz_clients: dict[str, ASGIClient]) -> None:
    check(fuzz_clients["reports"], case)
