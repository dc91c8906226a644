"""Login, logout, the caller's identity and account administration (served by the dashboard)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth import service, sessions, throttle
from scis.core.auth.models import (
    LoginRequest,
    PasswordChange,
    PasswordReset,
    Role,
    RoleChange,
    TokenRead,
    User,
    UserCreate,
    UserRead,
)
from scis.core.deps import (
    TOKEN_COOKIE,
    Admin,
    AppSettings,
    Audit,
    CurrentUser,
    Db,
    Pool,
    Redis,
    client_address,
    current_user,
)
from scis.core.errors import error_responses
from scis.core.fields import Text
from scis.core.settings import Environment

public = APIRouter(prefix="/api/auth", tags=["auth"], responses=error_responses(401))
signed_in = APIRouter(
    prefix="/api/auth", tags=["auth"], dependencies=[Depends(current_user)], responses=error_responses(401)
)
# Who a failed sign-in is recorded as: the name typed is the target, never the actor.
ANONYMOUS = User(username="anonymous", role=Role.viewer)
WRONG_CREDENTIALS = "wrong username or password"


def anonymous_context(request: Request) -> AuditContext:
    return AuditContext(
        actor=ANONYMOUS,
        source_ip=client_address(request),
        request_id=getattr(request.state, "request_id", None),
        service=request.app.state.service,
        signed_in=False,
    )


def locked_out(lockout: throttle.Lockout) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        lockout.message(),
        headers={"Retry-After": str(lockout.retry_after_seconds)},
    )


@public.post(
    "/login",
    response_model=TokenRead,
    summary="Sign in; returns a bearer token and sets a cookie",
    responses=error_responses(429),
)
async def login(
    body: LoginRequest, request: Request, response: Response, pool: Pool, redis: Redis, settings: AppSettings
) -> TokenRead:
    # Connections are taken only around each query: a login waiting its turn to hash holds none.
    username, address = body.username.lower(), client_address(request)
    target = f"user:{username}"

    async def record_failure(details: dict[str, str]) -> None:
        async with pool.connection() as conn:
            await audit.record(conn, anonymous_context(request), action="auth.login_failed", target=target,
                               details=details)  # fmt: skip

    lockout = await throttle.current_lockout(redis, settings, username=username, address=address)
    if lockout is not None:
        await record_failure({"reason": "locked_out", "scope": lockout.scope})
        raise locked_out(lockout)
    async with pool.connection() as conn:
        found = await service.find_account(conn, username)
    account = await service.password_matches(found, body.password)
    if account is None:
        lockout = await throttle.record_failure(redis, settings, username=username, address=address)
        await record_failure({"reason": "wrong_credentials", **({"locked_out": lockout.scope} if lockout else {})})
        if lockout is not None:
            raise locked_out(lockout)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, WRONG_CREDENTIALS)
    await throttle.clear_account_failures(redis, username)
    user = User(username=account.username, role=account.role)
    token = await sessions.sign_in(
        redis, user_id=account.id, user=user, secret=settings.secret_key, ttl_seconds=settings.token_ttl_seconds
    )
    async with pool.connection() as conn:
        # Disabled or re-roled while we were signing in: its revocation may have missed the new session.
        latest = await service.find_account(conn, username)
        if latest is None or latest.disabled or latest.role is not account.role:
            await sessions.revoke_user_sessions(redis, username, reason="changed during sign-in")
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, WRONG_CREDENTIALS)
        context = AuditContext(
            actor=user,
            source_ip=address,
            request_id=getattr(request.state, "request_id", None),
            service=request.app.state.service,
        )
        await audit.record(conn, context, action="auth.login", target=target)
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


@signed_in.post("/logout", status_code=204, summary="Sign out: ends every session of the caller, everywhere")
async def logout(response: Response, user: CurrentUser, db: Db, redis: Redis, context: Audit) -> Response:
    ended = await sessions.revoke_user_sessions(redis, user.username, reason="signed out")
    details = {"sessions": len(ended)}
    await audit.record(db, context, action="auth.logout", target=f"user:{user.username}", details=details)
    response.delete_cookie(TOKEN_COOKIE, path="/")
    response.status_code = 204
    return response


@signed_in.get("/me", summary="Who the session belongs to")
async def me(user: CurrentUser) -> dict[str, str]:
    return {"username": user.username, "role": user.role.value}


@signed_in.post(
    "/password",
    status_code=204,
    summary="Change your own password (ends every session: sign in again)",
    responses=error_responses(400),
)
async def change_own_password(
    body: PasswordChange, user: CurrentUser, db: Db, redis: Redis, context: Audit
) -> Response:
    async with db.transaction():
        try:
            await service.change_own_password(
                db, username=user.username, current=body.current_password, new=body.new_password
            )
        except service.WrongPassword as error:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
        await audit.record(db, context, action="user.password_change", target=f"user:{user.username}")
    await sessions.revoke_user_sessions(redis, user.username, reason="password changed")
    return Response(status_code=204)


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
    return await _apply(db, context, service.creation(db, body), "user.create")


ACCOUNT_ERRORS = error_responses(403, 404, 409)


async def _apply(db: Db, context: AuditContext, change: service.AccountChange, action: str) -> UserRead:
    try:
        return await service.apply_account_change(db, context, change, action=action)
    except service.UnknownUser as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    except (service.LastAdmin, service.UserExists) as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


@signed_in.put(
    "/users/{username}/password",
    response_model=UserRead,
    summary="Set another account's password (admin; ends its sessions)",
    responses=ACCOUNT_ERRORS,
)
async def reset_password(
    username: Text, body: PasswordReset, db: Db, redis: Redis, _: Admin, context: Audit
) -> UserRead:
    change = service.without_details(lambda: service.set_password(db, username=username, password=body.new_password))
    changed = await _apply(db, context, change, "user.password_reset")
    await sessions.revoke_user_sessions(redis, changed.username, reason="password reset by an admin")
    return changed


@signed_in.post(
    "/users/{username}/disable",
    response_model=UserRead,
    summary="Disable an account (admin; ends its sessions at once)",
    responses=ACCOUNT_ERRORS,
)
async def disable_user(username: Text, db: Db, redis: Redis, _: Admin, context: Audit) -> UserRead:
    change = service.without_details(lambda: service.set_disabled(db, username=username, disabled=True))
    changed = await _apply(db, context, change, "user.disable")
    await sessions.revoke_user_sessions(redis, changed.username, reason="account disabled")
    return changed


@signed_in.post(
    "/users/{username}/enable", response_model=UserRead, summary="Enable an account (admin)", responses=ACCOUNT_ERRORS
)
async def enable_user(username: Text, db: Db, _: Admin, context: Audit) -> UserRead:
    change = service.without_details(lambda: service.set_disabled(db, username=username, disabled=False))
    return await _apply(db, context, change, "user.enable")


@signed_in.put(
    "/users/{username}/role",
    response_model=UserRead,
    summary="Change an account's role (admin; ends its sessions)",
    responses=ACCOUNT_ERRORS,
)
async def change_role(username: Text, body: RoleChange, db: Db, redis: Redis, _: Admin, context: Audit) -> UserRead:
    changed = await _apply(db, context, service.role_change(db, username, body.role), "user.role_change")
    await sessions.revoke_user_sessions(redis, changed.username, reason="role changed")
    return changed
