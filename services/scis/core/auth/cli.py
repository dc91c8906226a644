"""`scis user add|list|passwd|disable|enable|role`: accounts from the command line, audited like the API.

Each change is one transaction with its audit row (actor `cli:<login name>`); changes that end
sessions (password, disable, role) revoke them in Redis as the API does.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import redis.asyncio as aioredis
from pydantic import TypeAdapter, ValidationError

from scis.core import bus
from scis.core.audit.models import AuditContext
from scis.core.auth import service
from scis.core.auth.models import Password, Role, User, UserCreate, UserRead
from scis.core.auth.sessions import revoke_user_sessions
from scis.core.db import first_line, redact
from scis.core.settings import Settings, SettingsError, load_settings

ROLES = [role.value for role in Role]


class UserCommandError(Exception):
    """Ends `scis user` with one line on stderr and exit status 1."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SCIS_DATABASE_URL, else the `scis up` one)")
    user = parser.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user.add_parser("add", help="add an account")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="viewer")
    add.add_argument("--password", help="read from the terminal when omitted")
    add.set_defaults(user_action=cmd_add)
    user.add_parser("list", help="list accounts").set_defaults(user_action=cmd_list)
    passwd = user.add_parser("passwd", help="set an account's password (ends its sessions)")
    passwd.add_argument("name")
    passwd.add_argument("--password", help="read from the terminal when omitted")
    passwd.set_defaults(user_action=cmd_passwd)
    for action, handler, text in (
        ("disable", cmd_disable, "disable an account (ends its sessions)"),
        ("enable", cmd_enable, "enable a disabled account"),
    ):
        sub = user.add_parser(action, help=text)
        sub.add_argument("name")
        sub.set_defaults(user_action=handler)
    role = user.add_parser("role", help="change an account's role (ends its sessions)")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(user_action=cmd_role)


def run(args: argparse.Namespace) -> int:
    """Exit 0 done, 1 refused (the reason on stderr), 2 bad settings or no database."""
    from scis.core.connections import NoDatabase, resolve_database_url

    try:
        settings = load_settings()
        database_url = resolve_database_url(settings, args.database_url)
    except (NoDatabase, SettingsError) as error:
        print(f"scis: {error}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args.user_action, args, settings, database_url))
    except UserCommandError as error:
        print(f"scis: {error}", file=sys.stderr)
        return 1
    except psycopg.OperationalError as error:
        print(f"scis: cannot reach PostgreSQL at {redact(database_url)}: {first_line(error)}", file=sys.stderr)
        return 2


Action = Callable[["Session", argparse.Namespace], Awaitable[str]]


class Session:
    """What a command works with: a database connection, maybe Redis, and its audit context."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], redis_url: str | None) -> None:
        self.conn = conn
        self.redis_url = redis_url
        self.context = AuditContext(
            actor=User(username=f"cli:{_login_name()}", role=Role.admin),
            source_ip=None,
            request_id=None,
            service="cli",
            signed_in=False,
        )

    async def revoke(self, username: str, reason: str) -> str:
        """End the user's sessions; the sentence to print about it."""
        if not self.redis_url:
            return "no Redis configured: open sessions end when their tokens expire"
        client = bus.connect(self.redis_url)
        try:
            ended = await revoke_user_sessions(client, username, reason=reason)
        except (aioredis.RedisError, OSError) as error:
            return f"WARNING: sessions not revoked (Redis: {first_line(error)}); they end when their tokens expire"
        finally:
            await client.aclose()
        return f"{len(ended)} session(s) ended"


async def _run(action: Action, args: argparse.Namespace, settings: Settings, database_url: str) -> int:
    from scis.core.connections import resolve_redis_url

    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        print(await action(Session(conn, resolve_redis_url(settings)), args))
    return 0


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _password(args: argparse.Namespace) -> str:
    password = args.password or getpass.getpass(f"password for {args.name}: ")
    try:
        return TypeAdapter(Password).validate_python(password)
    except ValidationError as error:
        raise UserCommandError(error.errors()[0]["msg"].removeprefix("Value error, ")) from None


def _describe(user: UserRead) -> str:
    state = "disabled" if user.disabled else "enabled"
    return f"{user.username:<24} {user.role.value:<13} {state:<9} created {user.created_at:%Y-%m-%d %H:%M}"


async def cmd_add(session: Session, args: argparse.Namespace) -> str:
    try:
        user_in = UserCreate(username=args.name, password=_password(args), role=Role(args.role))
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise UserCommandError(f"invalid {field} {args.name!r}: {first['msg']}") from None
    created = await _apply(session, service.creation(session.conn, user_in), "user.create")
    return f"user {created.username} added with role {created.role.value}"


async def cmd_list(session: Session, args: argparse.Namespace) -> str:
    users = await service.list_users(session.conn)
    return "\n".join(_describe(user) for user in users) if users else "no accounts"


async def _apply(session: Session, change: service.AccountChange, action: str) -> UserRead:
    try:
        return await service.apply_account_change(session.conn, session.context, change, action=action)
    except (service.UnknownUser, service.LastAdmin, service.UserExists) as error:
        raise UserCommandError(str(error)) from None


async def cmd_passwd(session: Session, args: argparse.Namespace) -> str:
    password = _password(args)
    change = service.without_details(lambda: service.set_password(session.conn, username=args.name, password=password))
    changed = await _apply(session, change, "user.password_reset")
    return f"password of {changed.username} changed; {await session.revoke(changed.username, 'password reset')}"


async def cmd_disable(session: Session, args: argparse.Namespace) -> str:
    change = service.without_details(lambda: service.set_disabled(session.conn, username=args.name, disabled=True))
    changed = await _apply(session, change, "user.disable")
    return f"{changed.username} disabled; {await session.revoke(changed.username, 'account disabled')}"


async def cmd_enable(session: Session, args: argparse.Namespace) -> str:
    change = service.without_details(lambda: service.set_disabled(session.conn, username=args.name, disabled=False))
    changed = await _apply(session, change, "user.enable")
    return f"{changed.username} enabled"


async def cmd_role(session: Session, args: argparse.Namespace) -> str:
    before = await service.find_account(session.conn, args.name)
    changed = await _apply(session, service.role_change(session.conn, args.name, Role(args.role)), "user.role_change")
    revoked = await session.revoke(changed.username, "role changed")
    was = f" (was {before.role.value})" if before else ""
    return f"{changed.username} is now {changed.role.value}{was}; {revoked}"
