"""Profile routes."""

from __future__ import annotations

from fastapi import HTTPException, Query, Response, status

from scis.core import cases
from scis.core.app import InvalidRequest, api_router, error_responses
from scis.core.deps import Audit, CurrentUser, Db, Investigator, Redis
from scis.core.fields import BIGINT_MAX, RowId, Text
from scis.profiles import service
from scis.profiles.models import ProfileCreate, ProfilePage, ProfileRead, ProfileUpdate

router = api_router("profiles")


@router.get("/profiles", response_model=ProfilePage, tags=["profiles"], summary="Profiles, newest first")
async def list_profiles(
    db: Db,
    user: CurrentUser,
    case_id: int | None = Query(None, ge=1, le=BIGINT_MAX),
    q: Text | None = Query(None, max_length=100, description="part of a handle or name"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=BIGINT_MAX),
) -> ProfilePage:
    return await service.list_profiles(db, user=user, case_id=case_id, search=q, limit=limit, offset=offset)


@router.get(
    "/profiles/{profile_id}",
    response_model=ProfileRead,
    tags=["profiles"],
    summary="One profile",
    responses=error_responses(404),
)
async def get_profile(profile_id: RowId, db: Db, cache: Redis, user: CurrentUser) -> ProfileRead:
    profile = await service.get(db, cache, user=user, profile_id=profile_id)
    if profile is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no profile with id {profile_id}")
    return profile


@router.post(
    "/profiles",
    response_model=ProfileRead,
    status_code=201,
    tags=["profiles"],
    summary="Create a profile",
    responses=error_responses(403),
)
async def create_profile(body: ProfileCreate, db: Db, cache: Redis, _: Investigator, context: Audit) -> ProfileRead:
    try:
        return await service.create(db, cache, profile_in=body, context=context)
    except service.UnknownCase:
        raise InvalidRequest("case_id", body.case_id, cases.UNKNOWN_CASE_PROBLEM) from None


@router.patch(
    "/profiles/{profile_id}",
    response_model=ProfileRead,
    tags=["profiles"],
    summary="Change a profile",
    responses=error_responses(403, 404),
)
async def update_profile(
    profile_id: RowId, body: ProfileUpdate, db: Db, cache: Redis, _: Investigator, context: Audit
) -> ProfileRead:
    try:
        return await service.update(db, cache, profile_id=profile_id, profile_in=body, context=context)
    except service.ProfileNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.delete(
    "/profiles/{profile_id}",
    status_code=204,
    tags=["profiles"],
    summary="Delete a profile",
    responses=error_responses(403, 404),
)
async def delete_profile(profile_id: RowId, db: Db, cache: Redis, _: Investigator, context: Audit) -> Response:
    try:
        await service.delete(db, cache, profile_id=profile_id, context=context)
    except service.ProfileNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    return Response(status_code=204)
