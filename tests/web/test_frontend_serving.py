"""The frontend service serves the built UI, lets the browser's router own app paths, and 404s the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from scis.core.settings import Settings
from scis.frontend.app import create_app


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>SCIS</title><div id=root></div>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('scis')")
    return tmp_path


@pytest.fixture
def client(dist: Path) -> TestClient:
    return TestClient(create_app(Settings(web_dist=dist)))


@pytest.mark.parametrize("path", ["/", "/cases/3", "/live/5b0c-uuid", "/sessions/x/y", "/audit"])
def test_app_paths_load_the_app(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert "<title>SCIS</title>" in response.text
    assert response.headers["cache-control"] == "no-cache"


def test_hashed_assets_are_served_and_cached_for_good(client: TestClient) -> None:
    response = client.get("/assets/index-abc123.js")
    assert response.status_code == 200 and "scis" in response.text
    assert "immutable" in response.headers["cache-control"]


NOT_APP_PATHS = ["/api/nothing", "/api/dashboard/missing", "/socket.io/x", "/assets/gone.js", "/favicon.ico"]


@pytest.mark.parametrize("path", NOT_APP_PATHS)
def test_api_paths_and_missing_files_stay_404_json(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert path in response.json()["detail"]


def test_no_path_escapes_the_build_folder(client: TestClient, dist: Path) -> None:
    (dist.parent / "secret.txt").write_text("not for the browser")
    assert "not for the browser" not in client.get("/..%2Fsecret.txt").text
    assert "not for the browser" not in client.get("/assets/..%2F..%2Fsecret.txt").text


def test_without_a_build_it_says_how_to_build(tmp_path: Path) -> None:
    client = TestClient(create_app(Settings(web_dist=tmp_path / "missing")))
    page = client.get("/cases/3").text
    assert "<title>SCIS</title>" in page and "not built yet" in page
    assert client.get("/healthz").json() == {"status": "ok", "service": "frontend"}
