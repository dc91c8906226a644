"""Wizard routes: check a draft, then create it through the profiles service."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Body, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from scis.core import cases
from scis.core.app import InvalidRequest, ValidationProblem, api_router, error_responses, validation_failure
from scis.core.deps import Audit, CurrentUser, Db, Investigator, Redis, bearer_token
from scis.core.fields import RowId
from scis.create import service
from scis.create.models import (
    AccountsStep,
    CaseStep,
    ClassificationStep,
    DraftRead,
    IdentityStep,
    MergeRequest,
    WizardCheck,
)
from scis.profiles import service as profiles
from scis.profiles.models import ProfileRead
from scis.profiles.views import DUPLICATE_RESPONSE, IF_MATCH_DESCRIPTION, duplicate_conflict, expected_version, stale

router = api_router("create")


@router.post("/check", response_model=WizardCheck, tags=["wizard"], summary="Check a draft profile; writes nothing")
async def check(db: Db, user: CurrentUser, draft: dict[str, Any] = Body(...)) -> WizardCheck:
    return await service.check_draft(db, user=user, draft=draft)


@router.post(
    "/profiles",
    status_code=201,
    tags=["wizard"],
    summary="Check a draft and create the profile",
    responses={**error_responses(403, 502), **DUPLICATE_RESPONSE},
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


# --- The wizard step by step: a draft, one PUT per step, a review, a commit --------------------------


def not_found(error: Exception) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, str(error))


def already_committed(error: service.DraftCommitted) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, str(error))


@router.post(
    "/drafts",
    response_model=DraftRead,
    status_code=201,
    tags=["wizard"],
    summary="Start a draft profile (then PUT its steps, GET its review, POST commit)",
    responses=error_responses(403),
)
async def start_draft(db: Db, user: Investigator) -> DraftRead:
    draft_id = await service.new_draft(db, user=user)
    return await service.read_draft(db, user=user, draft_id=draft_id)


@router.get(
    "/drafts/{draft_id}",
    response_model=DraftRead,
    tags=["wizard"],
    summary="A draft with its steps so far and the review: identity resolved, duplicates, what is missing",
    responses=error_responses(404),
)
async def get_draft(draft_id: RowId, db: Db, user: CurrentUser) -> DraftRead:
    try:
        return await service.read_draft(db, user=user, draft_id=draft_id)
    except service.DraftNotFound as error:
        raise not_found(error) from None


async def _put_step(db: Db, user: Investigator, draft_id: int, step: str, body: BaseModel) -> DraftRead:
    try:
        await service.save_step(db, user=user, draft_id=draft_id, step=step, answer=body)
        return await service.read_draft(db, user=user, draft_id=draft_id)
    except service.DraftNotFound as error:
        raise not_found(error) from None
    except service.DraftCommitted as error:
        raise already_committed(error) from None


STEP_RESPONSES = error_responses(403, 404, 409)


@router.put("/drafts/{draft_id}/identity", response_model=DraftRead, tags=["wizard"], responses=STEP_RESPONSES,
            summary="Step 1, identity: a subject seen in captures, a TikTok user id or an @handle")  # fmt: skip
async def put_identity(draft_id: RowId, body: IdentityStep, db: Db, user: Investigator) -> DraftRead:
    return await _put_step(db, user, draft_id, "identity", body)


@router.put("/drafts/{draft_id}/accounts", response_model=DraftRead, tags=["wizard"], responses=STEP_RESPONSES,
            summary="Step 2, accounts: other TikTok accounts of this person, each with why")  # fmt: skip
async def put_accounts(draft_id: RowId, body: AccountsStep, db: Db, user: Investigator) -> DraftRead:
    return await _put_step(db, user, draft_id, "accounts", body)


@router.put("/drafts/{draft_id}/classification", response_model=DraftRead, tags=["wizard"],
            responses=STEP_RESPONSES, summary="Step 3, classification: name, risk, tags, aliases, a note")  # fmt: skip
async def put_classification(draft_id: RowId, body: ClassificationStep, db: Db, user: Investigator) -> DraftRead:
    return await _put_step(db, user, draft_id, "classification", body)


@router.put("/drafts/{draft_id}/case", response_model=DraftRead, tags=["wizard"], responses=STEP_RESPONSES,
            summary="Step 4, case: the case it belongs to (and why, if the case already has this person)")  # fmt: skip
async def put_case(draft_id: RowId, body: CaseStep, db: Db, user: Investigator) -> DraftRead:
    return await _put_step(db, user, draft_id, "case", body)


@router.post(
    "/drafts/{draft_id}/commit",
    response_model=ProfileRead,
    status_code=201,
    tags=["wizard"],
    summary="Create the profile and its linked accounts from the draft: all or nothing, audited",
    responses={**error_responses(403, 404), **DUPLICATE_RESPONSE},
)
async def commit_draft(
    draft_id: RowId, db: Db, cache: Redis, _: Investigator, context: Audit
) -> ProfileRead | JSONResponse:
    try:
        profile_id = await service.commit_draft(db, draft_id=draft_id, context=context)
    except service.DraftNotFound as error:
        raise not_found(error) from None
    except service.DraftCommitted as error:
        raise already_committed(error) from None
    except profiles.DuplicateProfile as error:
        return duplicate_conflict(error)
    except profiles.UnknownCase:
        raise InvalidRequest("case.case_id", None, cases.UNKNOWN_CASE_PROBLEM) from None
    return await profiles.announce_created(db, cache, profile_id=profile_id)


@router.post(
    "/drafts/{draft_id}/merge",
    response_model=ProfileRead,
    tags=["wizard"],
    summary="Merge the draft into an existing profile instead of creating one: all or nothing, audited",
    responses=error_responses(403, 404, 409, 412),
)
async def merge_draft(
    draft_id: RowId,
    body: MergeRequest,
    db: Db,
    cache: Redis,
    _: Investigator,
    context: Audit,
    response: Response,
    if_match: str | None = Header(None, max_length=200, description=IF_MATCH_DESCRIPTION),
) -> ProfileRead:
    version = expected_version(body.profile_id, if_match)
    try:
        profile_id = await service.merge_draft(
            db, draft_id=draft_id, profile_id=body.profile_id, context=context, expected_version=version
        )
    except service.DraftNotFound as error:
        raise not_found(error) from None
    except service.DraftCommitted as error:
        raise already_committed(error) from None
    except profiles.StaleVersion as error:
        raise stale(error) from None
    merged = await profiles.announce_updated(db, cache, profile_id=profile_id)
    response.headers["ETag"] = profiles.etag(merged.id, merged.version)
    return merged
