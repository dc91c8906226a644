"""Render the chart offline with helm-python-sdk (Helm's own Go code, no binary, no cluster)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from tests.k8s.emulator import ROOT

CHART = ROOT / "charts" / "scis"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
KUBE_VERSION = "1.33.0"  # the Kubernetes version the rendered objects are validated against


def scenario_values(path: Path | None) -> dict[str, Any]:
    return {} if path is None else (yaml.safe_load(path.read_text()) or {})


def render(
    values: Mapping[str, Any] | None = None, *, release: str = "scis", namespace: str = "scis"
) -> dict[str, str]:
    with helm.Chart.load(CHART) as chart:
        return chart.render(values=dict(values or {}), name=release, namespace=namespace, is_install=True)


def objects(rendered: Mapping[str, str]) -> list[dict[str, Any]]:
    found = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                found.append(document)
    return found


def crds() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in sorted((CHART / "crds").glob("*.yaml"))]


def by_kind(found: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in found if o["kind"] == kind}
