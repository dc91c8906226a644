"""WeasyPrint renders reports without reaching the network or the file system: only the report's own
assets (inline data, files in the report templates folder) load. Proven with a real listener that
counts every connection and a real PDF render."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from scis.embedded.ports import free_port
from scis.reports.service import ASSET_DIR, is_report_asset, render_pdf
from tests.services.conftest import auth
from tests.support.cases import make_case


class ConnectionCounter:
    """A TCP listener that counts who connects (an HTTP fetch, a stylesheet, a font, anything)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()


@pytest.fixture
def listener() -> Iterator[ConnectionCounter]:
    counter = ConnectionCounter()
    yield counter
    counter.close()


def hostile_html(port: int) -> str:
    url = f"http://127.0.0.1:{port}"
    return f"""<html><head>
<link rel="stylesheet" href="{url}/style.css">
<style>@import url("{url}/import.css"); @font-face {{ font-family: x; src: url("{url}/font.woff"); }}
body {{ background: url("{url}/bg.png"); font-family: x; }}</style>
</head><body>
<img src="{url}/pixel.png"><img src="file:///etc/passwd"><img src="file:///proc/self/environ">
<object data="{url}/object"></object><embed src="file:///etc/shadow"><iframe src="{url}/frame"></iframe>
<img src="../../../../../../etc/hostname">
<p>hostile report</p></body></html>"""


def test_rendering_fetches_nothing_outside_the_reports_assets(listener: ConnectionCounter) -> None:
    pdf = render_pdf(hostile_html(listener.port))
    assert pdf.startswith(b"%PDF")
    assert listener.connections == 0
    # The fetcher is really in use: the same HTML rendered by an unrestricted WeasyPrint connects.
    from weasyprint import HTML

    HTML(string=hostile_html(listener.port)).write_pdf()
    assert listener.connections > 0


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("data:image/png;base64,iVBORw0KGgo=", True),
        (ASSET_DIR.as_uri() + "/case_report.html.j2", True),
        ("file:///etc/passwd", False),
        (ASSET_DIR.as_uri() + "/../../../../../../etc/passwd", False),
        (ASSET_DIR.as_uri() + "/%2e%2e/%2e%2e/service.py", False),
        ("file://attacker.example/share/x.css", False),
        ("http://127.0.0.1/x.png", False),
        ("https://example.org/x.png", False),
        ("ftp://example.org/x", False),
    ],
)
def test_which_urls_are_report_assets(url: str, allowed: bool) -> None:
    assert is_report_asset(url) is allowed


async def test_a_hostile_case_title_fetches_nothing(
    clients: dict[str, httpx.AsyncClient],
    tokens: dict[str, str],
    accounts: dict[str, str],
    postgres_url: str,
    listener: ConnectionCounter,
) -> None:
    case_id = make_case(postgres_url, created_by=accounts["investigator"], members=[accounts["investigator"]])
    title = f'<img src="http://127.0.0.1:{listener.port}/t.png"><link rel=stylesheet href="file:///etc/passwd">'
    response = await clients["reports"].post(
        "/api/reports/reports", json={"case_id": case_id, "title": title}, headers=auth(tokens["investigator"])
    )
    assert response.status_code == 201, response.text
    pdf = await clients["reports"].get(
        f"/api/reports/reports/{response.json()['id']}/pdf", headers=auth(tokens["investigator"])
    )
    assert pdf.content.startswith(b"%PDF")
    assert listener.connections == 0
