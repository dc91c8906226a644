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


class BuiltinParameter(BaseModel):
    name: str
    type: Literal["session", "timestamp", "text", "integer"] = Field(
        description="session: a live_sessions.id; timestamp: ISO 8601 (UTC without an offset)"
    )
    description: str
    default: int | str | None = Field(None, description="used when the parameter is left out; none: required")
    minimum: int | None = None
    maximum: int | None = None


class BuiltinQueryInfo(BaseModel):
    name: str
    title: str
    description: str
    parameters: list[BuiltinParameter]
    sql: str = Field(description="the SQL, with {name} where each parameter's value goes as a typed literal")


class BuiltinRun(BaseModel):
    parameters: dict[str, int | str | None] = Field(
        default_factory=dict, description="the query's parameters by name (GET /builtin lists them)"
    )
    limit: int | None = Field(None, ge=1, le=100_000, description="row cap; the server's cap applies if lower")
    query_id: UUID | None = Field(None, description="an id you choose for this run, to cancel it")


class ExplainRequest(BaseModel):
    sql: Text = Field(min_length=1, max_length=20_000, description="one SELECT / WITH / VALUES query, without EXPLAIN")
    analyze: bool = Field(
        False, description="also run the query (read-only, same time limit) for actual rows and times"
    )


class PlanNode(BaseModel):
    node_type: str = Field(description="e.g. Seq Scan, Index Scan, Hash Join, Aggregate")
    relation: str | None = Field(None, description="the table or view read, with its alias when it has one")
    index: str | None = None
    detail: str | None = Field(None, description="join type, strategy, filter, index or join condition")
    rows_estimated: float | None = None
    rows_actual: float | None = Field(None, description="per loop, as PostgreSQL reports it (ANALYZE only)")
    loops: int | None = None
    startup_cost: float | None = None
    total_cost: float | None = None
    time_ms: float | None = Field(None, description="actual total time per loop in ms (ANALYZE only)")
    children: list[PlanNode] = Field(default_factory=list)


class ExplainResult(BaseModel):
    sql: str = Field(description="the EXPLAIN statement that ran")
    plan: PlanNode
    planning_ms: float | None = None
    execution_ms: float | None = None
    raw: Any = Field(description="PostgreSQL's EXPLAIN (FORMAT JSON) output, as it came")
