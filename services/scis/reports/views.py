"""Report routes."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from scis.core.app import InvalidRequest, api_router, error_responses
from scis.core.cases import UNKNOWN_CASE_PROBLEM
from scis.core.deps import Audit, CurrentUser, Db, Investigator
from scis.core.fields import BIGINT_MAX, RowId
from scis.reports import exports, jobs, service
from scis.reports.models import CaseExportRead, ReportCreate, ReportJobCreate, ReportJobRead, ReportRead

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
async def download_pdf(report_id: RowId, db: Db, context: Audit) -> Response:
    pdf = await service.download(db, context=context, report_id=report_id)
    if pdf is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no report with id {report_id}")
    return pdf_response(pdf, report_id)


def pdf_response(pdf: bytes, report_id: int) -> Response:
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="scis-report-{report_id}.pdf"'},
    )


PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
}


def wake_worker(request: Request) -> None:
    worker: jobs.Worker | None = getattr(request.app.state, "report_worker", None)
    if worker is not None:
        worker.wake.set()


@router.post(
    "/reports/jobs",
    response_model=ReportJobRead,
    status_code=202,
    tags=["reports"],
    summary="Ask for a case or subject report; follow its progress at /reports/jobs/{job_id}",
    responses=error_responses(403),
)
async def request_report(
    body: ReportJobCreate, db: Db, _: Investigator, context: Audit, request: Request
) -> ReportJobRead:
    if body.kind == "subject" and body.subject_id is None:
        raise InvalidRequest("subject_id", None, "a subject report needs the subject's id (kind=subject)")
    if body.kind == "case" and body.subject_id is not None:
        raise InvalidRequest("subject_id", body.subject_id, "only a subject report (kind=subject) takes a subject_id")
    try:
        job = await jobs.enqueue(db, job_in=body, context=context)
    except service.CaseNotFound:
        raise InvalidRequest("case_id", body.case_id, UNKNOWN_CASE_PROBLEM) from None
    wake_worker(request)
    return job


@router.get("/reports/jobs", response_model=list[ReportJobRead], tags=["reports"], summary="Report jobs, newest first")
async def list_jobs(
    db: Db,
    user: CurrentUser,
    case_id: int | None = Query(None, ge=1, le=BIGINT_MAX),
    limit: int = Query(100, ge=1, le=1000),
) -> list[ReportJobRead]:
    return await jobs.list_jobs(db, user=user, case_id=case_id, limit=limit)


async def job_or_404(db: Db, user: CurrentUser, job_id: int) -> ReportJobRead:
    job = await jobs.get(db, user=user, job_id=job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no report job with id {job_id}")
    return job


@router.get(
    "/reports/jobs/{job_id}",
    response_model=ReportJobRead,
    tags=["reports"],
    summary="A report job: status, progress 0-100, stage, reason",
    responses=error_responses(404),
)
async def get_job(job_id: RowId, db: Db, user: CurrentUser) -> ReportJobRead:
    return await job_or_404(db, user, job_id)


@router.post(
    "/reports/jobs/{job_id}/cancel",
    response_model=ReportJobRead,
    tags=["reports"],
    summary="Cancel a queued or running report job",
    responses=error_responses(403, 404, 409),
)
async def cancel_job(job_id: RowId, db: Db, _: Investigator, context: Audit) -> ReportJobRead:
    try:
        return await jobs.cancel(db, job_id=job_id, context=context)
    except jobs.JobNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    except jobs.JobFinished as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


@router.get(
    "/reports/jobs/{job_id}/pdf",
    tags=["reports"],
    summary="Download a finished job's PDF (audited)",
    response_class=Response,
    responses={**PDF_RESPONSE, **error_responses(404, 409)},
)
async def download_job_pdf(job_id: RowId, db: Db, context: Audit) -> Response:
    job = await job_or_404(db, context.actor, job_id)
    if job.report_id is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"report job {job_id} is {job.status}, not done: no PDF yet")
    pdf = await service.download(db, context=context, report_id=job.report_id, job_id=job_id)
    if pdf is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no report job with id {job_id}")
    return pdf_response(pdf, job.report_id)


@router.post(
    "/cases/{case_id}/exports",
    response_model=ReportJobRead,
    status_code=202,
    tags=["exports"],
    summary="Export the case's evidence archive (as `scis export`); follow the job at /reports/jobs/{job_id}",
    responses=error_responses(403, 404),
)
async def request_export(case_id: RowId, db: Db, _: Investigator, context: Audit, request: Request) -> ReportJobRead:
    try:
        job = await jobs.enqueue_export(db, case_id=case_id, context=context)
    except service.CaseNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"case_id: {error}") from None
    wake_worker(request)
    return job


@router.get(
    "/cases/{case_id}/exports",
    response_model=list[CaseExportRead],
    tags=["exports"],
    summary="The case's evidence archives, newest first, with their manifest and archive SHA-256",
    responses=error_responses(404),
)
async def list_exports(case_id: RowId, db: Db, user: CurrentUser) -> list[CaseExportRead]:
    try:
        return await exports.list_exports(db, user=user, case_id=case_id)
    except service.CaseNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"case_id: {error}") from None


@router.get(
    "/cases/{case_id}/exports/{export_id}/archive",
    tags=["exports"],
    summary="Download an evidence archive (.tar, audited); check it with `scis verify`",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(404),
    },
)
async def download_export(
    case_id: RowId, export_id: RowId, db: Db, context: Audit, request: Request
) -> StreamingResponse:
    try:
        export = await exports.get_export(db, user=context.actor, case_id=case_id, export_id=export_id)
    except service.CaseNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"case_id: {error}") from None
    if export is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"export_id: case {case_id} has no export {export_id}")
    await exports.audit_download(db, context=context, export=export)
    return StreamingResponse(
        exports.archive_chunks(request.app.state.pool, export.id),
        media_type="application/x-tar",
        headers={
            "content-disposition": f'attachment; filename="scis-case-{case_id}-export-{export.id}.tar"',
            "content-length": str(export.size),
            "x-scis-manifest-sha256": export.manifest_sha256,
            "x-scis-archive-sha256": export.archive_sha256,
        },
    )
