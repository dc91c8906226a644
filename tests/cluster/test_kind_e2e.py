"""The whole platform on a real kind cluster (scripts/kind-e2e.sh), skipped where it cannot run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "kind-e2e.sh"

pytestmark = pytest.mark.cluster


def _missing() -> str | None:
    """The first thing the e2e run lacks, or None."""
    for tool in ("docker", "kind", "kubectl", "helm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    engine = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30)
    if engine.returncode != 0:
        return "no Docker engine answers (docker info failed)"
    return None


def test_livemonitor_goes_live_on_kind_and_cleans_up() -> None:
    missing = _missing()
    if missing:
        pytest.skip(f"kind e2e needs docker, kind, kubectl, helm and a Docker engine: {missing}")
    result = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=ROOT,
        env={**os.environ, "KEEP_CLUSTER": os.environ.get("KEEP_CLUSTER", "0")},
        capture_output=True,
        text=True,
        timeout=45 * 60,
        check=False,
    )
    assert result.returncode == 0, f"kind-e2e failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert "kind-e2e passed" in result.stdout
