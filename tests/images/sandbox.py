"""Run a process of a built image as Kubernetes would: uid 10001, read-only root, only /tmp writable.

`buildah run` has no --read-only, so the image's root file system (a vfs directory, from
`buildah mount`) is bind-mounted read-only in a private mount namespace, with a tmpfs on /tmp
(and /dev/shm), /proc, the host's /dev, and `chroot --userspec` to the image's user. The network
is the host's, so the process reaches PostgreSQL, Redis, the simulator and the emulator the test
started on loopback.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from images.build import Buildah

IMAGE_USER = "10001:10001"


@dataclass
class MountedImage:
    """A working container of an image, its root file system mounted on the host (removed on exit)."""

    buildah: Buildah
    image: str
    container: str = ""
    rootfs: Path = Path("/nonexistent")

    def __enter__(self) -> MountedImage:
        self.container = self.buildah.output("from", "--pull-never", "--quiet", self.image).strip()
        self.rootfs = Path(self.buildah.output("mount", self.container).strip())
        return self

    def __exit__(self, *_: Any) -> None:
        subprocess.run(self.buildah.command("umount", self.container), capture_output=True)
        subprocess.run(self.buildah.command("rm", self.container), capture_output=True)

    def config(self) -> dict[str, Any]:
        return self.buildah.inspect(self.image)["OCIv1"]["config"]  # type: ignore[no-any-return]

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(item.split("=", 1) for item in self.config().get("Env", []))
        env.update(extra)
        return env

    def sandbox_script(self, argv: Sequence[str], env: Mapping[str, str], files: Mapping[str, bytes]) -> str:
        root = shlex.quote(str(self.rootfs))
        lines = [
            "set -e",
            "mount --make-rprivate /",
            f"mount --bind {root} {root}",
            f"mount -o remount,bind,ro {root}",
            f"mount -t tmpfs -o mode=1777,size=512m tmpfs {root}/tmp",
            f"mount -t proc proc {root}/proc",
            f"mount --rbind /dev {root}/dev",
            f"mount -t tmpfs -o mode=1777,size=256m tmpfs {root}/dev/shm",
            f"mount --rbind /sys {root}/sys",
        ]
        for name, content in files.items():
            target = shlex.quote(f"{self.rootfs}/tmp/{name}")
            lines.append(f"printf %s {shlex.quote(content.decode())} > {target}")
            lines.append(f"chown {IMAGE_USER} {target}")
        assignments = " ".join(shlex.quote(f"{key}={value}") for key, value in env.items())
        command = " ".join(shlex.quote(arg) for arg in argv)
        lines.append(f"cd {root}/tmp")
        lines.append(f"exec chroot --userspec={IMAGE_USER} --groups= {root} /usr/bin/env -i {assignments} {command}")
        return "\n".join(lines)

    def popen(
        self, argv: Sequence[str], *, env: Mapping[str, str], files: Mapping[str, bytes] | None = None, log: Path
    ) -> subprocess.Popen[bytes]:
        script = self.sandbox_script(argv, env, files or {})
        with log.open("wb") as out:
            return subprocess.Popen(
                ["unshare", "--mount", "--pid", "--fork", "--mount-proc", "sh", "-c", script],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 120) -> str:
        script = self.sandbox_script(argv, env if env is not None else self.env(), {})
        result = subprocess.run(
            ["unshare", "--mount", "--pid", "--fork", "--mount-proc", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM the sandbox's process group, then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)


@contextlib.contextmanager
def running(
    image: MountedImage,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log: Path,
    files: Mapping[str, bytes] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    process = image.popen(argv, env=env, files=files, log=log)
    try:
        yield process
    finally:
        stop(process)
