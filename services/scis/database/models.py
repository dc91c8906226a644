"""SQL explorer models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from scis.core.fields import Text


class QueryRequest(BaseModel):
    sql: Text = Field(min_length=1, max_length=20_000, description="one SELECT / WITH / VALUES / EXPLAIN statement")
    limit: int | None = Field(None, ge=1, le=100_000, description="row cap; the server's cap applies if lower")


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


class TableInfo(BaseModel):
    name: str
    columns: list[ColumnInfo]
    estimated_rows: int
