"""The router a service hangs its domain routes on."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from scis.core.deps import current_user
from scis.core.errors import error_responses


def api_router(service: str) -> APIRouter:
    """The router a service puts its domain routes on: under /api/<service>, signed-in callers only."""
    return APIRouter(prefix=f"/api/{service}", dependencies=[Depends(current_user)], responses=error_responses(401))
