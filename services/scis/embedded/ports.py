"""Port checks that turn 'address already in use' into a line naming the setting to change."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path


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


EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Below this, ports are where well-known servers listen (PostgreSQL 5432, Redis 6379, 8000s, ...).
LOWEST_TEST_PORT = 15000
_handed_out: set[int] = set()


def ephemeral_range(path: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux's default when unreadable)."""
    try:
        low, high = (int(part) for part in path.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def ports_outside(ephemeral: tuple[int, int]) -> range:
    """Ports outside the ephemeral range: the kernel never hands these to an outgoing connection."""
    low, high = ephemeral
    below = range(LOWEST_TEST_PORT, low)
    above = range(high + 1, 65536)
    return below if len(below) >= len(above) else above


def free_port(host: str = "127.0.0.1") -> int:
    """A free port for tests and benches, picked OUTSIDE the kernel's ephemeral range.

    A port from the ephemeral range (what binding port 0 returns) can be given to some outgoing
    connection between this check and the server's own bind, which a busy machine does. Outside the
    range only another listener can take it; picking at random makes two test processes unlikely to
    collide, and one process never gets the same port twice.
    """
    candidates = ports_outside(ephemeral_range())
    if len(candidates) >= 1000:
        for _ in range(200):
            port = random.choice(candidates)
            if port not in _handed_out and port_is_free(port, host):
                _handed_out.add(port)
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:  # no room outside: the kernel picks
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
