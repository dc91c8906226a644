"""The LiveMonitor CRD: good samples pass, bad ones fail for the reason they say, the schema is structural."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.crd_validation import crd, crd_schema, validation_errors
from tests.k8s.emulator import ROOT

GOOD = sorted((ROOT / "k8s" / "samples").glob("*.yaml"))
BAD = sorted((Path(__file__).parent / "bad-samples").glob("*.yaml"))


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_samples_are_accepted(path: Path) -> None:
    sample = yaml.safe_load(path.read_text())
    assert validation_errors(sample) == []


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_samples_are_refused(path: Path) -> None:
    sample = yaml.safe_load(path.read_text())
    assert validation_errors(sample), f"{path.name} should be refused: {path.read_text().splitlines()[0]}"


def test_there_are_samples_of_both_kinds() -> None:
    assert len(GOOD) >= 3 and len(BAD) >= 8


def _walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, schema)]
    for key, child in (schema.get("properties") or {}).items():
        found += _walk(child, f"{path}.{key}")
    if isinstance(schema.get("items"), dict):
        found += _walk(schema["items"], f"{path}[]")
    return found


def test_schema_is_structural_and_described() -> None:
    for path, node in _walk(crd_schema()):
        if path in (".apiVersion", ".kind", ".metadata"):
            continue
        assert "type" in node or node.get("x-kubernetes-int-or-string"), f"{path or '<root>'} has no type"
        if path.startswith((".spec", ".status")):
            assert node.get("description"), f"{path} has no description"


def test_printer_columns_are_described() -> None:
    version = crd()["spec"]["versions"][0]
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert set(columns) == {"Target", "Phase", "Ready", "Events", "Sessions", "Viewers", "Age"}
    assert "Waiting" in columns["Phase"]["description"]
    assert columns["Events"]["jsonPath"] == ".status.eventsCaptured", "Events add up over every attempt"
    assert all(c.get("description") for c in columns.values())
    assert version["subresources"] == {"status": {}}
    assert crd()["spec"]["names"]["shortNames"] == ["lm"]


def test_status_written_by_the_operator_passes_the_schema() -> None:
    sample = yaml.safe_load((ROOT / "k8s" / "samples" / "livemonitor-websocket.yaml").read_text())
    sample["status"] = {
        "phase": "Live",
        "observedGeneration": 1,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Live",
                "message": "ok",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
        "pod": "demo-websocket-capture-0",
        "attempts": 1,
        "restarts": 0,
        "eventsCaptured": 10,
        "viewers": 3,
        "lastEventAt": "2026-01-01T00:00:01Z",
        "chainHead": "ab" * 32,
        "gaps": 0,
        "nextAttemptAt": "2026-01-01T00:00:01.250Z",
        "progress": {
            "pod": "demo-websocket-capture-0",
            "phase": "Live",
            "eventsCaptured": 10,
            "gaps": 0,
            "reportedAt": "2026-01-01T00:00:02Z",
        },
    }
    assert validation_errors(sample) == []
    sample["status"]["phase"] = "Sleeping"
    assert validation_errors(sample)
