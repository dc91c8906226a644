"""SQL explorer routes."""

from __future__ import annotations

from typing import Any, NoReturn
from uuid import UUID

from fastapi import HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from prometheus_client import Counter
from psycopg_pool import AsyncConnectionPool

from scis.core.app import InvalidRequest, api_router, error_responses
from scis.core.cases import UNKNOWN_CASE_PROBLEM, CaseNotFound
from scis.core.deps import AppSettings, Audit, CurrentUser, Db
from scis.core.fields import BIGINT_MAX, RowId
from scis.database import builtin, explain, saved, service
from scis.database.models import (
    BuiltinQueryInfo,
    BuiltinRun,
    ExplainRequest,
    ExplainResult,
    HistoryEntry,
    QueryRequest,
    QueryResult,
    SavedQuery,
    SavedQueryCreate,
    TableInfo,
)
from scis.database.sanitiser import UnparsableQuery, UnsafeQuery

router = api_router("database")

QUERIES = Counter("scis_explorer_queries_total", "Explorer queries, by outcome.", ["outcome"])
ROWS = Counter("scis_explorer_rows_returned_total", "Rows the explorer returned.")
for _outcome in ("answered", "refused", "failed", "cancelled"):
    QUERIES.labels(_outcome)


@router.get(
    "/tables",
    response_model=list[TableInfo],
    tags=["explorer"],
    summary="The schema browser: the views you may query, their columns, types and comments",
)
async def tables(db: Db) -> list[TableInfo]:
    return await service.describe_tables(db)


def explorer_pool_of(request: Request) -> AsyncConnectionPool[Any] | None:
    return getattr(request.app.state, "explorer_pool", None)


def refuse(error: Exception) -> NoReturn:
    """The answer for a query that did not run: 422 with line and column for malformed SQL, else 400."""
    if isinstance(error, UnparsableQuery):
        QUERIES.labels("refused").inc()
        raise InvalidRequest("sql", {"line": error.line, "column": error.column}, str(error))
    if isinstance(error, service.QueryFailed) and error.syntax and error.position:
        QUERIES.labels("failed").inc()
        line, column = error.position
        raise InvalidRequest("sql", {"line": line, "column": column}, str(error))
    if isinstance(error, service.ExplorerDisabled):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error))
    QUERIES.labels(service.outcome_of(error)).inc()
    raise HTTPException(status.HTTP_400_BAD_REQUEST, f"sql: {error}")


@router.post(
    "/query",
    response_model=QueryResult,
    tags=["explorer"],
    summary="Run one read-only query",
    responses=error_responses(400, 503),
)
async def query(body: QueryRequest, db: Db, settings: AppSettings, context: Audit, request: Request) -> QueryResult:
    return await answer(db, request, settings, context, statement=body.sql, limit=body.limit, query_id=body.query_id)


async def answer(
    db: Db,
    request: Request,
    settings: AppSettings,
    context: Audit,
    *,
    statement: str,
    limit: int | None,
    query_id: UUID | None,
) -> QueryResult:
    """Run a statement as the analyst's own query would run (checks, read-only role, history, audit)."""
    cap = min(limit or settings.query_row_limit, settings.query_row_limit)
    try:
        result = await service.run_query(
            db, explorer_pool_of(request), statement=statement, limit=cap, timeout_ms=settings.query_timeout_ms,
            context=context, query_id=query_id,
        )  # fmt: skip
    except (UnsafeQuery, service.QueryFailed, service.QueryCancelled, service.UnanswerableValue) as error:
        refuse(error)
    except service.ExplorerDisabled as error:
        refuse(error)
    QUERIES.labels("answered").inc()
    ROWS.inc(result.row_count)
    return result


@router.get(
    "/builtin",
    response_model=list[BuiltinQueryInfo],
    tags=["explorer"],
    summary="Ready-made queries: top gifters of a live, who joined between two times, everything a user said",
)
async def list_builtin(_: CurrentUser) -> list[BuiltinQueryInfo]:
    return [query.info() for query in builtin.BUILTINS.values()]


@router.post(
    "/builtin/{name}",
    response_model=QueryResult,
    tags=["explorer"],
    summary="Run a ready-made query with its parameters (checked and run like your own queries)",
    responses=error_responses(400, 404, 503),
)
async def run_builtin(
    name: str, body: BuiltinRun, db: Db, settings: AppSettings, context: Audit, request: Request
) -> QueryResult:
    try:
        statement = builtin.render(builtin.find(name), body.parameters)
    except builtin.UnknownBuiltin as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    except builtin.BadParameter as error:
        raise InvalidRequest(f"parameters.{error.name}", error.value, str(error)) from None
    return await answer(db, request, settings, context, statement=statement, limit=body.limit, query_id=body.query_id)


