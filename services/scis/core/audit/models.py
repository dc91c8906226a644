"""Audit log models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from scis.core.auth.models import User


@dataclass(frozen=True, slots=True)
class AuditContext:
    """What a request knows about who acts and from where.

    `signed_in` is False for an actor without a session (a failed login, the `scis user` CLI):
    its rows carry no role.
    """

    actor: User
    source_ip: str | None
    request_id: str | None
    service: str
    signed_in: bool = True


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str | None
    action: str
    target: str | None
    source_ip: str | None
    request_id: str | None
    service: str | None
    details: dict[str, Any]
    chain_seq: int | None = None
    row_hash: str | None = None


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_before_id: int | None


class AuditChainFailureRead(BaseModel):
    id: int | None = Field(description="audit_log.id of the first row that does not fit (null: a missing row)")
    chain_seq: int | None
    check: str = Field(description="outside_chain | missing | out_of_order | changed | seal | head")
    detail: str


class AuditChainRead(BaseModel):
    """The result of recomputing the audit log's hash chain."""

    intact: bool
    rows_checked: int
    seals_checked: int
    head_seq: int
    head_hash: str
    summary: str
    failure: AuditChainFailureRead | None
