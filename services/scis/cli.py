"""The `scis` command: run the platform, its services, captures and administration."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from scis import __version__
from scis.core.settings import SERVICE_NAMES, SettingsError, load_settings

# Commands that live with their domain: module with add_arguments(parser) and run(args) -> int.
DOMAIN_COMMANDS = {
    "simulate": ("scis.simulator.cli", "run the TikTok LIVE simulator"),
    "capture": ("scis.capture.cli", "capture one live (the process a LiveMonitor pod runs)"),
    "monitor": ("scis.capture.monitor_cli", "capture a live with a progress display"),
    "verify": ("scis.evidence.cli", "recheck a session's hash chain, the audit log's (--audit), or an archive offline"),
    "export": ("scis.evidence.export_cli", "write a case's evidence archive for a third party, print its hash"),
    "user": ("scis.core.auth.cli", "accounts: add, list, passwd, disable, enable, role"),
    "backup": ("scis.backup.cli", "archive the database and the evidence files, with SHA-256s, while captures run"),
    "profiles": ("scis.profiles.subjects.cli", "subjects from the evidence: `scis profiles rebuild` recomputes them"),
    "restore": ("scis.backup.restore_cli", "restore a backup into an empty database and fresh SCIS_HOME; verify"),
}


class CommandError(Exception):
    """Ends the command with one line on stderr and exit status 1."""


def cmd_up(args: argparse.Namespace) -> int:
    from scis.embedded.stack import run_up

    return run_up(load_settings(), demo_live=args.demo)


def cmd_down(args: argparse.Namespace) -> int:
    from scis.embedded.stack import run_down

    return run_down(load_settings())


def cmd_status(args: argparse.Namespace) -> int:
    from scis.embedded.stack import run_status

    return run_status(load_settings())


def cmd_serve(args: argparse.Namespace) -> int:
    from scis.core.auth.secret import with_home_secret
    from scis.serve import serve

    return serve(args.service, with_home_secret(load_settings()))


def cmd_db_migrate(args: argparse.Namespace) -> int:
    from scis.core.db import migrate, set_login_passwords

    settings = load_settings()
    owner_url = settings.migration_database_url or settings.database_url
    if not owner_url:
        raise CommandError(
            "SCIS_MIGRATION_DATABASE_URL (or SCIS_DATABASE_URL) is not set;"
            " `scis up` migrates the embedded database by itself"
        )
    applied = migrate(owner_url)
    print("applied: " + ", ".join(applied) if applied else "database schema is up to date")
    if args.set_passwords:
        role_urls = [url for url in (settings.database_url, settings.explorer_database_url) if url]
        changed = set_login_passwords(owner_url, role_urls)
        print("passwords set: " + (", ".join(changed) or "none (no scis_app / scis_explorer URL with a password)"))
    return 0


def cmd_db_partitions(args: argparse.Namespace) -> int:
    import psycopg

    from scis.backup.partitions import Kept, PartitionError, create_ahead, retire_before

    settings = load_settings()
    owner_url = settings.migration_database_url or settings.database_url
    if not owner_url:
        raise CommandError("SCIS_MIGRATION_DATABASE_URL (or SCIS_DATABASE_URL) is not set: partitions are DDL")
    if args.ahead is None and args.detach_before is None:
        raise CommandError("say what to do: --ahead DAYS and/or --detach-before YYYY-MM-DD --archive-dir DIR")
    if args.detach_before is not None and args.archive_dir is None:
        raise CommandError("--detach-before needs --archive-dir DIR: a partition is archived there before it leaves")
    try:
        if args.ahead is not None:
            with psycopg.connect(owner_url, autocommit=True, connect_timeout=10) as conn:
                print("events partitions: " + ", ".join(create_ahead(conn, args.ahead)))
        if args.detach_before is not None:
            for done in retire_before(owner_url, args.detach_before, args.archive_dir):
                if isinstance(done, Kept):
                    print(f"kept {done.name}: {done.reason}")
                else:
                    print(f"archived {done.name} ({done.rows} rows, cases: {', '.join(done.cases) or 'none'}) to "
                          f"{done.file} sha256 {done.sha256}, then detached it; DROP TABLE it when the archive "
                          "is stored safely")  # fmt: skip
    except PartitionError as error:
        raise CommandError(str(error)) from None
    return 0


def _day(text: str) -> date:
    """A UTC day: YYYY-MM-DD, ``today`` or ``today-N`` (N days before today; what a daily CronJob passes)."""
    today = datetime.now(UTC).date()
    if text == "today":
        return today
    if text.startswith("today-") and text[len("today-") :].isdigit():
        return today - timedelta(days=int(text[len("today-") :]))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, today or today-N, not {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scis", description="SCIS: forensic capture platform for TikTok LIVE")
    parser.add_argument("--version", action="version", version=f"scis {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    up = add("up", cmd_up, "start the whole platform on this machine (embedded databases unless URLs are set)")
    up.add_argument(
        "--demo", action="store_true", help="also start the TikTok LIVE simulator (@demo_host) and capture from it"
    )
    add("down", cmd_down, "stop a platform started with `scis up`")
    add("status", cmd_status, "show every component and its address")
    serve = add("serve", cmd_serve, "run one service in this process")
    serve.add_argument("service", choices=SERVICE_NAMES)

    db = commands.add_parser("db", help="database administration").add_subparsers(dest="db_command", required=True)
    db_migrate = db.add_parser("migrate", help="apply pending migrations (as SCIS_MIGRATION_DATABASE_URL)")
    db_migrate.add_argument(
        "--set-passwords",
        action="store_true",
        help="then give scis_app / scis_explorer the passwords in SCIS_DATABASE_URL / SCIS_EXPLORER_DATABASE_URL",
    )
    db_migrate.set_defaults(handler=cmd_db_migrate)
    db_partitions = db.add_parser(
        "partitions", help="make the day partitions of events ahead; detach old ones (as the owner)"
    )
    db_partitions.add_argument("--ahead", type=int, metavar="DAYS", help="make today's and the next DAYS partitions")
    db_partitions.add_argument(
        "--detach-before",
        type=_day,
        metavar="YYYY-MM-DD|today-N",
        help="archive then detach the partitions that end by that day (UTC) and no case's retention holds",
    )
    db_partitions.add_argument(
        "--archive-dir", type=Path, metavar="DIR", help="where --detach-before writes each partition's pg_dump"
    )
    db_partitions.set_defaults(handler=cmd_db_partitions)

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
    from scis.core.auth.secret import SecretFileError
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
        SecretFileError,
    ) as error:
        print(f"scis: {error}", file=sys.stderr)
        return 2 if isinstance(error, SettingsError) else 1
    except KeyboardInterrupt:
        return 130
