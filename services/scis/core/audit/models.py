"""Audit log models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from scis.core.auth.models import User


@dataclass(frozen=True, slots=True)
class AuditContext:
    """What a request knows about who acts and from where."""

    actor: User
    source_ip: str | None
    request_id: str | None
    service: str


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


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_before_id: int | None
