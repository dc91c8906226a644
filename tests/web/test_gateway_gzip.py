"""The gateway gzips the app's text assets, as real nginx in front of the real frontend service."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from scis.core.settings import Settings
from scis.embedded.gateway import Gateway
from scis.embedded.ports import free_port, wait_for_port
from scis.serve import load_app

# A script large enough to be worth compressing, and compressible as real bundles are.
SCRIPT = "export function feed(rows){return rows.map((row)=>row.seq)}\n" * 400


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nginx on a free port in front of the frontend service serving a small build."""
    home = tmp_path_factory.mktemp("gzip-home")
    dist = tmp_path_factory.mktemp("gzip-dist")
    (dist / "assets").mkdir()
    (dist / "index.html").write_text("<!doctype html><title>SCIS</title><div id=root></div>")
    (dist / "assets" / "index-abc123.js").write_text(SCRIPT)
    (dist / "assets" / "tiny-abc123.js").write_text("x=1")
    settings = Settings(home=home, web_dist=dist, gateway_port=free_port(), frontend_port=free_port())
    server = uvicorn.Server(
        uvicorn.Config(load_app("frontend", settings), host="127.0.0.1", port=settings.frontend_port,
                       log_level="warning")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    nginx = Gateway(settings, home)
    nginx.start()
    try:
        assert wait_for_port(settings.frontend_port, timeout=60), "the frontend did not start"
        assert wait_for_port(settings.gateway_port, timeout=60), nginx.process.log_tail()
        yield f"http://127.0.0.1:{settings.gateway_port}"
    finally:
        nginx.stop()
        server.should_exit = True
        thread.join(30)


def raw_get(url: str, accept_encoding: str) -> tuple[httpx.Response, bytes]:
    """The answer and its body as it crossed the network (httpx would otherwise decode it)."""
    headers = {"accept-encoding": accept_encoding}
    with httpx.Client(timeout=30) as client, client.stream("GET", url, headers=headers) as response:
        return response, b"".join(response.iter_raw())


def test_a_script_comes_back_gzipped_and_intact(gateway: str) -> None:
    response, wire = raw_get(gateway + "/assets/index-abc123.js", "gzip, deflate, br")
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    assert len(wire) < len(SCRIPT.encode()) / 5
    assert gzip.decompress(wire).decode() == SCRIPT
    # The service's caching and the gateway's security headers survive compression.
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_client_that_does_not_ask_gets_plain_bytes(gateway: str) -> None:
    response, wire = raw_get(gateway + "/assets/index-abc123.js", "identity")
    assert "content-encoding" not in response.headers
    assert wire.decode() == SCRIPT


def test_tiny_files_and_api_answers_are_not_compressed(gateway: str) -> None:
    assert "content-encoding" not in raw_get(gateway + "/assets/tiny-abc123.js", "gzip")[0].headers
    # API answers are never gzipped by the gateway (tokens beside caller input: BREACH); /api/nothing
    # reaches the frontend's JSON 404 through `location /`, JSON is not on the gzip list either.
    answer, _ = raw_get(gateway + "/api/nothing/" + "x" * 2000, "gzip")
    assert answer.status_code == 404
    assert "content-encoding" not in answer.headers
