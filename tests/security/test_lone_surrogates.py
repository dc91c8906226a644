"""A JSON body may spell half a UTF-16 surrogate pair ("\\ud800"), which is no Unicode text at all.

Python's JSON parser accepts it and pydantic refuses it, but the 422 that echoes the value back used
to fail to encode and turned into a 500. Every service answers with the usual 422 naming the field.
"""

from __future__ import annotations

import httpx
import pytest

from tests.services.conftest import auth

LONE = '"\\ud800"'


def body_with(field: str, rest: str = "") -> bytes:
    return ("{" + f'"{field}": {LONE}' + rest + "}").encode()


@pytest.mark.parametrize(
    ("service", "path", "body", "token_role"),
    [
        ("dashboard", "/api/auth/login", body_with("username", ', "password": "x-long-enough-1"'), None),
        ("dashboard", "/api/auth/login", body_with("password", ', "username": "t-viewer"'), None),
        ("dashboard", "/api/dashboard/cases", body_with("title", ', "reference": "SUR-1"'), "investigator"),
        ("database", "/api/database/query", body_with("sql"), "viewer"),
    ],
)
async def test_a_lone_surrogate_in_a_body_is_a_422(
    clients: dict[str, httpx.AsyncClient],
    tokens: dict[str, str],
    service: str,
    path: str,
    body: bytes,
    token_role: str | None,
) -> None:
    headers = {"content-type": "application/json", **(auth(tokens[token_role]) if token_role else {})}
    response = await clients[service].post(path, content=body, headers=headers)
    assert response.status_code == 422, response.text
    field = body.decode().split('"')[1]
    problem = next(error for error in response.json()["errors"] if error["field"] == field)
    assert problem["value"] == "\\ud800" and "unicode" in problem["problem"]
