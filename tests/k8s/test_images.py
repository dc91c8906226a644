"""The image definitions, read as text: no Docker engine runs here to build them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "images" / "Dockerfile"
TARGETS = {"python", "analyser", "frontend", "operator"}


def stages() -> dict[str, tuple[str, list[str]]]:
    """stage name -> (parent, instructions)."""
    found: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in DOCKERFILE.read_text().splitlines():
        if match := re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line):
            current = match.group(2)
            found[current] = (match.group(1), [])
        elif current and line.strip() and not line.startswith("#"):
            found[current][1].append(line.strip())
    return found


def effective(stage: str, table: dict[str, tuple[str, list[str]]]) -> list[str]:
    parent, lines = table[stage]
    return (effective(parent, table) if parent in table else []) + lines


def test_every_image_is_a_target_and_runs_as_non_root() -> None:
    table = stages()
    assert set(table) >= TARGETS
    for target in TARGETS:
        users = [line for line in effective(target, table) if line.startswith("USER ")]
        assert users and users[-1] == "USER 10001:10001", target


def test_analyser_uses_debians_chromium_and_never_downloads_browsers() -> None:
    table = stages()
    assert any("chromium" in line for line in effective("analyser", table))
    assert "playwright install" not in DOCKERFILE.read_text()


def test_dev_loop_and_e2e_build_every_target() -> None:
    for path in ("skaffold.yaml", "Tiltfile", "scripts/kind-e2e.sh"):
        text = (ROOT / path).read_text()
        for target in TARGETS:
            assert re.search(rf"target[:=]\s*'?{target}'?|--target {target}", text), f"{path} does not build {target}"
