"""API documentation that works offline: the Swagger UI served by each service, not from a CDN.

The assets come from the `swagger-ui-bundle-v2` wheel (Swagger UI 5, which reads the OpenAPI 3.1
FastAPI writes). The page runs no inline script (the gateway's Content-Security-Policy allows scripts
from SCIS itself only). SCIS_API_DOCS turns the page and the OpenAPI document off (off by default in
production).
"""

from __future__ import annotations

import json
from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path


def docs_url(service: str) -> str:
    return f"/api/{service}/docs"


def openapi_url(service: str) -> str:
    return f"/api/{service}/openapi.json"


def docs_page(title: str, assets: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/start.js"></script>
</body>
</html>
"""


def start_script(service: str) -> str:
    # validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
    options = {"url": openapi_url(service), "dom_id": "#swagger-ui", "validatorUrl": None, "deepLinking": True}
    return f"window.ui = SwaggerUIBundle({json.dumps(options)});\n"


def serve_api_docs(app: FastAPI, service: str) -> None:
    """GET /api/<service>/docs: the Swagger UI, its files from /api/<service>/docs/assets/."""
    assets = f"{docs_url(service)}/assets"

    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(docs_page(f"{app.title} API", assets))

    async def start() -> Response:
        return Response(start_script(service), media_type="text/javascript")

    # Routes first: the mount below would otherwise answer for start.js too.
    app.add_api_route(docs_url(service), swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{assets}/start.js", start, methods=["GET"], include_in_schema=False)
    app.mount(assets, StaticFiles(directory=swagger_ui_path), name=f"{service}-docs-assets")
