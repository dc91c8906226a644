"""Login, logout, the caller's identity and account administration (served by the dashboard)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from scis.core.app import error_responses
from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth import service
from scis.core.auth.models import LoginRequest, TokenRead, UserCreate, UserRead
from scis.core.deps import (
    TOKEN_COOKIE,
    Admin,
    AppSettings,
    Audit,
    CurrentUser,
    Db,
    client_address,
    current_user,
)
from scis.core.settings import Environment

public = APIRouter(prefix="/api/auth", tags=["auth"], responses=error_responses(401))
signed_in = APIRouter(
    prefix="/api/auth", tags=["auth"], dependencies=[Depends(current_user)], responses=error_responses(401)
)


@public.post("/login", response_model=TokenRead, summary="Sign in; returns a bearer token and sets a cookie")
async def login(body: LoginRequest, request: Request, response: Response, db: Db, settings: AppSettings) -> TokenRead:
    user = await service.authenticate(db, username=body.username, password=body.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    token = service.issue_token(user, secret=settings.secret_key, ttl_seconds=settings.token_ttl_seconds)
    context = AuditContext(
        actor=user,
        source_ip=client_address(request),
        request_id=getattr(request.state, "request_id", None),
        service=request.app.state.service,
    )
    await audit.record(db, context, action="auth.login", target=f"user:{user.username}")
    response.set_cookie(
        TOKEN_COOKIE,
        token.access_token,
        max_age=settings.token_ttl_seconds,
        httponly=True,
        samesite="strict",
        secure=settings.env is Environment.production,
        path="/",
    )
    return token


@signed_in.post("/logout", status_code=204, summary="Forget the session cookie")
async def logout(response: Response, user: CurrentUser) -> Response:
    response.delete_cookie(TOKEN_COOKIE, path="/")
    response.status_code = 204
    return response


@signed_in.get("/me", summary="Who the token belongs to")
async def me(user: CurrentUser) -> dict[str, str]:
    return {"username": user.username, "role": user.role.value}


@signed_in.get("/users", response_model=list[UserRead], summary="All accounts (admin)", responses=error_responses(403))
async def list_users(db: Db, _: Admin) -> list[UserRead]:
    return await service.list_users(db)


@signed_in.post(
    "/users",
    response_model=UserRead,
    status_code=201,
    summary="Create an account (admin)",
    responses=error_responses(403, 409),
)
async def create_user(body: UserCreate, db: Db, _: Admin, context: Audit) -> UserRead:
    async with db.transaction():
        try:
            created = await service.create_user(db, user_in=body)
        except service.UserExists as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
        await audit.record(
            db, context, action="user.create", target=f"user:{created.username}", details={"role": created.role.value}
        )
    return created
