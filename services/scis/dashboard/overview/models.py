"""Overview models."""

from __future__ import annotations

from pydantic import BaseModel


class ServiceHealth(BaseModel):
    service: str
    url: str
    status: str
    detail: str = ""
    latency_ms: float | None = None


class KeyFigures(BaseModel):
    cases_open: int
    lives_active: int
    sessions_total: int
    events_total: int
    subjects_total: int
    profiles_total: int


class Overview(BaseModel):
    services: list[ServiceHealth]
    figures: KeyFigures