@router.post(
    "/explain",
    response_model=ExplainResult,
    tags=["explorer"],
    summary="The query's plan as a tree (EXPLAIN FORMAT JSON, with ANALYZE when asked), through the same checks",
    responses=error_responses(400, 503),
)
async def explain_query(
    body: ExplainRequest, db: Db, settings: AppSettings, context: Audit, request: Request
) -> ExplainResult:
    try:
        statement = explain.explain_statement(
            body.sql, analyze=body.analyze, max_sleep_seconds=settings.query_timeout_ms / 1000
        )
    except UnsafeQuery as error:
        await service.record_history(db, username=context.actor.username, statement=body.sql, outcome="refused",
                                     error=str(error)[:2000])  # fmt: skip
        refuse(error)
    result = await answer(db, request, settings, context, statement=statement, limit=None, query_id=None)
    return explain.read_plan(statement, result.rows[0][0])


@router.post(
    "/query.csv",
    tags=["explorer"],
    summary="Run one read-only query and stream its rows as CSV (same row and size caps)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **error_responses(400, 503),
    },
)
async def query_csv(body: QueryRequest, settings: AppSettings, context: Audit, request: Request) -> StreamingResponse:
    limit = min(body.limit or settings.query_row_limit, settings.query_row_limit)
    pool = explorer_pool_of(request)
    if pool is None:
        refuse(service.ExplorerDisabled("the SQL explorer is not configured: set SCIS_EXPLORER_DATABASE_URL"))
    try:
        checked = service.check_statement(body.sql, timeout_ms=settings.query_timeout_ms)
    except UnsafeQuery as error:
        async with request.app.state.pool.connection() as conn:
            await service.record_history(conn, username=context.actor.username, statement=body.sql,
                                         outcome="refused", error=str(error)[:2000], output="csv")  # fmt: skip
        refuse(error)
    QUERIES.labels("answered").inc()
    rows = service.stream_csv(
        request.app.state.pool, pool, checked, statement=body.sql, limit=limit, timeout_ms=settings.query_timeout_ms,
        context=context, query_id=body.query_id,
    )  # fmt: skip
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": 'attachment; filename="scis-query.csv"',
            "x-scis-row-limit": str(limit),
            "x-scis-byte-limit": str(service.MAX_RESULT_BYTES),
        },
    )


@router.post(
    "/queries/{query_id}/cancel",
    status_code=204,
    tags=["explorer"],
    summary="Cancel your own running query (the query_id you sent with it)",
    responses=error_responses(404),
)
async def cancel(query_id: UUID, db: Db, user: CurrentUser, request: Request) -> None:
    try:
        await service.cancel_query(db, request.app.state.redis, query_id=query_id, user=user)
    except service.QueryNotRunning as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.get("/history", response_model=list[HistoryEntry], tags=["explorer"], summary="Your queries, newest first")
async def history(db: Db, user: CurrentUser, limit: int = Query(50, ge=1, le=500)) -> list[HistoryEntry]:
    return await saved.history(db, user=user, limit=limit)


@router.get(
    "/saved",
    response_model=list[SavedQuery],
    tags=["explorer"],
    summary="Your saved queries and those shared with your cases",
)
async def list_saved(
    db: Db, user: CurrentUser, case_id: int | None = Query(None, ge=1, le=BIGINT_MAX)
) -> list[SavedQuery]:
    return await saved.list_saved(db, user=user, case_id=case_id)


@router.post(
    "/saved",
    response_model=SavedQuery,
    status_code=201,
    tags=["explorer"],
    summary="Save a query, for yourself or for a case's members",
    responses=error_responses(409),
)
async def save(body: SavedQueryCreate, db: Db, user: CurrentUser, settings: AppSettings) -> SavedQuery:
    try:
        service.check_statement(body.sql, timeout_ms=settings.query_timeout_ms)
    except UnparsableQuery as error:
        raise InvalidRequest("sql", {"line": error.line, "column": error.column}, str(error)) from None
    except UnsafeQuery as error:
        raise InvalidRequest("sql", None, str(error)) from None
    try:
        return await saved.save(db, user=user, saved_in=body)
    except CaseNotFound:
        raise InvalidRequest("case_id", body.case_id, UNKNOWN_CASE_PROBLEM) from None
    except saved.SavedQueryExists as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


@router.delete(
    "/saved/{saved_id}",
    status_code=204,
    tags=["explorer"],
    summary="Delete one of your saved queries",
    responses=error_responses(404),
)
async def delete_saved(saved_id: RowId, db: Db, user: CurrentUser) -> None:
    if not await saved.delete(db, user=user, saved_id=saved_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no saved query of yours with id {saved_id}")
