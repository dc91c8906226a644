"""Child processes a test starts never outlive it: each is killed when its test ends (a root fixture)
and, through PR_SET_PDEATHSIG, when pytest itself dies (a suite timeout or a kill -9)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from typing import Any

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_spawned: list[asyncio.subprocess.Process] = []


def die_with_parent() -> None:
    """preexec_fn: the kernel kills the child when the process that started it exits."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


async def spawn_module(module: str, *args: str, env: dict[str, str], **options: Any) -> asyncio.subprocess.Process:
    """`python -m module args…` with pipes for stdout and stderr unless `options` say otherwise."""
    options.setdefault("stdout", asyncio.subprocess.PIPE)
    options.setdefault("stderr", asyncio.subprocess.PIPE)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, env=env, preexec_fn=die_with_parent, **options
    )
    _spawned.append(process)
    return process


def kill_spawned() -> None:
    """Kill whatever the finished test left running (asyncio's child watcher reaps it)."""
    while _spawned:
        process = _spawned.pop()
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
