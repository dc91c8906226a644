"""`make images`: every target of images/Dockerfile built with buildah (no daemon), then each size.

    python -m images.build [--target NAME ...] [--dir DIR]

No registry is needed: the Python base is Debian bookworm from debootstrap (cached under DIR) plus
Debian's python3, and the Node base used only to build the web UI is that base plus this machine's
Node. pip and npm reach their registries through this machine's CA file, mounted read-only into the
RUN steps by this script only, never written into an image (docs/decisions/903).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "images" / "Dockerfile"
TARGETS = ("python", "analyser", "frontend", "operator")
DEFAULT_DIR = Path(os.environ.get("SCIS_IMAGES_DIR", "/var/tmp/scis-images"))
HOST_CA = Path(os.environ.get("SCIS_IMAGES_CA_FILE", "/etc/ssl/certs/ca-certificates.crt"))
DEBIAN_MIRROR = os.environ.get("SCIS_IMAGES_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEBIAN_SECURITY_MIRROR = os.environ.get("SCIS_IMAGES_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"  # apt depends on debian-archive-keyring
# Where the base's apt sources go (deb822, as Debian's own images); debootstrap's one-line
# /etc/apt/sources.list (bookworm main, no updates, no security) is removed.
APT_SOURCES_IN_IMAGE = "/etc/apt/sources.list.d/debian.sources"
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates", "passwd")
# As Debian's slim images: no manuals, docs or translations from any later apt-get install either.
DPKG_EXCLUDES = """path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
"""
BASE_CLEANUP = (
    "rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/log/apt/* /var/log/dpkg.log"
    " && find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete"
    " && find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +"
    " && rm -rf /usr/share/man/* /usr/share/info/* /usr/share/lintian/*"
)
# Where the mounted build-machine files appear inside RUN steps (the image keeps Debian's own CA bundle).
CA_IN_BUILD = "/etc/ssl/certs/ca-certificates.crt"
PIP_CONF_IN_BUILD = "/etc/pip.conf"
NPMRC_IN_BUILD = "/usr/etc/npmrc"


class BuildError(Exception):
    pass


@dataclass(frozen=True)
class Buildah:
    """buildah with vfs storage under one directory (no daemon, no overlay mounts, chroot isolation)."""

    root: Path

    def command(self, *args: str) -> list[str]:
        return [
            "buildah",
            "--storage-driver",
            "vfs",
            "--root",
            str(self.root / "storage"),
            "--runroot",
            str(self.root / "run"),
            *args,
        ]

    def run(self, *args: str, quiet: bool = False) -> str:
        result = subprocess.run(self.command(*args), capture_output=quiet, text=True)
        if result.returncode != 0:
            detail = f": {result.stderr.strip()[-2000:]}" if quiet else ""
            raise BuildError(f"buildah {' '.join(args[:2])} failed with exit {result.returncode}{detail}")
        return result.stdout if quiet else ""

    def output(self, *args: str) -> str:
        return self.run(*args, quiet=True)

    def image_exists(self, name: str) -> bool:
        return subprocess.run(self.command("inspect", "--type", "image", name), capture_output=True).returncode == 0

    def inspect(self, name: str) -> dict:
        return json.loads(self.output("inspect", "--type", "image", name))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Layer:
    created_by: str
    size: int


def image_name(target: str) -> str:
    return f"localhost/scis-{target}:dev"


def layers(buildah: Buildah, image: str) -> list[Layer]:
    """The image's layers with their uncompressed sizes, each named by the instruction that made it."""
    info = buildah.inspect(image)
    history = [h for h in info["OCIv1"].get("history", []) if not h.get("empty_layer")]
    digests = info["OCIv1"]["rootfs"]["diff_ids"]
    sizes = [layer_size(buildah, digest) for digest in digests]
    named = [h.get("created_by", "?") for h in history] if len(history) == len(sizes) else ["?"] * len(sizes)
    return [Layer(created_by=" ".join(name.split())[:160], size=size) for name, size in zip(named, sizes, strict=True)]


