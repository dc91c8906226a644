"""The embedded gateway, as real nginx in front of a real service: the headers browsers get, request
ids a client chooses, and workers that are not root."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from scis.core.settings import Settings
from scis.embedded.gateway import CONTENT_SECURITY_POLICY, WORKER_USER, Gateway
from scis.embedded.ports import free_port, wait_for_port
from scis.serve import load_app
from tests.support.requirements import require


@pytest.fixture(scope="module")
def running_gateway(
    postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    """nginx on a free port, routing /api/dashboard/ to a dashboard served by uvicorn."""
    home = tmp_path_factory.mktemp("gateway-home")
    settings = Settings(
        database_url=postgres_url, redis_url=redis_url, home=home, gateway_port=free_port(),
        dashboard_port=free_port(),
    )  # fmt: skip
    server = uvicorn.Server(
        uvicorn.Config(load_app("dashboard", settings), host="127.0.0.1", port=settings.dashboard_port,
                       log_level="warning", lifespan="on")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    nginx = Gateway(settings, home)
    nginx.start()
    try:
        assert wait_for_port(settings.dashboard_port, timeout=60), "dashboard did not start"
        assert wait_for_port(settings.gateway_port, timeout=60), nginx.process.log_tail()
        assert nginx.process.pid is not None
        yield f"http://127.0.0.1:{settings.gateway_port}", nginx.process.pid
    finally:
        nginx.stop()
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def gateway(running_gateway: tuple[str, int]) -> str:
    return running_gateway[0]


SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.mark.parametrize("path", ["/healthz", "/api/dashboard/readyz", "/api/dashboard/cases", "/no/such/page"])
def test_every_answer_carries_the_security_headers(gateway: str, path: str) -> None:
    response = httpx.get(gateway + path, timeout=30)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, f"{path}: {name}"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    # Plain HTTP: no HSTS (it is sent when SCIS_PUBLIC_URL is https://, see the render test below).
    assert "strict-transport-security" not in response.headers
    # One copy each, even where the service answers too.
    assert len(response.headers.get_list("x-frame-options")) == 1


def test_hsts_is_sent_when_the_public_url_is_https(tmp_path: Path) -> None:
    from scis.embedded.gateway import render_config

    plain = render_config(Settings(home=tmp_path), tmp_path)
    tls = render_config(Settings(home=tmp_path, public_url="https://scis.example.org"), tmp_path)
    assert "Strict-Transport-Security" not in plain
    assert 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;' in tls


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("0123456789abcdef-client-id", True),
        ("bad id with spaces", False),
        ("x" * 200, False),
        ('inject","level":"error', False),
        ("short", False),
    ],
)
def test_the_gateway_keeps_only_well_formed_request_ids(gateway: str, sent: str, kept: bool) -> None:
    response = httpx.get(gateway + "/api/dashboard/readyz", headers={"x-request-id": sent}, timeout=30)
    echoed = response.headers["x-request-id"]
    if kept:
        assert echoed == sent
    else:
        assert echoed != sent and re.fullmatch(r"[0-9a-f]{32}", echoed), echoed


def test_workers_do_not_run_as_root(running_gateway: tuple[str, int]) -> None:
    import pwd

    require(os.geteuid() == 0, "only a gateway started as root drops to its worker user: run make test as root")

    _, master = running_gateway
    worker_uid = pwd.getpwnam(WORKER_USER).pw_uid
    workers = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if int(fields["PPid"]) == master:
            workers.append(int(fields["Uid"].split()[1]))  # effective uid
    assert workers, "no nginx worker found"
    assert set(workers) == {worker_uid}
    assert 0 not in workers


def test_api_docs_render_offline_under_the_gateways_csp(gateway: str) -> None:
    """Real Chromium opens the Swagger UI through nginx: it renders the API, nothing outside SCIS is
    requested, and the Content-Security-Policy blocks nothing the page needs."""
    require(Path("/usr/bin/chromium").exists(), "needs Chromium at /usr/bin/chromium: run make system-deps")
    from playwright.sync_api import sync_playwright

    foreign: list[str] = []
    console_errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("request", lambda r: None if r.url.startswith(gateway) else foreign.append(r.url))
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: console_errors.append(str(error)))
            page.goto(f"{gateway}/api/dashboard/docs", wait_until="networkidle", timeout=60_000)
            try:
                page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)
            except Exception:
                shown = page.inner_text("body")[:1500]
                raise AssertionError(f"the docs did not render: {console_errors} {shown}") from None
            title = page.inner_text(".swagger-ui .info .title")
            operations = page.locator(".opblock").count()
        finally:
            browser.close()
    assert "SCIS dashboard" in title, console_errors
    assert operations > 5
    assert foreign == []
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
