"""Report models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from scis.core.fields import BIGINT_MAX, Text


class ReportCreate(BaseModel):
    case_id: int = Field(ge=1, le=BIGINT_MAX, description="the case to report on")
    title: Text | None = Field(None, max_length=200, description="defaults to the case title")
    language: Literal["en", "fr"] = Field("en", description="language of the report's wording: en or fr")


class ReportRead(BaseModel):
    id: int
    case_id: int | None
    title: str
    template: str
    sha256: str
    created_by: str
    created_at: datetime


JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED_STATUSES = ("done", "failed", "cancelled")


class ReportJobCreate(ReportCreate):
    kind: Literal["case", "subject"] = Field("case", description="case: the whole case; subject: one person in it")
    subject_id: int | None = Field(
        None, ge=1, le=BIGINT_MAX, description="the subject (person) a subject report is about; only with kind=subject"
    )


class ReportJobRead(BaseModel):
    id: int
    kind: Literal["case", "subject", "export"] = Field(description="export: the case's evidence archive")
    case_id: int
    subject_id: int | None
    title: str | None
    language: str
    status: JobStatus
    progress: int = Field(description="0-100")
    stage: str = Field(description="what the job is doing now, or did last")
    reason: str | None = Field(description="why the job failed or was cancelled")
    attempts: int
    report_id: int | None = Field(description="the finished report (download it from /reports/jobs/{id}/pdf)")
    sha256: str | None = None
    export_id: int | None = Field(None, description="the finished evidence archive (kind export)")
    manifest_sha256: str | None = Field(None, description="SHA-256 of the finished archive's manifest.json")
    requested_by: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CaseExportRead(BaseModel):
    """A case's evidence archive as stored: check it with `scis verify ARCHIVE --manifest-sha256 HASH`."""

    id: int
    case_id: int
    manifest_sha256: str = Field(description="SHA-256 of the archive's manifest.json: write it into a report or seal")
    archive_sha256: str = Field(description="SHA-256 of the whole .tar as downloaded")
    size: int = Field(description="bytes")
    sessions: int
    records: int
    created_by: str
    created_at: datetime