def layer_size(buildah: Buildah, diff_id: str) -> int:
    layers_file = buildah.root / "storage" / "vfs-layers" / "layers.json"
    for layer in json.loads(layers_file.read_text()):
        if layer.get("diff-digest") == diff_id:
            return int(layer.get("diff-size", 0))
    return 0


def image_size(buildah: Buildah, image: str) -> int:
    return sum(layer.size for layer in layers(buildah, image))


def apt_sources(mirror: str = DEBIAN_MIRROR, security_mirror: str = DEBIAN_SECURITY_MIRROR) -> str:
    """The base's apt sources: bookworm and bookworm-updates from ``mirror`` and bookworm-security from
    ``security_mirror``, so that every later apt-get install (Chromium, tini, Pango…) and the base's
    own upgrade take Debian's security updates."""
    return (
        f"Types: deb\nURIs: {mirror}\nSuites: bookworm bookworm-updates\nComponents: main\n"
        f"Signed-By: {DEBIAN_KEYRING}\n\n"
        f"Types: deb\nURIs: {security_mirror}\nSuites: bookworm-security\nComponents: main\n"
        f"Signed-By: {DEBIAN_KEYRING}\n"
    )


def base_recipe() -> str:
    """Everything the base image is made of: its name changes (and it is rebuilt) when any of it does."""
    parts = ["bookworm minbase", DEBIAN_MIRROR, apt_sources(), *BASE_PACKAGES, DPKG_EXCLUDES, BASE_CLEANUP, "v2"]
    return "\n".join(parts)


def base_image_name() -> str:
    return f"localhost/scis-python-base:{hashlib.sha256(base_recipe().encode()).hexdigest()[:12]}"


def debootstrap(work: Path) -> Path:
    """bookworm minbase root file system, made once and kept under the build directory."""
    rootfs = work / "rootfs"
    if (rootfs / "etc" / "debian_version").exists() and (rootfs / "usr" / "bin" / "apt-get").exists():
        return rootfs
    if shutil.which("debootstrap") is None:
        raise BuildError("debootstrap is missing: apt-get install debootstrap buildah")
    partial = work / "rootfs.tmp"
    shutil.rmtree(partial, ignore_errors=True)
    print(f"debootstrap --variant=minbase bookworm {partial}", flush=True)
    subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(partial), DEBIAN_MIRROR], check=True)
    partial.rename(rootfs)
    return rootfs


def build_python_base(buildah: Buildah, work: Path) -> str:
    """The stand-in for python:3.11-slim-bookworm: debootstrapped bookworm plus Debian's Python 3.11."""
    name = base_image_name()
    if buildah.image_exists(name):
        return name
    rootfs = debootstrap(work)
    container = buildah.output("from", "scratch").strip()
    try:
        buildah.run("copy", container, f"{rootfs}/", "/")
        dpkg_conf = work / "01-scis-slim"
        dpkg_conf.write_text(DPKG_EXCLUDES)
        buildah.run("copy", container, str(dpkg_conf), "/etc/dpkg/dpkg.cfg.d/01-scis-slim")
        sources = work / "debian.sources"
        sources.write_text(apt_sources())
        buildah.run("copy", container, str(sources), APT_SOURCES_IN_IMAGE)
        install = (
            "rm -f /etc/apt/sources.list && apt-get update -qq"
            " && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq >/dev/null"
            " && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
            + " ".join(BASE_PACKAGES)
            + " >/dev/null && "
            + BASE_CLEANUP
        )
        buildah.run("run", "--isolation", "chroot", container, "--", "/bin/sh", "-c", install)
        buildah.run(
            "config",
            "--env",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--env",
            "LANG=C.UTF-8",
            "--cmd",
            "python3",
            container,
        )
        buildah.run("commit", "--quiet", "--rm", container, name)
    except BaseException:
        subprocess.run(buildah.command("rm", container), capture_output=True)
        raise
    return name


