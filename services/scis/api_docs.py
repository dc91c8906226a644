"""The OpenAPI documents of every API service, written without a server (the web UI's typed client is
generated from them): `python -m scis.api_docs DIR` writes DIR/<service>.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from scis.core.settings import SERVICE_NAMES, Settings

API_SERVICES = tuple(name for name in SERVICE_NAMES if name != "frontend")
# Building an app connects to nothing; these only satisfy the services that need a URL to be built.
_OFFLINE = Settings(database_url="postgresql://openapi@127.0.0.1:1/openapi", redis_url="redis://127.0.0.1:1/0")


def openapi_document(service: str) -> dict[str, Any]:
    from scis.serve import load_app

    return load_app(service, _OFFLINE).openapi()


def document_text(document: dict[str, Any]) -> str:
    """One stable text per document, so a committed copy compares byte for byte."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_documents(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for service in API_SERVICES:
        path = directory / f"{service}.json"
        path.write_text(document_text(openapi_document(service)))
        written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m scis.api_docs DIRECTORY")
    for written_path in write_documents(Path(sys.argv[1])):
        print(written_path)
