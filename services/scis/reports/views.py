"""Report routes."""

from __future__ import annotations

from fastapi import HTTPException, Query, Response, status

from scis.core.app import api_router, error_responses
from scis.core.deps import Audit, CurrentUser, Db, Investigator
from scis.core.fields import BIGINT_MAX, RowId
from scis.reports import service
from scis.reports.models import ReportCreate, ReportRead

router = api_router("reports")


@router.get("/reports", response_model=list[ReportRead], tags=["reports"], summary="Reports produced")
async def list_reports(
    db: Db, user: CurrentUser, case_id: int | None = Query(None, ge=1, le=BIGINT_MAX)
) -> list[ReportRead]:
    return await service.list_reports(db, user=user, case_id=case_id)


@router.post(
    "/reports",
    response_model=ReportRead,
    status_code=201,
    tags=["reports"],
    summary="Produce a case report",
    responses=error_responses(403, 404),
)
async def create_report(body: ReportCreate, db: Db, _: Investigator, context: Audit) -> ReportRead:
    try:
        return await service.create(db, report_in=body, context=context)
    except service.CaseNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"case_id: {error}") from None


@router.get(
    "/reports/{report_id}/pdf",
    tags=["reports"],
    summary="Download a report's PDF",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(404),
    },
)
async def download_pdf(report_id: RowId, db: Db, user: CurrentUser) -> Response:
    found = await service.get_pdf(db, user=user, report_id=report_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no report with id {report_id}")
    _, pdf = found
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="scis-report-{report_id}.pdf"'},
    )
