"""`scis up`: the whole platform on one machine — databases, every service, the gateway — and its stop."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis

from scis.core.auth.models import Role, UserCreate
from scis.core.auth.secret import with_home_secret
from scis.core.auth.service import create_user_sync
from scis.core.db import DatabaseUnavailable, first_line, migrate, redact
from scis.core.settings import SERVICE_NAMES, Settings
from scis.embedded import demo
from scis.embedded.gateway import Gateway
from scis.embedded.ports import require_free
from scis.embedded.postgres import EmbeddedPostgres
from scis.embedded.process import ChildProcess
from scis.embedded.redis import EmbeddedRedis

READY_TIMEOUT_SECONDS = 90.0
MAX_SERVICE_RESTARTS = 5


class StackError(Exception):
    """`scis up` cannot go on; the message says why and what to do."""


def state_path(home: Path) -> Path:
    return home / "run" / "stack.json"


def read_state(home: Path) -> dict[str, object] | None:
    try:
        state = json.loads(state_path(home).read_text())
    except (OSError, ValueError):
        return None
    pid = state.get("supervisor_pid")
    if not isinstance(pid, int) or not _alive(pid):
        return None
    return state  # type: ignore[no-any-return]


def _alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for its parent to reap it."""
    import psutil  # the `embedded` extra; every `scis` command imports this module for StackError

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class Stack:
    settings: Settings
    home: Path
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    services: dict[str, ChildProcess] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    gateway: Gateway | None = None
    database_url: str = ""  # scis_app: what the services use
    migration_url: str = ""  # the schema owner: migrations only
    explorer_url: str = ""  # scis_explorer: the SQL explorer's own pool
    redis_url: str = ""
    demo: bool = False
    simulator: ChildProcess | None = None

    def check_ports(self) -> None:
        host = "127.0.0.1"
        require_free(self.settings.gateway_port, "SCIS_GATEWAY_PORT", host)
        for name in SERVICE_NAMES:
            require_free(self.settings.port_of(name), f"SCIS_{name.upper()}_PORT", host)
        if not self.settings.database_url:
            require_free(self.settings.postgres_port, "SCIS_POSTGRES_PORT", host)
        if not self.settings.redis_url:
            require_free(self.settings.redis_port, "SCIS_REDIS_PORT", host)
        if self.demo:
            require_free(self.settings.simulator_port, "SCIS_SIMULATOR_PORT", host)

    def start_databases(self) -> None:
        logs = self.home / "logs"
        if self.settings.database_url:
            self.database_url = self.settings.database_url
            self.migration_url = self.settings.migration_database_url or self.database_url
            self.explorer_url = self.settings.explorer_database_url or ""
        else:
            self.postgres = EmbeddedPostgres(self.home / "postgres", self.settings.postgres_port, logs / "postgres.log")
            self.postgres.start()
            self.database_url = self.postgres.url
            self.migration_url = self.postgres.superuser_url
            self.explorer_url = self.postgres.explorer_url
        if self.settings.redis_url:
            self.redis_url = self.settings.redis_url
            try:
                redis.Redis.from_url(self.redis_url, socket_connect_timeout=5).ping()
            except redis.RedisError as error:
                raise StackError(f"cannot reach Redis at {redact(self.redis_url)}: {first_line(error)}") from None
        else:
            self.redis = EmbeddedRedis(self.home / "redis", self.settings.redis_port, logs / "redis.log")
            self.redis.start()
            self.redis_url = self.redis.url
        if self.postgres:
            self.postgres.migrate()
        else:
            migrate(self.migration_url)

    def ensure_admin(self) -> str | None:
        """Create `admin` with a random password when there is no account at all; returns the password."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM users").fetchone()
            if row and row[0]:
                return None
            password = secrets.token_urlsafe(12)
            create_user_sync(conn, user_in=UserCreate(username="admin", password=password, role=Role.admin))
        secret_file = self.home / "initial-admin-password"
        secret_file.write_text(password + "\n")
        secret_file.chmod(0o600)
        return password

    def service_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SCIS_DATABASE_URL=self.database_url,
            SCIS_REDIS_URL=self.redis_url,
            SCIS_HOME=str(self.home),
            SCIS_SECRET_KEY=self.settings.secret_key,
        )
        if self.demo:
            env.update(demo.demo_env(self.settings))
        if self.explorer_url:
            env["SCIS_EXPLORER_DATABASE_URL"] = self.explorer_url
        env.pop("SCIS_MIGRATION_DATABASE_URL", None)  # services never hold the owner's credentials
        return env

    def start_service(self, name: str) -> None:
        process = ChildProcess(
            name,
            [sys.executable, "-m", "scis", "serve", name],
            log_path=self.home / "logs" / f"{name}.log",
            env=self.service_env(),
            stop_timeout=20,
        )
        process.start()
        self.services[name] = process

    def start_services(self) -> None:
        if self.demo:
            try:
                self.simulator = demo.start_simulator(self.settings, self.home, self.service_env())
            except demo.DemoUnavailable as error:
                raise StackError(str(error)) from None
        for name in SERVICE_NAMES:
            self.start_service(name)
        self.gateway = Gateway(self.settings, self.home)
        self.gateway.start()

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        base = f"http://127.0.0.1:{self.settings.gateway_port}"
        pending = set(SERVICE_NAMES)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name in sorted(pending):
                    process = self.services[name]
                    if not process.running():
                        raise StackError(f"service {name} exited during start; its log says:\n{process.log_tail()}")
                    # Through the gateway, as a user's browser would reach each service.
                    path = "/readyz" if name == "frontend" else f"/api/{name}/readyz"
                    try:
                        if client.get(base + path).status_code == 200:
                            pending.discard(name)
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    waiting = ", ".join(sorted(pending))
                    raise StackError(f"not ready after {timeout:.0f}s: {waiting}; see {self.home}/logs")
                if pending:
                    time.sleep(0.1)

    def write_state(self) -> None:
        components: dict[str, dict[str, object]] = {
            "gateway": {
                "address": f"http://localhost:{self.settings.gateway_port}",
                "pid": self.gateway.process.pid if self.gateway else None,
            },
            "postgres": {
                "address": redact(self.database_url),
                "pid": self.postgres.process.pid if self.postgres else None,
            },
            "redis": {"address": redact(self.redis_url), "pid": self.redis.process.pid if self.redis else None},
        }
        for name, process in self.services.items():
            components[name] = {"address": f"http://127.0.0.1:{self.settings.port_of(name)}", "pid": process.pid}
        if self.simulator:
            components["simulator"] = {"address": demo.simulator_url(self.settings), "pid": self.simulator.pid}
        state_path(self.home).parent.mkdir(parents=True, exist_ok=True)
        state_path(self.home).write_text(
            json.dumps({"supervisor_pid": os.getpid(), "started_at": time.time(), "components": components}, indent=2)
        )

    def supervise(self, stop: threading.Event) -> None:
        """Restart a service that dies, a few times at most, until asked to stop."""
        while not stop.wait(1.0):
            for name, process in list(self.services.items()):
                if process.running() or stop.is_set():
                    continue
                count = self.restarts.get(name, 0)
                if count >= MAX_SERVICE_RESTARTS:
                    continue
                self.restarts[name] = count + 1
                print(
                    f"scis: service {name} exited ({process.popen.returncode if process.popen else '?'}); "
                    f"restarting ({count + 1}/{MAX_SERVICE_RESTARTS})",
                    flush=True,
                )
                self.start_service(name)

    def stop(self) -> None:
        """Gateway first so no new request arrives, then services, then Redis, PostgreSQL last."""
        if self.gateway:
            self.gateway.stop()
        for process in self.services.values():
            if process.running() and process.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        for process in self.services.values():
            process.stop()
        if self.simulator:
            self.simulator.stop()
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()
        state_path(self.home).unlink(missing_ok=True)


def run_up(settings: Settings, *, demo_live: bool = False) -> int:
    home = settings.home.expanduser().resolve()
    running = read_state(home)
    if running:
        pid = running["supervisor_pid"]
        raise StackError(f"SCIS is already running from {home} (pid {pid}); `scis down` stops it")
    stack = Stack(settings=settings, home=home, demo=demo_live)
    stack.check_ports()
    home.mkdir(parents=True, exist_ok=True)
    # Never the development secret written in the source: anyone could forge tokens for this stack.
    stack.settings = settings = with_home_secret(settings)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started = time.monotonic()
    try:
        stack.start_databases()
        password = stack.ensure_admin()
        stack.start_services()
        stack.wait_ready()
        stack.write_state()
        elapsed = time.monotonic() - started
        print(f"SCIS is up in {elapsed:.1f}s: http://localhost:{settings.gateway_port}", flush=True)
        if password:
            print(
                f"Sign in as 'admin' with password {password} (also in {home}/initial-admin-password);"
                " add users with `scis user add NAME --role investigator`.",
                flush=True,
            )
        else:
            print("Sign in with your SCIS account; `scis user add NAME --role ROLE` adds one.", flush=True)
        if stack.simulator:
            print(
                f"Demo: a simulated TikTok LIVE host @{demo.DEMO_HANDLE} is live at {demo.simulator_url(settings)};"
                " sign in, open Capture and monitor @" + demo.DEMO_HANDLE + ".",
                flush=True,
            )
        print(f"Data in {home}; logs in {home}/logs. Ctrl-C or `scis down` stops everything.", flush=True)
        stack.supervise(stop)
        print("scis: stopping…", flush=True)
        return 0
    except DatabaseUnavailable as error:
        raise StackError(str(error)) from None
    finally:
        stack.stop()


def run_down(settings: Settings, timeout: float = 90.0) -> int:
    home = settings.home.expanduser().resolve()
    state = read_state(home)
    if not state:
        print(f"SCIS is not running from {home}")
        return 0
    pid = int(state["supervisor_pid"])  # type: ignore[call-overload]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        print(f"scis: the stack (pid {pid}) did not stop within {timeout:.0f}s", file=sys.stderr)
        return 1
    print("SCIS stopped")
    return 0


def run_status(settings: Settings) -> int:
    home = settings.home.expanduser().resolve()
    state = read_state(home)
    if not state:
        print(f"SCIS is not running from {home}")
        return 3
    components = state["components"]
    assert isinstance(components, dict)
    print(f"SCIS running from {home} (supervisor pid {state['supervisor_pid']})")
    with httpx.Client(timeout=2.0) as client:
        for name, info in components.items():
            status = "running" if info.get("pid") is None or _alive(int(info["pid"])) else "stopped"
            if name in SERVICE_NAMES:
                try:
                    ready = client.get(f"{info['address']}/readyz").status_code == 200
                    status = "ready" if ready else "not ready"
                except httpx.HTTPError:
                    status = "unreachable"
            print(f"  {name:<10} {status:<11} {info['address']}  pid {info.get('pid') or '-'}")
    print_captures(settings, {name: str(components[name]["address"]) for name in CAPTURE_RUNNERS if name in components})
    return 0


# Services whose /metrics report the captures they run.
CAPTURE_RUNNERS = ("analyser",)


def print_captures(settings: Settings, runners: dict[str, str]) -> None:
    """The open sessions and their health (scis.lives.health), below the components."""
    import asyncio

    from scis.core.connections import NoDatabase, resolve_database_url
    from scis.lives.health import capture_health, describe, fetch_metrics

    async def gather() -> list[str]:
        health = await capture_health(resolve_database_url(settings), await fetch_metrics(runners))
        return [describe(item) for item in health]

    try:
        lines = asyncio.run(gather())
    except (NoDatabase, psycopg.Error, OSError) as error:
        print(f"captures: cannot be read: {first_line(error)}")
        return
    print(f"captures: {len(lines)} open" if lines else "captures: none open")
    for line in lines:
        print(line)
