"""Port checks that turn 'address already in use' into a line naming the setting to change."""

from __future__ import annotations

import socket
import time


class PortTaken(Exception):
    """A port SCIS needs is in use; the message names the port and the setting that moves it."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def require_free(port: int, setting: str, host: str = "127.0.0.1") -> None:
    if not port_is_free(port, host):
        raise PortTaken(f"port {port} is already in use; set {setting} to another port")


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now (for tests and benches)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.05)
    return False
