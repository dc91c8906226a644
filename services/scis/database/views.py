"""SQL explorer routes."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status
from prometheus_client import Counter
from psycopg_pool import AsyncConnectionPool

from scis.core.app import api_router, error_responses
from scis.core.deps import AppSettings, Audit, Db
from scis.database import service
from scis.database.models import QueryRequest, QueryResult, TableInfo
from scis.database.sanitiser import UnsafeQuery

router = api_router("database")

QUERIES = Counter("scis_explorer_queries_total", "Explorer queries, by outcome.", ["outcome"])
ROWS = Counter("scis_explorer_rows_returned_total", "Rows the explorer returned.")
for _outcome in ("answered", "refused", "failed"):
    QUERIES.labels(_outcome)


@router.get("/tables", response_model=list[TableInfo], tags=["explorer"], summary="Tables and columns you may query")
async def tables(db: Db) -> list[TableInfo]:
    return await service.describe_tables(db)


@router.post(
    "/query",
    response_model=QueryResult,
    tags=["explorer"],
    summary="Run one read-only query",
    responses=error_responses(400, 503),
)
async def query(body: QueryRequest, db: Db, settings: AppSettings, context: Audit, request: Request) -> QueryResult:
    limit = min(body.limit or settings.query_row_limit, settings.query_row_limit)
    explorer_pool: AsyncConnectionPool[Any] | None = getattr(request.app.state, "explorer_pool", None)
    try:
        result = await service.run_query(
            db, explorer_pool, statement=body.sql, limit=limit, timeout_ms=settings.query_timeout_ms, context=context
        )
    except UnsafeQuery as error:
        QUERIES.labels("refused").inc()
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"sql: {error}") from None
    except (service.QueryFailed, service.UnanswerableValue) as error:
        QUERIES.labels("failed").inc()
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"sql: {error}") from None
    except service.ExplorerDisabled as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None
    QUERIES.labels("answered").inc()
    ROWS.inc(result.row_count)
    return result
