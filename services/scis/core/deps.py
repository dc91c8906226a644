"""Typed request dependencies shared by every service: database, Redis, caller, role, audit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, HTTPException, Request, status
from psycopg import AsyncConnection

from scis.core.audit.models import AuditContext
from scis.core.auth.models import Role, User
from scis.core.auth.service import InvalidToken, read_token
from scis.core.observability import peer_is_trusted
from scis.core.settings import Settings

TOKEN_COOKIE = "scis_token"


def settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def db_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.pool.connection() as conn:
        yield conn


def redis_client(request: Request) -> aioredis.Redis:
    return request.app.state.redis  # type: ignore[no-any-return]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get(TOKEN_COOKIE)


def current_user(request: Request) -> User:
    token = bearer_token(request)
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "not signed in: send 'Authorization: Bearer <token>' from POST /api/auth/login",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return read_token(token, secret=request.app.state.settings.secret_key)
    except InvalidToken as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"token refused ({error}); sign in again",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None


def require_role(needed: Role) -> Callable[[User], User]:
    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if not user.role.allows(needed):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"role {user.role.value!r} may not do this; it needs {needed.value!r}"
            )
        return user

    return check


def client_address(request: Request) -> str | None:
    """The caller's address: the gateway's X-Real-IP when the peer is a trusted proxy, else the peer itself."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-real-ip")
    if forwarded and peer_is_trusted(peer, request.app.state.settings.trusted_proxy_networks):
        return forwarded
    return peer


def audit_context(request: Request, user: Annotated[User, Depends(current_user)]) -> AuditContext:
    return AuditContext(
        actor=user,
        source_ip=client_address(request),
        request_id=getattr(request.state, "request_id", None),
        service=request.app.state.service,
    )


Db = Annotated[AsyncConnection, Depends(db_connection)]
Redis = Annotated[aioredis.Redis, Depends(redis_client)]
AppSettings = Annotated[Settings, Depends(settings_dep)]
CurrentUser = Annotated[User, Depends(current_user)]
Investigator = Annotated[User, Depends(require_role(Role.investigator))]
Admin = Annotated[User, Depends(require_role(Role.admin))]
Audit = Annotated[AuditContext, Depends(audit_context)]
