"""The web UI's typed API client is generated from the services' OpenAPI documents; it must not go stale.

After changing an API: `make web-api` rewrites services/web/openapi/*.json and services/web/src/api/schema/*.ts.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from scis.api_docs import API_SERVICES, document_text, openapi_document
from tests.support.requirements import require

WEB = Path(__file__).resolve().parents[2] / "services" / "web"
GENERATOR = WEB / "node_modules" / ".bin" / "openapi-typescript"
FIX = "the web UI's API client is stale: run `make web-api` and commit services/web/openapi and src/api/schema"


@pytest.mark.parametrize("service", API_SERVICES)
def test_committed_openapi_documents_match_the_services(service: str) -> None:
    committed = WEB / "openapi" / f"{service}.json"
    assert committed.is_file(), FIX
    assert committed.read_text() == document_text(openapi_document(service)), f"{service}: {FIX}"


def test_generated_types_match_the_committed_documents(tmp_path: Path) -> None:
    require(
        GENERATOR.exists() and shutil.which("node") is not None,
        "the web UI's npm packages are not installed: run make web-deps",
    )
    for service in API_SERVICES:
        generated = tmp_path / f"{service}.ts"
        subprocess.run(
            [str(GENERATOR), str(WEB / "openapi" / f"{service}.json"), "-o", str(generated)],
            cwd=WEB, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        committed = WEB / "src" / "api" / "schema" / f"{service}.ts"
        assert generated.read_text() == committed.read_text(), f"{service}: {FIX}"
