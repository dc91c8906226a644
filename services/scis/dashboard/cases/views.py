"""Case routes."""

from __future__ import annotations

from fastapi import HTTPException, status

from scis.core.app import api_router, error_responses
from scis.core.deps import Audit, Db, Investigator
from scis.core.fields import RowId
from scis.dashboard.cases import service
from scis.dashboard.cases.models import CaseCreate, CaseRead, CaseStatus, CaseUpdate

router = api_router("dashboard")


@router.get("/cases", response_model=list[CaseRead], tags=["cases"], summary="All cases, newest first")
async def list_cases(db: Db, status_filter: CaseStatus | None = None) -> list[CaseRead]:
    return await service.list_cases(db, status=status_filter.value if status_filter else None)


@router.get(
    "/cases/{case_id}", response_model=CaseRead, tags=["cases"], summary="One case", responses=error_responses(404)
)
async def get_case(case_id: RowId, db: Db) -> CaseRead:
    case = await service.get(db, case_id=case_id)
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case with id {case_id}")
    return case


@router.post(
    "/cases",
    response_model=CaseRead,
    status_code=201,
    tags=["cases"],
    summary="Open a case",
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
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
