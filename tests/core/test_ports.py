"""Test ports come from outside the kernel's ephemeral range, so no outgoing connection can take one."""

from __future__ import annotations

import socket
from pathlib import Path

from scis.embedded.ports import LOWEST_TEST_PORT, ephemeral_range, free_port, port_is_free, ports_outside


def test_free_ports_are_outside_the_ephemeral_range_and_bindable() -> None:
    low, high = ephemeral_range()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports), "one process got the same port twice"
    for port in ports:
        assert not low <= port <= high, f"{port} is inside the ephemeral range {low}-{high}"
        assert port_is_free(port)
    with socket.socket() as server:
        server.bind(("127.0.0.1", ports[0]))
        server.listen()


def test_the_range_is_read_from_the_kernel_or_defaults(tmp_path: Path) -> None:
    configured = tmp_path / "range"
    configured.write_text("40000\t50000\n")
    assert ephemeral_range(configured) == (40000, 50000)
    assert ephemeral_range(tmp_path / "missing") == (32768, 60999)


def test_candidates_take_the_larger_side_of_the_range() -> None:
    assert ports_outside((32768, 60999)) == range(LOWEST_TEST_PORT, 32768)
    assert ports_outside((16000, 30000)) == range(30001, 65536)
    assert len(ports_outside((1024, 65535))) == 0  # nothing outside: free_port falls back to the kernel
