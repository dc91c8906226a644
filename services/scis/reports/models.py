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
