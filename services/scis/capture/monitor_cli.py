"""`scis monitor @HANDLE --case ID`: a capture with a live progress line; Ctrl-C stops it losing nothing."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import TextIO

from scis.capture.cli import add_capture_arguments, execute
from scis.capture.pipeline import LiveCapture
from scis.capture.stats import CaptureStats

KIND_ORDER = ("chat", "gift", "like", "join", "follow", "share", "viewers")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="@handle or live URL")
    add_capture_arguments(parser, target_flag=False)
    parser.add_argument(
        "--case", dest="case_id", type=int, default=argparse.SUPPRESS, help="case the capture belongs to (= --case-id)"
    )


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

    def __call__(self, capture: LiveCapture) -> None:
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


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=os.environ.get("SCIS_LOG_LEVEL", "WARNING"), format="%(levelname)s %(message)s")
    return execute(args, args.target, on_tick=ProgressPrinter())


def main() -> None:
    parser = argparse.ArgumentParser(prog="scis monitor", description=__doc__)
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