def build_node_base(buildah: Buildah, python_base: str) -> str:
    """Node for the web UI's build stage only: the base plus this machine's Node 20 and npm."""
    node = shutil.which("node")
    if node is None:
        raise BuildError("node is missing: the frontend image's web build needs Node 20 on this machine")
    node_path = Path(node).resolve()
    npm_dir = node_path.parent.parent / "lib" / "node_modules" / "npm"
    version = subprocess.run([str(node_path), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    name = f"localhost/scis-node-base:{version.lstrip('v')}-{python_base.rsplit(':', 1)[1]}"
    if buildah.image_exists(name):
        return name
    container = buildah.output("from", python_base).strip()
    try:
        buildah.run("copy", container, str(node_path), "/usr/bin/node")
        buildah.run("copy", container, f"{npm_dir}/", "/usr/lib/node_modules/npm/")
        buildah.run(
            "run", "--isolation", "chroot", container, "--",
            "ln", "-s", "../lib/node_modules/npm/bin/npm-cli.js", "/usr/bin/npm",
        )  # fmt: skip
        buildah.run("commit", "--quiet", "--rm", container, name)
    except BaseException:
        subprocess.run(buildah.command("rm", container), capture_output=True)
        raise
    return name


def build_mounts(work: Path) -> list[str]:
    """This machine's CA and the pip/npm configuration naming it, read-only in every RUN step."""
    if not HOST_CA.exists():
        raise BuildError(f"CA file {HOST_CA} not found; set SCIS_IMAGES_CA_FILE")
    pip_conf = work / "pip.conf"
    pip_conf.write_text(f"[global]\ncert = {CA_IN_BUILD}\n")
    npmrc = work / "npmrc"
    npmrc.write_text(f"cafile={CA_IN_BUILD}\n")
    return [
        "-v", f"{HOST_CA}:{CA_IN_BUILD}:ro",
        "-v", f"{pip_conf}:{PIP_CONF_IN_BUILD}:ro",
        "-v", f"{npmrc}:{NPMRC_IN_BUILD}:ro",
    ]  # fmt: skip


def build_target(buildah: Buildah, target: str, python_base: str, node_base: str, mounts: list[str]) -> float:
    started = time.monotonic()
    buildah.run(
        "bud",
        "--isolation", "chroot",
        "--layers",
        "--build-arg", f"PYTHON_IMAGE={python_base}",
        "--build-arg", f"NODE_IMAGE={node_base}",
        *mounts,
        "-f", str(DOCKERFILE),
        "--target", target,
        "-t", image_name(target),
        str(REPO),
    )  # fmt: skip
    return time.monotonic() - started


def megabytes(size: int) -> float:
    return round(size / 1_000_000, 1)


def report(buildah: Buildah, target: str) -> dict[str, object]:
    image_layers = layers(buildah, image_name(target))
    heaviest = max(image_layers, key=lambda layer: layer.size)
    return {
        "target": target,
        "image": image_name(target),
        "size_mb": megabytes(sum(layer.size for layer in image_layers)),
        "heaviest_layer_mb": megabytes(heaviest.size),
        "heaviest_layer": heaviest.created_by,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m images.build", description=__doc__.splitlines()[0])
    parser.add_argument("--target", action="append", choices=TARGETS, help="build only this target (repeatable)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"build directory (default {DEFAULT_DIR})")
    parser.add_argument("--sizes-only", action="store_true", help="report the sizes of images already built")
    parser.add_argument("--base-only", action="store_true", help="build only the Python base image and print its name")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("buildah") is None:
        print("buildah is missing: apt-get install buildah debootstrap", file=sys.stderr)
        return 1
    work = args.dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    buildah = Buildah(work)
    targets = args.target or list(TARGETS)
    try:
        if args.base_only:
            print(build_python_base(buildah, work))
            return 0
        if not args.sizes_only:
            python_base = build_python_base(buildah, work)
            node_base = build_node_base(buildah, python_base) if "frontend" in targets else python_base
            mounts = build_mounts(work)
            for target in targets:
                seconds = build_target(buildah, target, python_base, node_base, mounts)
                print(f"built {image_name(target)} in {seconds:.0f} s", flush=True)
        for target in targets:
            row = report(buildah, target)
            print(
                f"{row['image']}: {row['size_mb']} MB; heaviest layer {row['heaviest_layer_mb']} MB"
                f" ({row['heaviest_layer']})"
            )
    except BuildError as error:
        print(f"make images: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
