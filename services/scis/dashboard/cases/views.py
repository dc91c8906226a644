"""Case routes. A case the caller is not a member of answers 404, like one that does not exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Path, Response, status

from scis.core.app import InvalidRequest, api_router, error_responses
from scis.core.auth.models import USERNAME_PATTERN
from scis.core.deps import Admin, Audit, CurrentUser, Db, Investigator
from scis.core.fields import RowId
from scis.dashboard.cases import service
from scis.dashboard.cases.models import CaseCreate, CaseMember, CaseRead, CaseStatus, CaseUpdate

router = api_router("dashboard")

Username = Annotated[str, Path(pattern=USERNAME_PATTERN, description="an account's username")]


def not_found(error: service.CaseNotFound) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, str(error))


@router.get("/cases", response_model=list[CaseRead], tags=["cases"], summary="Cases you are a member of, newest first")
async def list_cases(db: Db, user: CurrentUser, status_filter: CaseStatus | None = None) -> list[CaseRead]:
    return await service.list_cases(db, user=user, status=status_filter.value if status_filter else None)


@router.get(
    "/cases/{case_id}", response_model=CaseRead, tags=["cases"], summary="One case", responses=error_responses(404)
)
async def get_case(case_id: RowId, db: Db, user: CurrentUser) -> CaseRead:
    try:
        return await service.get(db, user=user, case_id=case_id)
    except service.CaseNotFound as error:
        raise not_found(error) from None


@router.post(
    "/cases",
    response_model=CaseRead,
    status_code=201,
    tags=["cases"],
    summary="Open a case (you become its first member)",
    responses=error_responses(403, 409),
)
async def create_case(body: CaseCreate, db: Db, _: Investigator, context: Audit) -> CaseRead:
    try:
        return await service.create(db, case_in=body, context=context)
    except service.CaseReferenceTaken as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


@router.patch(
    "/cases/{case_id}",
    response_model=CaseRead,
    tags=["cases"],
    summary="Change or close a case",
    responses=error_responses(403, 404),
)
async def update_case(case_id: RowId, body: CaseUpdate, db: Db, _: Investigator, context: Audit) -> CaseRead:
    try:
        return await service.update(db, case_id=case_id, case_in=body, context=context)
    except service.CaseNotFound as error:
        raise not_found(error) from None


@router.get(
    "/cases/{case_id}/members",
    response_model=list[CaseMember],
    tags=["cases"],
    summary="Members of a case",
    responses=error_responses(404),
)
async def list_members(case_id: RowId, db: Db, user: CurrentUser) -> list[CaseMember]:
    try:
        return await service.list_members(db, user=user, case_id=case_id)
    except service.CaseNotFound as error:
        raise not_found(error) from None


@router.put(
    "/cases/{case_id}/members/{username}",
    response_model=CaseMember,
    tags=["cases"],
    summary="Make an account a member of a case (admin)",
    responses=error_responses(403, 404),
)
async def add_member(case_id: RowId, username: Username, db: Db, _: Admin, context: Audit) -> CaseMember:
    try:
        return await service.add_member(db, case_id=case_id, username=username, context=context)
    except service.CaseNotFound as error:
        raise not_found(error) from None
    except service.UnknownAccount as error:
        raise InvalidRequest("path.username", username, str(error)) from None


@router.delete(
    "/cases/{case_id}/members/{username}",
    status_code=204,
    tags=["cases"],
    summary="Take an account off a case (admin)",
    responses=error_responses(403, 404),
)
async def remove_member(case_id: RowId, username: Username, db: Db, _: Admin, context: Audit) -> Response:
    try:
        await service.remove_member(db, case_id=case_id, username=username, context=context)
    except (service.CaseNotFound, service.NotAMember) as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    return Response(status_code=204)
