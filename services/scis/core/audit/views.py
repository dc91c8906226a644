"""Reading the audit log. There is deliberately no route that changes or deletes it."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Query

from scis.core.audit import service
from scis.core.audit.chain import verify_audit_chain
from scis.core.audit.models import AuditChainFailureRead, AuditChainRead, AuditPage
from scis.core.deps import Admin, Db, current_user
from scis.core.errors import error_responses
from scis.core.fields import BIGINT_MAX, Text

router = APIRouter(
    prefix="/api/dashboard/audit",
    tags=["audit"],
    dependencies=[Depends(current_user)],
    responses=error_responses(401, 403),
)


@router.get("", response_model=AuditPage, summary="Audit entries, newest first (admin)")
async def list_audit(
    db: Db,
    _: Admin,
    actor: Text | None = None,
    before_id: int | None = Query(None, ge=1, le=BIGINT_MAX),
    limit: int = Query(100, ge=1, le=1000),
) -> AuditPage:
    return await service.list_entries(db, actor=actor, before_id=before_id, limit=limit)


@router.get("/verify", response_model=AuditChainRead, summary="Recompute the audit hash chain (admin)")
async def verify_audit(db: Db, _: Admin) -> AuditChainRead:
    verdict = await verify_audit_chain(db)
    failure = AuditChainFailureRead(**asdict(verdict.failure)) if verdict.failure else None
    fields = {name: value for name, value in asdict(verdict).items() if name != "failure"}
    return AuditChainRead(**fields, summary=verdict.describe(), failure=failure)
