"""The apt sources `make images` writes into its debootstrapped base (issue 14): bookworm-security is
among them, so Chromium and every other package the images install take Debian's security updates.

Checked by this machine's own apt: it parses the generated file and lists what `apt-get update` would
fetch (``--print-uris``: nothing is downloaded).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from images.build import apt_sources, base_recipe


def apt_update_uris(sources: str, tmp_path: Path) -> list[str]:
    """The index URIs apt would fetch for ``sources`` alone (the host's own sources left out)."""
    apt_get = shutil.which("apt-get")
    assert apt_get is not None, "apt-get is missing: these tests need a Debian machine, as `make images` does"
    parts, lists = tmp_path / "sources.list.d", tmp_path / "lists"
    (lists / "partial").mkdir(parents=True)
    parts.mkdir()
    (parts / "debian.sources").write_text(sources)
    done = subprocess.run(
        [
            apt_get, "update", "--print-uris",
            "-o", "Dir::Etc::SourceList=/dev/null",
            "-o", f"Dir::Etc::SourceParts={parts}",
            "-o", f"Dir::State::Lists={lists}",
            "-o", "Debug::NoLocking=1",
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "W:" not in done.stderr and "E:" not in done.stderr, done.stderr
    return [line.split("'")[1] for line in done.stdout.splitlines() if line.startswith("'")]


def test_base_sources_include_bookworm_security_updates_and_main(tmp_path: Path) -> None:
    uris = apt_update_uris(apt_sources(), tmp_path)
    assert "http://deb.debian.org/debian/dists/bookworm/InRelease" in uris
    assert "http://deb.debian.org/debian/dists/bookworm-updates/InRelease" in uris
    assert "http://deb.debian.org/debian-security/dists/bookworm-security/InRelease" in uris
    security_packages = "http://deb.debian.org/debian-security/dists/bookworm-security/main/binary-"
    assert [uri for uri in uris if uri.startswith(security_packages) and "/Packages" in uri]


def test_mirrors_are_the_builders_choice(tmp_path: Path) -> None:
    mirror, security_mirror = "http://mirror.example/debian", "http://mirror.example/debian-security"
    uris = apt_update_uris(apt_sources(mirror, security_mirror), tmp_path)
    assert f"{mirror}/dists/bookworm/InRelease" in uris
    assert f"{mirror}/dists/bookworm-updates/InRelease" in uris
    assert f"{security_mirror}/dists/bookworm-security/InRelease" in uris
    assert not [uri for uri in uris if "deb.debian.org" in uri]


def test_the_base_is_rebuilt_when_its_sources_change() -> None:
    # The cached base is named by its recipe: an image built before security sources were added
    # (or with another mirror) is not reused.
    assert apt_sources() in base_recipe()
