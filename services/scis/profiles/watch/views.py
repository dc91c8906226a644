"""Watchlist and alert routes, per case (members only; anyone else is told the case does not exist)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from fastapi import HTTPException, Query, Response, status

from scis.core import cases
from scis.core.app import api_router, error_responses
from scis.core.deps import Audit, CurrentUser, Db, Investigator, Redis
from scis.core.fields import BIGINT_MAX, RowId
from scis.profiles.watch import service
from scis.profiles.watch.models import AlertPage, AlertRead, WatchAdded, WatchCreate, WatchRead

router = api_router("profiles")
T = TypeVar("T")


async def in_case(call: Awaitable[T]) -> T:
    """The call's answer; 404 for a case the caller may not see, or a watch/alert not in the case."""
    try:
        return await call
    except (cases.CaseNotFound, service.WatchNotFound) as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.get("/cases/{case_id}/watchlist", response_model=list[WatchRead], tags=["watchlists"],
            summary="What the case watches: user ids, @handles, keywords, expressions",
            responses=error_responses(404))  # fmt: skip
async def list_watchlist(case_id: RowId, db: Db, user: CurrentUser) -> list[WatchRead]:
    return await in_case(service.list_watches(db, user=user, case_id=case_id))


@router.post("/cases/{case_id}/watchlist", response_model=WatchAdded, status_code=201, tags=["watchlists"],
             summary="Watch a person or words in every live of the case, optionally in what it already holds "
                     "(audited)",
             responses=error_responses(403, 404))  # fmt: skip
async def add_watch(
    case_id: RowId, body: WatchCreate, db: Db, cache: Redis, _: Investigator, context: Audit
) -> WatchAdded:
    added, past_alerts = await in_case(service.add_watch(db, case_id=case_id, watch_in=body, context=context))
    await service.announce(db, cache, past_alerts)
    return added


@router.delete("/cases/{case_id}/watchlist/{watch_id}", status_code=204, tags=["watchlists"],
               summary="Stop watching (kept, with who and when; its alerts stay)",
               responses=error_responses(403, 404))  # fmt: skip
async def remove_watch(case_id: RowId, watch_id: RowId, db: Db, _: Investigator, context: Audit) -> Response:
    await in_case(service.remove_watch(db, case_id=case_id, watch_id=watch_id, context=context))
    return Response(status_code=204)


@router.get("/cases/{case_id}/alerts", response_model=AlertPage, tags=["watchlists"],
            summary="The case's alerts, newest first, each pointing to its record (session, seq, chain hash)",
            responses=error_responses(404))  # fmt: skip
async def list_alerts(
    case_id: RowId,
    db: Db,
    user: CurrentUser,
    open_only: bool = Query(False, description="only alerts nobody acknowledged yet"),
    before_id: int = Query(0, ge=0, le=BIGINT_MAX, description="the last alert id of the previous page (0: first)"),
    limit: int = Query(100, ge=1, le=500),
) -> AlertPage:
    return await in_case(
        service.list_alerts(db, user=user, case_id=case_id, open_only=open_only, before_id=before_id, limit=limit)
    )


@router.post("/cases/{case_id}/alerts/{alert_id}/acknowledge", response_model=AlertRead, tags=["watchlists"],
             summary="Acknowledge an alert (once; audited)", responses=error_responses(403, 404))  # fmt: skip
async def acknowledge_alert(case_id: RowId, alert_id: RowId, db: Db, _: Investigator, context: Audit) -> AlertRead:
    return await in_case(service.acknowledge(db, case_id=case_id, alert_id=alert_id, context=context))
