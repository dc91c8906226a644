"""Password hashing, accounts and signed expiring tokens. No HTTP here."""

from __future__ import annotations

import asyncio
import os
import uuid
import weakref
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg import AsyncConnection, Connection
from psycopg.errors import UniqueViolation
from psycopg.rows import dict_row

from scis.core.audit import service as audit
from scis.core.audit.models import AuditContext
from scis.core.auth.models import Account, Role, TokenRead, User, UserCreate, UserRead

TOKEN_ALGORITHM = "HS256"
TOKEN_AUDIENCE = "scis"
# argon2 takes ~50 ms of CPU per hash. One core is left to the event loop so that requests needing no
# hash stay fast while a flood of logins waits its turn; more at once than cores only queues in threads.
HASH_CONCURRENCY = max(1, min(4, (os.cpu_count() or 2) - 1))
_USER_COLUMNS = "id, username, role, disabled, created_at, password_changed_at"
_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as one for a known user.
_DUMMY_HASH = _hasher.hash("scis-timing-equaliser")

T = TypeVar("T")


class InvalidToken(Exception):
    """The token is missing, malformed, forged or expired."""


class UserExists(Exception):
    """A user with that name already exists."""


class UnknownUser(LookupError):
    """No account has that name."""


class WrongPassword(Exception):
    """The current password given does not match."""


class LastAdmin(Exception):
    """The change would leave no enabled admin account."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class _OffTheLoop:
    """Runs CPU-heavy calls in threads, at most `limit` at once per event loop, keeping the loop free."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.limit)
        async with slots:
            return await asyncio.to_thread(function, *args)


_hashing = _OffTheLoop(HASH_CONCURRENCY)


async def hash_password_async(password: str) -> str:
    return await _hashing.run(hash_password, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    return await _hashing.run(verify_password, password_hash, password)


def issue_token(user: User, *, secret: str, ttl_seconds: int, session_id: str | None = None) -> TokenRead:
    """A signed token; only one carrying the id of a live session (`sid`) is accepted by the services."""
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=ttl_seconds)
    claims = {
        "sub": user.username,
        "role": user.role.value,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "aud": TOKEN_AUDIENCE,
        "jti": uuid.uuid4().hex,
    }
    if session_id is not None:
        claims["sid"] = session_id
    token = jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)
    return TokenRead(access_token=token, expires_at=expires, username=user.username, role=user.role)


def read_token(token: str, *, secret: str) -> User:
    """The user and session id the token claims; the session itself is checked by the caller."""
    try:
        claims = jwt.decode(token, secret, algorithms=[TOKEN_ALGORITHM], audience=TOKEN_AUDIENCE)
        session_id = claims.get("sid")
        if not isinstance(session_id, str) or not session_id:
            raise InvalidToken("token carries no session id")
        return User(username=claims["sub"], role=Role(claims["role"]), session_id=session_id)
    except (jwt.PyJWTError, KeyError, ValueError) as error:
        raise InvalidToken(str(error)) from None


async def find_account(conn: AsyncConnection[Any], username: str) -> Account | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT id, username, role, disabled, password_hash FROM users WHERE username = %s", (username.lower(),)
    )
    row = await cur.fetchone()
    return Account(**row) if row else None


async def password_matches(account: Account | None, password: str) -> Account | None:
    """The account when it exists, is enabled and the password matches, else None (same time either way).

    Takes no connection: hashing waits for a free slot and must not hold a pooled connection meanwhile.
    """
    if account is None:
        await verify_password_async(_DUMMY_HASH, password)
        return None
    if not await verify_password_async(account.password_hash, password) or account.disabled:
        return None
    return account


async def list_users(conn: AsyncConnection[Any]) -> list[UserRead]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY username")
    return [UserRead(**row) for row in await cur.fetchall()]


async def create_user(conn: AsyncConnection[Any], *, user_in: UserCreate) -> UserRead:
    password_hash = await hash_password_async(user_in.password)
    cur = conn.cursor(row_factory=dict_row)
    try:
        await cur.execute(
            f"INSERT INTO users (username, password_hash, role) VALUES (%s, %s, %s) RETURNING {_USER_COLUMNS}",
            (user_in.username, password_hash, user_in.role.value),
        )
    except UniqueViolation:
        raise UserExists(f"user {user_in.username!r} already exists") from None
    row = await cur.fetchone()
    assert row is not None
    return UserRead(**row)


