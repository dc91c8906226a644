"""Every bad input gets a clear 422 (which field, which value, what to do) and never a 500.

Each case here is an input the API fuzz test (tests/fuzz/test_api_schemas.py) or a probe of the
explorer found answered with a 500 or a vague error.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scis.core.fields import BIGINT_MAX
from tests.services.conftest import auth

TOO_BIG = str(BIGINT_MAX + 1)


def assert_explains(response: httpx.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"].startswith("invalid request: ") and field in body["detail"], body
    (problem,) = [error for error in body["errors"] if error["field"] == field]
    assert set(problem) == {"field", "value", "problem"} and problem["problem"], problem
    return problem  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("service", "path", "field"),
    [
        ("profiles", f"/api/profiles/profiles?case_id={TOO_BIG}", "query.case_id"),
        ("profiles", f"/api/profiles/profiles?offset={TOO_BIG}", "query.offset"),
        ("profiles", f"/api/profiles/profiles/{TOO_BIG}", "path.profile_id"),
        ("dashboard", f"/api/dashboard/audit?before_id={TOO_BIG}", "query.before_id"),
        ("dashboard", f"/api/dashboard/cases/{TOO_BIG}", "path.case_id"),
        ("analyser", f"/api/analyser/sessions?case_id={TOO_BIG}", "query.case_id"),
        ("lives", f"/api/lives/lives?case_id={TOO_BIG}", "query.case_id"),
        ("reports", f"/api/reports/reports?case_id={TOO_BIG}", "query.case_id"),
        ("reports", f"/api/reports/reports/{TOO_BIG}/pdf", "path.report_id"),
    ],
)
async def test_numbers_past_bigint_are_refused_not_500(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], service: str, path: str, field: str
) -> None:
    problem = assert_explains(await clients[service].get(path, headers=auth(tokens["admin"])), field)
    assert problem["value"] == TOO_BIG and "9223372036854775807" in problem["problem"]


@pytest.mark.parametrize(
    ("service", "path", "body", "field"),
    [
        ("dashboard", "/api/auth/login", {"username": "a\x00b", "password": "x"}, "username"),
        ("dashboard", "/api/dashboard/cases", {"reference": "T-NUL-1", "title": "nul \x00 here"}, "title"),
        ("profiles", "/api/profiles/profiles", {"unique_id": "nul.user", "display_name": "a\x00"}, "display_name"),
        ("profiles", "/api/profiles/profiles", {"unique_id": "nul.user", "tags": ["ok", "b\x00d"]}, "tags.1"),
        ("reports", "/api/reports/reports", {"case_id": 1, "title": "\x00"}, "title"),
        ("database", "/api/database/query", {"sql": "SELECT 'a\x00b'"}, "sql"),
        ("profiles", "/api/profiles/profiles", {"unique_id": "big.user", "tiktok_user_id": 2**64}, "tiktok_user_id"),
    ],
)
async def test_text_postgresql_cannot_store_is_refused_by_field(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], service: str, path: str, body: dict, field: str
) -> None:
    assert_explains(await clients[service].post(path, json=body, headers=auth(tokens["admin"])), field)


async def test_nul_in_a_query_parameter_is_refused(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    response = await clients["dashboard"].get("/api/dashboard/audit?actor=a%00b", headers=auth(tokens["admin"]))
    assert_explains(response, "query.actor")


@pytest.mark.parametrize(
    ("content", "problem_part"),
    [
        (b"\x00", "not valid JSON"),
        (b'{"sql": ', "not valid JSON"),
        (b'{"sql": "SELECT 1", "limit": \xff}', "not UTF-8"),
    ],
)
async def test_an_unreadable_body_names_the_body(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], content: bytes, problem_part: str
) -> None:
    response = await clients["database"].post(
        "/api/database/query",
        content=content,
        headers={**auth(tokens["admin"]), "content-type": "application/json"},
    )
    assert problem_part in assert_explains(response, "body")["problem"]


async def test_a_missing_body_names_the_body(clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]) -> None:
    response = await clients["database"].post("/api/database/query", headers=auth(tokens["admin"]))
    assert_explains(response, "body")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_non_finite_numbers_are_echoed_as_text_not_500(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], literal: str
) -> None:
    response = await clients["database"].post(
        "/api/database/query",
        content=f'{{"sql": "SELECT 1", "limit": {literal}}}'.encode(),
        headers={**auth(tokens["admin"]), "content-type": "application/json"},
    )
    assert assert_explains(response, "limit")["value"] in ("nan", "inf", "-inf")


async def test_rules_checked_by_handlers_answer_in_the_same_shape(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    headers = auth(tokens["investigator"])
    unknown_case = {"unique_id": "@no.such.case", "case_id": 987654321}
    problem = assert_explains(
        await clients["profiles"].post("/api/profiles/profiles", json=unknown_case, headers=headers), "case_id"
    )
    assert problem["value"] == 987654321
    wizard = await clients["create"].post("/api/create/profiles", json=unknown_case, headers=headers)
    assert assert_explains(wizard, "case_id")["value"] == 987654321
    bad_handle = await clients["create"].post("/api/create/profiles", json={"unique_id": "no spaces!"}, headers=headers)
    assert_explains(bad_handle, "unique_id")


def test_the_openapi_documents_the_422_we_send(apps) -> None:  # type: ignore[no-untyped-def]
    schemas = apps["profiles"].openapi()["components"]["schemas"]
    assert schemas["HTTPValidationError"]["required"] == ["detail", "errors"]
    assert set(schemas["ValidationError"]["properties"]) == {"field", "value", "problem"}


@pytest.mark.parametrize(
    ("sql", "row"),
    [
        ("SELECT 'NaN'::float8, 'Infinity'::float8, '-Infinity'::float8", ["NaN", "Infinity", "-Infinity"]),
        ("SELECT ARRAY['NaN'::float8]", [["NaN"]]),
        ("SELECT int4range(1, 5), int4multirange(int4range(1, 2))", ["[1, 5)", "{[1, 2)}"]),
        ("SELECT ARRAY['\\xff'::bytea]", [["ff"]]),
        ("SELECT 'infinity'::timestamptz, '-infinity'::date", ["infinity", "-infinity"]),
        (
            "SELECT 'NaN'::numeric, '00000000-0000-0000-0000-000000000000'::uuid",
            ["NaN", "00000000-0000-0000-0000-000000000000"],
        ),
    ],
)
async def test_explorer_answers_every_value_without_losing_it(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], sql: str, row: list[Any]
) -> None:
    response = await clients["database"].post("/api/database/query", json={"sql": sql}, headers=auth(tokens["viewer"]))
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [row]
