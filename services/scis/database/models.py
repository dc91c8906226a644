"""SQL explorer models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from scis.core.fields import BIGINT_MAX, Text

SQL_FIELD = Field(min_length=1, max_length=20_000, description="one SELECT / WITH / VALUES / EXPLAIN statement")


class QueryRequest(BaseModel):
    sql: Text = SQL_FIELD
    limit: int | None = Field(None, ge=1, le=100_000, description="row cap; the server's cap applies if lower")
    query_id: UUID | None = Field(
        None, description="an id you choose for this run, to cancel it with POST /queries/{query_id}/cancel"
    )


class QueryResult(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float


class ColumnInfo(BaseModel):
    name: str
    type: str
    nullable: bool
    comment: str | None = Field(None, description="what the column holds")


class TableInfo(BaseModel):
    name: str
    columns: list[ColumnInfo]
    estimated_rows: int
    comment: str | None = Field(None, description="what the view holds")


class HistoryEntry(BaseModel):
    id: UUID
    sql: str
    outcome: Literal["answered", "refused", "failed", "cancelled"]
    row_count: int | None
    truncated: bool
    elapsed_ms: float | None
    error: str | None
    format: Literal["json", "csv"]
    ran_at: datetime


class SavedQueryCreate(BaseModel):
    name: Text = Field(min_length=1, max_length=200, description="unique among your saved queries")
    sql: Text = SQL_FIELD
    description: Text | None = Field(None, max_length=2000)
    case_id: int | None = Field(
        None, ge=1, le=BIGINT_MAX, description="share it with this case's members; unset: only you see it"
    )


class SavedQuery(BaseModel):
    id: int
    owner: str
    case_id: int | None
    name: str
    description: str | None
    sql: str
    created_at: datetime
