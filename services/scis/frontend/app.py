"""The frontend server (3000): the built web UI (services/web/dist) with a single-page-app fallback,
plus health routes. Before the UI is built it serves a page that says how to build it."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from scis import __version__
from scis.core.observability import RequestContextMiddleware
from scis.core.settings import Settings

# services/scis/frontend/app.py -> services/web/dist (where `npm run build` writes)
WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
FALLBACK_DIR = Path(__file__).parent / "static"
# Paths that belong to the API or the live socket: never answered with the app's page.
NOT_APP_PREFIXES = ("api/", "socket.io/")


def web_root(dist: Path = WEB_DIST) -> Path:
    """The built UI when there is one, else the placeholder page."""
    return dist if (dist / "index.html").is_file() else FALLBACK_DIR


def is_app_path(path: str) -> bool:
    """A path the browser's router handles (/cases/3), as opposed to an API path or a missing file."""
    relative = path.lstrip("/")
    if relative.startswith(NOT_APP_PREFIXES) or relative in ("api", "socket.io"):
        return False
    # A missing asset (/assets/x.js, /favicon.ico) is a 404, not the app: its last part has a suffix.
    return "." not in relative.rsplit("/", 1)[-1]


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="SCIS frontend", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RequestContextMiddleware, service="frontend")
    root = web_root((settings.web_dist if settings else None) or WEB_DIST)
    index = root / "index.html"

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "frontend"}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready", "service": "frontend"}

    static = StaticFiles(directory=root, html=True)

    @app.get("/{path:path}", include_in_schema=False)
    async def web_ui(path: str, request: Request) -> object:
        candidate = (root / path).resolve()
        if path and candidate.is_relative_to(root.resolve()) and candidate.is_file():
            response = await static.get_response(path, request.scope)
            if path.startswith("assets/"):
                # Vite names every asset by its content hash: a new build is a new name.
                response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            return response
        if not path or is_app_path(path):
            # index.html names its hashed assets, so it must never be cached; the assets may be, forever.
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no such page or file: /{path}")

    return app
