"""`scis monitor @HANDLE --case ID`: a capture with a live progress line; Ctrl-C stops it losing nothing.

`--wait`: an offline target is polled (SCIS_WAIT_POLL_SECONDS, jitter, backoff) and captured when it
goes live; `--again`: after the live ends, wait for the next one (each live is its own session) until
Ctrl-C/SIGTERM. The closing line adds the counters up over every attempt.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from scis.capture.cli import add_capture_arguments, execute
from scis.capture.pipeline import LiveCapture
from scis.capture.runner import EXIT_NOT_FOUND, EXIT_OFFLINE, EXIT_OK, EXIT_USAGE
from scis.capture.stats import CaptureStats
from scis.capture.targets import InvalidTarget, parse_target
from scis.capture.waiting import wait_until_live_or_signal
from scis.core.settings import SettingsError, load_settings
from scis.core.status import SessionStatus
from scis.webcast.room import UserNotFound

KIND_ORDER = ("chat", "gift", "like", "join", "follow", "share", "viewers")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="@handle or live URL")
    add_capture_arguments(parser, target_flag=False)
    parser.add_argument(
        "--case", dest="case_id", type=int, default=argparse.SUPPRESS, help="case the capture belongs to (= --case-id)"
    )
    parser.add_argument("--wait", action="store_true", help="if the target is offline, wait until it goes live")
    parser.add_argument("--again", action="store_true", help="with --wait: after a live ends, wait for the next")


def progress_line(stats: CaptureStats, rate: float) -> str:
    kinds = sorted(
        stats.events_by_kind.items(), key=lambda kv: (KIND_ORDER.index(kv[0]) if kv[0] in KIND_ORDER else 99, kv[0])
    )
    by_kind = " ".join(f"{kind} {count}" for kind, count in kinds) or "no events yet"
    viewers = f"{stats.viewers:,}" if stats.viewers is not None else "?"
    extra = []
    if stats.gaps:
        extra.append(f"gaps {stats.gaps}")
    if stats.malformed:
        extra.append(f"malformed {stats.malformed}")
    if stats.spilled:
        extra.append(f"spilled {stats.spilled}")
    tail = (" | " + " ".join(extra)) if extra else ""
    return (
        f"@{stats.target} {stats.status} | {stats.events_total} events ({rate:.1f}/s) | {by_kind} | "
        f"viewers {viewers}{tail}"
    )


class ProgressPrinter:
    """Rewrites one line on a terminal; prints a line every few seconds otherwise."""

    def __init__(self, stream: TextIO = sys.stdout, every_seconds: float = 5.0) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every_seconds = every_seconds
        self._last = (time.monotonic(), 0)
        self._printed_at = 0.0
        self.last: CaptureStats | None = None  # the capture's counters at the latest tick
        self.stop_requested = False  # SIGTERM/Ctrl-C reached the capture

    def __call__(self, capture: LiveCapture) -> None:
        self.last = capture.stats
        self.stop_requested = capture.stop_requested
        now = time.monotonic()
        then, count = self._last
        rate = (capture.stats.events_total - count) / max(1e-6, now - then)
        self._last = (now, capture.stats.events_total)
        line = progress_line(capture.stats, rate)
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            if capture.done.is_set():
                self.stream.write("\n")
        elif now - self._printed_at >= self.every_seconds or capture.done.is_set():
            self._printed_at = now
            self.stream.write(line + "\n")
        self.stream.flush()


@dataclass
class Attempts:
    """What the waiting monitor captured over all its attempts (each live is one session)."""

    sessions: list[str] = field(default_factory=list)
    events: int = 0
    gaps: int = 0
    last_status: SessionStatus | None = None

    def add(self, stats: CaptureStats) -> None:
        self.sessions.append(str(stats.session_id))
        self.events += stats.events_total
        self.gaps += stats.gaps
        self.last_status = stats.status

    def line(self, target: str) -> str:
        return f"@{target}: {len(self.sessions)} lives captured, {self.events} events, {self.gaps} gaps in all"


def run_waiting(args: argparse.Namespace, stream: TextIO = sys.stderr) -> int:
    try:
        target = parse_target(args.target)
        load_settings()
    except (InvalidTarget, SettingsError) as error:
        print(f"scis monitor: {error}", file=stream)
        return EXIT_USAGE
    attempts = Attempts()
    code = EXIT_OK
    while True:
        try:
            live = asyncio.run(wait_until_live_or_signal(target, load_settings(), stream))
        except UserNotFound as error:
            print(f"scis monitor: {error}", file=stream)
            return EXIT_NOT_FOUND
        if not live:
            break
        args.session_id = None  # every live is a session of its own
        printer = ProgressPrinter()
        code = execute(args, args.target, on_tick=printer)
        if printer.last is not None and printer.last.status is not SessionStatus.OFFLINE:
            attempts.add(printer.last)
        stopped = printer.stop_requested or attempts.last_status is SessionStatus.STOPPED
        if code not in (EXIT_OK, EXIT_OFFLINE) or stopped or (code == EXIT_OK and not args.again):
            break
    print(attempts.line(target), file=stream, flush=True)
    return EXIT_OK if code == EXIT_OFFLINE else code


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=os.environ.get("SCIS_LOG_LEVEL", "WARNING"), format="%(levelname)s %(message)s")
    if args.again and not args.wait:
        print("scis monitor: --again needs --wait", file=sys.stderr)
        return EXIT_USAGE
    if args.wait:
        return run_waiting(args)
    return execute(args, args.target, on_tick=ProgressPrinter())


def main() -> None:
    parser = argparse.ArgumentParser(prog="scis monitor", description=__doc__)
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
