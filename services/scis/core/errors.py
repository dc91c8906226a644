"""The error answers every SCIS service gives: the 422 shape naming each bad field, and the others.

`{"detail": "invalid request: …", "errors": [{"field", "value", "problem"}]}` for every 422 (FastAPI's
own validation, and rules a handler checks itself by raising `InvalidRequest`); `{"detail": "…"}`
for the other errors, documented per route with `error_responses(...)`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException


class ValidationProblem(BaseModel):
    field: str = Field(description="the bad field: a body field's dotted path, or query.NAME / path.NAME / header.NAME")
    value: Any = Field(None, description="the value received")
    problem: str = Field(description="what is wrong with it and what is expected")


class ValidationFailure(BaseModel):
    """The body of every 422: each bad field named, the value received and what is expected."""

    detail: str = Field(description="'invalid request: ' followed by every problem on one line")
    errors: list[ValidationProblem]


class InvalidRequest(Exception):
    """A rule a handler checks itself (say, an unknown case): answered like a validation error."""

    def __init__(self, field: str, value: Any, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.problems = [ValidationProblem(field=field, value=value, problem=problem)]


def json_safe(value: Any) -> Any:
    """The value as plain JSON; what JSON cannot hold (NaN, infinities, bytes, objects) as readable text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        # A lone surrogate (JSON "\ud800") cannot be sent as UTF-8: echo it as its escape instead.
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if value is None or isinstance(value, int | float):
        return value
    return json_safe(str(value))


def validation_failure(problems: Sequence[ValidationProblem]) -> JSONResponse:
    summary = "; ".join(f"{p.field}: {p.problem}" for p in problems)
    body = ValidationFailure(detail=f"invalid request: {summary}", errors=list(problems))
    return JSONResponse(json_safe(body.model_dump()), status_code=422)


def describe_problem(item: Mapping[str, Any]) -> ValidationProblem:
    """One pydantic/FastAPI error as field, value, problem."""
    location = [str(part) for part in item.get("loc", ())]
    if item.get("type") == "json_invalid":
        # FastAPI locates a JSON syntax error as ("body", character position): name the body instead.
        reason = (item.get("ctx") or {}).get("error") or item.get("msg")
        position = location[-1] if len(location) > 1 else "?"
        return ValidationProblem(
            field="body", value=None, problem=f"the body is not valid JSON ({reason} at character {position})"
        )
    if location[:1] == ["body"]:
        location = location[1:]
    return ValidationProblem(
        field=".".join(location) or "body", value=json_safe(item.get("input")), problem=str(item.get("msg"))
    )


async def explain_validation_error(request: Request, error: Exception) -> JSONResponse:
    """422 with each bad field named, the value received and what is expected."""
    assert isinstance(error, RequestValidationError)
    return validation_failure([describe_problem(item) for item in error.errors()])


async def explain_invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidRequest)
    return validation_failure(error.problems)


async def explain_http_error(request: Request, error: Exception) -> Response:
    """FastAPI's answers, except a body that is not UTF-8: that is a bad request body like any other."""
    assert isinstance(error, StarletteHTTPException)
    cause = error.__cause__
    if error.status_code == 400 and isinstance(cause, UnicodeDecodeError):
        problem = f"the body is not UTF-8 text ({cause.reason} at byte {cause.start}); send JSON encoded as UTF-8"
        return validation_failure([ValidationProblem(field="body", value=None, problem=problem)])
    return await http_exception_handler(request, error)


class ErrorDetail(BaseModel):
    """The body of every error other than 422: one sentence saying what went wrong and what to do."""

    detail: str


ERROR_DESCRIPTIONS = {
    400: "Refused: `detail` says why and what to change",
    401: "Not signed in, or the token was refused: sign in again",
    403: "Your role may not do this",
    404: "Not found",
    409: "Conflicts with what already exists",
    502: "A service this one relies on failed",
    503: "Not ready: a dependency does not answer",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route may answer, all shaped as ErrorDetail."""
    return {code: {"model": ErrorDetail, "description": ERROR_DESCRIPTIONS[code]} for code in codes}


def document_validation_failures(app: FastAPI) -> None:
    """Make the OpenAPI document describe the 422 body the service really sends (not FastAPI's default)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in components:
            components["ValidationError"] = ValidationProblem.model_json_schema()
            failure = ValidationFailure.model_json_schema(ref_template="#/components/schemas/{model}")
            failure.pop("$defs", None)
            failure["required"] = ["detail", "errors"]
            failure["properties"]["errors"]["items"] = {"$ref": "#/components/schemas/ValidationError"}
            components["HTTPValidationError"] = failure
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    """Answer validation failures, InvalidRequest and HTTP errors in the shapes above, and document them."""
    app.add_exception_handler(RequestValidationError, explain_validation_error)
    app.add_exception_handler(InvalidRequest, explain_invalid_request)
    app.add_exception_handler(StarletteHTTPException, explain_http_error)
    document_validation_failures(app)
