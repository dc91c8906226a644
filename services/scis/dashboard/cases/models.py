"""Case models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from scis.core.fields import Text


class CaseStatus(StrEnum):
    open = "open"
    closed = "closed"


# Days after its capture day that a case's evidence stays in the events table (decision 913).
RetentionDays = Annotated[
    int | None,
    Field(
        ge=1,
        le=36_500,
        description="days the case's events stay in the database after the day they were captured, "
        "then may be archived and detached; null keeps them for good",
    ),
]


class CaseBase(BaseModel):
    title: Text = Field(min_length=3, max_length=200, description="what the case is about")
    description: Text = Field("", max_length=10_000)
    retention_days: RetentionDays = None


class CaseCreate(CaseBase):
    reference: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{1,63}$",
        description="your unit's case reference, e.g. 2026-CYB-0142",
    )


class CaseUpdate(BaseModel):
    title: Text | None = Field(None, min_length=3, max_length=200)
    description: Text | None = Field(None, max_length=10_000)
    status: CaseStatus | None = None
    retention_days: RetentionDays = None  # sent as null: keep for good; left out: unchanged


class CaseRead(CaseBase):
    id: int
    reference: str
    status: CaseStatus
    created_by: str
    created_at: datetime


class CaseMember(BaseModel):
    """One account's membership of a case: it may see the case and, by its role, work in it."""

    case_id: int
    username: str
    added_by: str
    added_at: datetime
