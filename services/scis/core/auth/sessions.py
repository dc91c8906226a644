"""Server-side login sessions in Redis: a token is only good while its session lives.

Each login opens a session `scis:session:<sid>` (JSON: user id, username, role) that expires with
the token; the token carries the session id as its `sid` claim. Every request reads the session
(one Redis GET) and takes the role from it, not from the token. Signing out, disabling an account,
changing its role or its password deletes every session of the user at once and publishes the
revocation on `scis:sessions:revoked`, so live Socket.IO connections are closed too.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import redis.asyncio as aioredis

from scis.core import bus
from scis.core.auth.models import Role, TokenRead, User
from scis.core.auth.service import InvalidToken, issue_token, read_token

SESSIONS_REVOKED_CHANNEL = "scis:sessions:revoked"


def session_key(session_id: str) -> str:
    return f"scis:session:{session_id}"


def user_sessions_key(username: str) -> str:
    return f"scis:user-sessions:{username}"


async def open_session(client: aioredis.Redis, *, user_id: int, user: User, ttl_seconds: int) -> str:
    """A new session for the user; returns its id (goes into the token as `sid`)."""
    session_id = secrets.token_urlsafe(24)
    record = json.dumps({"uid": user_id, "username": user.username, "role": user.role.value})
    async with client.pipeline(transaction=True) as pipe:
        pipe.set(session_key(session_id), record, ex=ttl_seconds)
        pipe.sadd(user_sessions_key(user.username), session_id)
        # The index lives as long as the user's newest session; stale members are harmless.
        pipe.expire(user_sessions_key(user.username), ttl_seconds, gt=True)
        pipe.expire(user_sessions_key(user.username), ttl_seconds, nx=True)
        await pipe.execute()
    return session_id


async def session_user(client: aioredis.Redis, session_id: str) -> User | None:
    """The user the session belongs to, with the role in force; None when it ended or never existed."""
    raw = await client.get(session_key(session_id))
    if raw is None:
        return None
    record = json.loads(raw)
    return User(username=record["username"], role=Role(record["role"]), session_id=session_id)


async def live_sessions(client: aioredis.Redis, session_ids: list[str]) -> set[str]:
    """Which of the session ids are still alive (one round trip)."""
    if not session_ids:
        return set()
    async with client.pipeline(transaction=False) as pipe:
        for session_id in session_ids:
            pipe.exists(session_key(session_id))
        alive = await pipe.execute()
    return {session_id for session_id, exists in zip(session_ids, alive, strict=True) if exists}


async def revoke_user_sessions(client: aioredis.Redis, username: str, *, reason: str) -> list[str]:
    """End every session of the user now; returns their ids. Open sockets are told on the bus."""
    index = user_sessions_key(username)
    members: Any = await client.smembers(index)
    session_ids = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
    if session_ids:
        async with client.pipeline(transaction=True) as pipe:
            pipe.delete(*(session_key(session_id) for session_id in session_ids))
            # Only the members read: a session opened meanwhile stays indexed for the next revocation.
            pipe.srem(index, *session_ids)
            await pipe.execute()
    await bus.publish(
        client, SESSIONS_REVOKED_CHANNEL, {"username": username, "session_ids": session_ids, "reason": reason}
    )
    return session_ids


async def sign_in(client: aioredis.Redis, *, user_id: int, user: User, secret: str, ttl_seconds: int) -> TokenRead:
    """Open a session and sign a token carrying its id."""
    session_id = await open_session(client, user_id=user_id, user=user, ttl_seconds=ttl_seconds)
    return issue_token(user, secret=secret, ttl_seconds=ttl_seconds, session_id=session_id)


async def user_of_token(client: aioredis.Redis, token: str, *, secret: str) -> User:
    """The user of a valid token whose session is alive, with the session's role; else InvalidToken."""
    claimed = read_token(token, secret=secret)
    assert claimed.session_id is not None
    user = await session_user(client, claimed.session_id)
    if user is None or user.username != claimed.username:
        raise InvalidToken("the session has ended: signed out, revoked by an administrator, or expired")
    return user
