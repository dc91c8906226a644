"""Wizard routes: check a draft, then create it through the profiles service."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Body, HTTPException, Request, status
from fastapi.responses import JSONResponse

from scis.core.app import ValidationProblem, api_router, error_responses, validation_failure
from scis.core.deps import CurrentUser, Db, Investigator, bearer_token
from scis.create import service
from scis.create.models import WizardCheck

router = api_router("create")


@router.post("/check", response_model=WizardCheck, tags=["wizard"], summary="Check a draft profile; writes nothing")
async def check(db: Db, user: CurrentUser, draft: dict[str, Any] = Body(...)) -> WizardCheck:
    return await service.check_draft(db, user=user, draft=draft)


@router.post(
    "/profiles",
    status_code=201,
    tags=["wizard"],
    summary="Check a draft and create the profile",
    responses=error_responses(403, 502),
)
async def create_profile(
    request: Request, db: Db, user: Investigator, draft: dict[str, Any] = Body(...)
) -> JSONResponse:
    checked = await service.check_draft(db, user=user, draft=draft)
    if not checked.valid or checked.normalised is None:
        # The same 422 as every other bad request; POST /check gives the whole wizard verdict.
        return validation_failure(
            [ValidationProblem(field=p.field, value=p.value, problem=p.problem) for p in checked.problems]
        )
    try:
        response = await request.app.state.peers.request(
            "profiles",
            "POST",
            "/api/profiles/profiles",
            token=bearer_token(request),
            json=checked.normalised.model_dump(mode="json"),
        )
    except httpx.HTTPError as error:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"profiles service unreachable: {error}") from None
    if response.status_code >= 500:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"profiles service answered {response.status_code}")
    return JSONResponse(response.json(), status_code=response.status_code)
