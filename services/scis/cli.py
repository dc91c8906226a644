"""The `scis` command: run the platform, its services, captures and administration."""

from __future__ import annotations

import argparse
import getpass
import importlib
import sys
from collections.abc import Callable

from scis import __version__
from scis.core.settings import SERVICE_NAMES, SettingsError, load_settings

# Commands that live with their domain: module with add_arguments(parser) and run(args) -> int.
DOMAIN_COMMANDS = {
    "simulate": ("scis.simulator.cli", "run the TikTok LIVE simulator"),
    "capture": ("scis.capture.cli", "capture one live (the process a LiveMonitor pod runs)"),
    "monitor": ("scis.capture.monitor_cli", "capture a live with a progress display"),
    "verify": ("scis.evidence.cli", "recompute a session's hash chain and name the first bad event"),
    "backup": ("scis.backup.cli", "archive the database and the evidence files, with SHA-256s, while captures run"),
    "restore": ("scis.backup.restore_cli", "restore a backup into an empty database and fresh SCIS_HOME; verify"),
}


class CommandError(Exception):
    """Ends the command with one line on stderr and exit status 1."""


def cmd_up(args: argparse.Namespace) -> int:
    from scis.embedded.stack import run_up

    return run_up(load_settings())


def cmd_down(args: argparse.Namespace) -> int:
    from scis.embedded.stack import run_down

    return run_down(load_settings())


def cmd_status(args: argparse.Namespace) -> int:
    from scis.embedded.stack import run_status

    return run_status(load_settings())


def cmd_serve(args: argparse.Namespace) -> int:
    from scis.serve import serve

    return serve(args.service, load_settings())


def cmd_db_migrate(args: argparse.Namespace) -> int:
    from scis.core.db import migrate

    settings = load_settings()
    if not settings.database_url:
        raise CommandError("SCIS_DATABASE_URL is not set; `scis up` migrates the embedded database by itself")
    applied = migrate(settings.database_url)
    print("applied: " + ", ".join(applied) if applied else "database schema is up to date")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    import psycopg
    from pydantic import ValidationError

    from scis.core.auth.models import Role, UserCreate
    from scis.core.auth.service import UserExists, create_user_sync
    from scis.core.connections import NoDatabase, resolve_database_url

    try:
        url = resolve_database_url(load_settings())
    except NoDatabase as error:
        raise CommandError(str(error)) from None
    password = args.password or getpass.getpass(f"password for {args.name}: ")
    try:
        user_in = UserCreate(username=args.name, password=password, role=Role(args.role))
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise CommandError(f"invalid {field}: {first['msg']}") from None
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            create_user_sync(conn, user_in=user_in)
        except UserExists as error:
            raise CommandError(str(error)) from None
    print(f"user {args.name} added with role {args.role}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scis", description="SCIS: forensic capture platform for TikTok LIVE")
    parser.add_argument("--version", action="version", version=f"scis {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    add("up", cmd_up, "start the whole platform on this machine (embedded databases unless URLs are set)")
    add("down", cmd_down, "stop a platform started with `scis up`")
    add("status", cmd_status, "show every component and its address")
    serve = add("serve", cmd_serve, "run one service in this process")
    serve.add_argument("service", choices=SERVICE_NAMES)

    db = commands.add_parser("db", help="database administration").add_subparsers(dest="db_command", required=True)
    db.add_parser("migrate", help="apply pending migrations").set_defaults(handler=cmd_db_migrate)

    user = commands.add_parser("user", help="accounts").add_subparsers(dest="user_command", required=True)
    user_add = user.add_parser("add", help="add an account")
    user_add.add_argument("name")
    user_add.add_argument("--role", choices=["admin", "investigator", "viewer"], default="viewer")
    user_add.add_argument("--password", help="read from the terminal when omitted")
    user_add.set_defaults(handler=cmd_user_add)

    for name, (_, help_text) in DOMAIN_COMMANDS.items():
        # Their own arguments are parsed by run_domain_command, importing only the module asked for.
        sub = commands.add_parser(name, help=help_text, description=help_text, add_help=False)
        sub.add_argument("rest", nargs=argparse.REMAINDER)
        sub.set_defaults(handler=None)
    return parser


def run_domain_command(name: str, rest: list[str]) -> int:
    module_name, help_text = DOMAIN_COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"scis {name}", description=help_text)
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(rest)))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Domain commands parse their own flags (argparse's REMAINDER refuses a leading --flag).
    domain = argv[0] if argv and argv[0] in DOMAIN_COMMANDS else None
    args = build_parser().parse_args([domain] if domain else argv)
    from scis.core.db import DatabaseUnavailable
    from scis.core.discovery import DiscoveryError
    from scis.embedded.ports import PortTaken
    from scis.embedded.stack import StackError
    from scis.serve import ServeError

    try:
        if domain:
            return run_domain_command(domain, argv[1:])
        return int(args.handler(args))
    except (
        SettingsError,
        PortTaken,
        DatabaseUnavailable,
        StackError,
        ServeError,
        DiscoveryError,
        CommandError,
    ) as error:
        print(f"scis: {error}", file=sys.stderr)
        return 2 if isinstance(error, SettingsError) else 1
    except KeyboardInterrupt:
        return 130