def create_user_sync(conn: Connection[Any], *, user_in: UserCreate) -> None:
    """The first admin of `scis up` (before any event loop runs)."""
    try:
        conn.execute(
            "INSERT INTO users (username, password_hash, role) VALUES (%s, %s, %s)",
            (user_in.username, hash_password(user_in.password), user_in.role.value),
        )
    except UniqueViolation:
        raise UserExists(f"user {user_in.username!r} already exists") from None


async def _update_user(
    conn: AsyncConnection[Any], username: str, assignments: str, values: tuple[Any, ...]
) -> UserRead:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"UPDATE users SET {assignments} WHERE username = %s RETURNING {_USER_COLUMNS}",  # type: ignore[arg-type]
        (*values, username),
    )
    row = await cur.fetchone()
    if row is None:
        raise UnknownUser(f"no account named {username!r}")
    return UserRead(**row)


async def set_password(conn: AsyncConnection[Any], *, username: str, password: str) -> UserRead:
    password_hash = await hash_password_async(password)
    return await _update_user(conn, username, "password_hash = %s, password_changed_at = now()", (password_hash,))


async def change_own_password(conn: AsyncConnection[Any], *, username: str, current: str, new: str) -> UserRead:
    account = await find_account(conn, username)
    if await password_matches(account, current) is None:
        raise WrongPassword("current_password does not match; nothing was changed")
    return await set_password(conn, username=username, password=new)


async def _keep_an_admin(conn: AsyncConnection[Any], username: str) -> None:
    """Refuse when `username` is the last enabled admin; call inside the transaction of the change."""
    cur = conn.cursor(row_factory=dict_row)
    # Locking every enabled admin row serialises two admins demoting each other at once.
    await cur.execute("SELECT username FROM users WHERE role = 'admin' AND NOT disabled FOR UPDATE")
    admins = {row["username"] for row in await cur.fetchall()}
    if admins == {username}:
        raise LastAdmin(f"{username!r} is the last enabled admin; make another admin first")


async def set_disabled(conn: AsyncConnection[Any], *, username: str, disabled: bool) -> UserRead:
    if disabled:
        await _keep_an_admin(conn, username)
    return await _update_user(conn, username, "disabled = %s", (disabled,))


async def set_role(conn: AsyncConnection[Any], *, username: str, role: Role) -> tuple[Role, UserRead]:
    """The role before the change and the account after it."""
    account = await find_account(conn, username)
    if account is None:
        raise UnknownUser(f"no account named {username!r}")
    if account.role is Role.admin and role is not Role.admin:
        await _keep_an_admin(conn, username)
    return account.role, await _update_user(conn, username, "role = %s", (role.value,))


# A change to one account: returns the account after it and the details its audit row carries.
AccountChange = Callable[[], Awaitable[tuple[UserRead, dict[str, Any]]]]


async def apply_account_change(
    conn: AsyncConnection[Any], context: AuditContext, change: AccountChange, *, action: str
) -> UserRead:
    """Run the change and its audit row in one transaction (API and CLI alike); end sessions after it."""
    async with conn.transaction():
        changed, details = await change()
        await audit.record(conn, context, action=action, target=f"user:{changed.username}", details=details)
    return changed


def without_details(change: Callable[[], Awaitable[UserRead]]) -> AccountChange:
    async def run() -> tuple[UserRead, dict[str, Any]]:
        return await change(), {}

    return run


def role_change(conn: AsyncConnection[Any], username: str, role: Role) -> AccountChange:
    async def run() -> tuple[UserRead, dict[str, Any]]:
        before, changed = await set_role(conn, username=username, role=role)
        return changed, {"from": before.value, "to": changed.role.value}

    return run


def creation(conn: AsyncConnection[Any], user_in: UserCreate) -> AccountChange:
    async def run() -> tuple[UserRead, dict[str, Any]]:
        created = await create_user(conn, user_in=user_in)
        return created, {"role": created.role.value}

    return run
