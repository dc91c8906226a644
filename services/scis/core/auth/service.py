"""Password hashing, accounts and signed expiring tokens. No HTTP here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg import AsyncConnection, Connection
from psycopg.errors import UniqueViolation
from psycopg.rows import dict_row

from scis.core.auth.models import Role, TokenRead, User, UserCreate, UserRead

TOKEN_ALGORITHM = "HS256"
TOKEN_AUDIENCE = "scis"
_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as one for a known user.
_DUMMY_HASH = _hasher.hash("scis-timing-equaliser")


class InvalidToken(Exception):
    """The token is missing, malformed, forged or expired."""


class UserExists(Exception):
    """A user with that name already exists."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_token(user: User, *, secret: str, ttl_seconds: int) -> TokenRead:
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
    token = jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)
    return TokenRead(access_token=token, expires_at=expires, username=user.username, role=user.role)


def read_token(token: str, *, secret: str) -> User:
    try:
        claims = jwt.decode(token, secret, algorithms=[TOKEN_ALGORITHM], audience=TOKEN_AUDIENCE)
        return User(username=claims["sub"], role=Role(claims["role"]))
    except (jwt.PyJWTError, KeyError, ValueError) as error:
        raise InvalidToken(str(error)) from None


async def authenticate(conn: AsyncConnection, *, username: str, password: str) -> User | None:
    """The user when the password matches an enabled account, else None."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT username, password_hash, role, disabled FROM users WHERE username = %s", (username.lower(),)
    )
    row = await cur.fetchone()
    if row is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(row["password_hash"], password) or row["disabled"]:
        return None
    return User(username=row["username"], role=Role(row["role"]))


async def list_users(conn: AsyncConnection) -> list[UserRead]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT id, username, role, disabled, created_at FROM users ORDER BY username")
    return [UserRead(**row) for row in await cur.fetchall()]


async def create_user(conn: AsyncConnection, *, user_in: UserCreate) -> UserRead:
    cur = conn.cursor(row_factory=dict_row)
    try:
        await cur.execute(
            """INSERT INTO users (username, password_hash, role) VALUES (%s, %s, %s)
               RETURNING id, username, role, disabled, created_at""",
            (user_in.username, hash_password(user_in.password), user_in.role.value),
        )
    except UniqueViolation:
        raise UserExists(f"user {user_in.username!r} already exists") from None
    row = await cur.fetchone()
    assert row is not None
    return UserRead(**row)


def create_user_sync(conn: Connection, *, user_in: UserCreate) -> None:
    """The CLI's way to add a user (`scis user add`)."""
    try:
        conn.execute(
            "INSERT INTO users (username, password_hash, role) VALUES (%s, %s, %s)",
            (user_in.username, hash_password(user_in.password), user_in.role.value),
        )
    except UniqueViolation:
        raise UserExists(f"user {user_in.username!r} already exists") from None
