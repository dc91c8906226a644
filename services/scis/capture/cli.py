"""`scis capture`: capture one live into the evidence store (the process a LiveMonitor Pod runs).

Every flag can also come from the environment (SCIS_CAPTURE_TARGET, SCIS_CAPTURE_CASE_ID,
SCIS_CAPTURE_SOURCE, SCIS_CAPTURE_REPLAY_FILE, SCIS_CAPTURE_SESSION_ID, SCIS_CAPTURE_RECORD_FILE,
SCIS_CAPTURE_VIDEO=1, SCIS_CAPTURE_WAIT=1).
`--wait`: an offline target is polled (scis.capture.waiting) and captured once it goes live; a
LiveMonitor's Pod reports phase Waiting meanwhile. SIGTERM while waiting: exit 0, nothing captured.
SIGTERM or Ctrl-C: everything received is stored and the chain sealed, then exit 0.
Exit status: 0 ended or stopped, 1 failed, 2 bad arguments (or a sealed --session-id), 3 not live,
4 no such user, 5 private or not available in this country, 6 already being captured elsewhere
(the message names the running capture: session, holder, pid, host, since when), 7 stopped while
PostgreSQL took nothing for SCIS_CAPTURE_STOP_TIMEOUT_SECONDS: not sealed, everything received kept
in the session's spill folder for the next capture of the target (or --session-id) to store and seal.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from scis.capture.leases import CaptureBusy
from scis.capture.pipeline import CaptureRequest, LiveCapture
from scis.capture.runner import (
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    CaptureUsageError,
    exit_code_of,
    progress_reporter,
    run_capture_process,
)
from scis.capture.sources.factory import SOURCE_KINDS, build_source
from scis.capture.targets import InvalidTarget, parse_target
from scis.capture.waiting import wait_until_live_or_signal
from scis.core.connections import NoDatabase, resolve_database_url, resolve_redis_url
from scis.core.settings import Settings, SettingsError, load_settings
from scis.evidence.chain import SessionSealed
from scis.evidence.media import media_store
from scis.webcast.room import UserNotFound

log = logging.getLogger(__name__)


def _env(name: str) -> str | None:
    return os.environ.get(f"SCIS_CAPTURE_{name}") or None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_capture_arguments(parser, target_flag=True)
    parser.add_argument("--session-id", default=_env("SESSION_ID"), help="UUID of the session (default: a new one)")
    parser.add_argument(
        "--wait",
        action="store_true",
        default=_env("WAIT") in ("1", "true", "yes"),
        help="if the target is offline, poll it and capture once it goes live (phase Waiting in a LiveMonitor)",
    )


def add_capture_arguments(parser: argparse.ArgumentParser, *, target_flag: bool) -> None:
    if target_flag:
        parser.add_argument("--target", default=_env("TARGET"), help="@handle or live URL")
    parser.add_argument("--case-id", type=int, default=_env("CASE_ID"), help="case the capture belongs to")
    parser.add_argument("--source", choices=SOURCE_KINDS, default=_env("SOURCE") or "websocket")
    parser.add_argument("--replay-file", type=Path, default=_env("REPLAY_FILE"), help="capture file (--source replay)")
    parser.add_argument(
        "--record-file", type=Path, default=_env("RECORD_FILE"), help="also record every raw frame here"
    )
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SCIS_DATABASE_URL or the local stack)")
    parser.add_argument("--redis-url", help="Redis URL for live events (default: SCIS_REDIS_URL or the local stack)")
    parser.add_argument(
        "--video",
        action="store_true",
        default=_env("VIDEO") in ("1", "true", "yes"),
        help="record the live's video too: hashed segments in the chain, kept in SCIS_VIDEO_STORE",
    )


def prepare(args: argparse.Namespace, target: str | None) -> tuple[CaptureRequest, Settings, str, str | None]:
    """Validated request, settings and connection URLs; CaptureUsageError names what is wrong."""
    if not target:
        raise CaptureUsageError("--target is required (or SCIS_CAPTURE_TARGET)")
    try:
        handle = parse_target(target)
    except InvalidTarget as error:
        raise CaptureUsageError(str(error)) from None
    try:
        session_id = uuid.UUID(args.session_id) if getattr(args, "session_id", None) else uuid.uuid4()
    except ValueError:
        raise CaptureUsageError(f"--session-id {args.session_id!r} is not a UUID") from None
    if args.source == "replay" and not args.replay_file:
        raise CaptureUsageError("--source replay needs --replay-file")
    try:
        settings = load_settings()
        database_url = resolve_database_url(settings, args.database_url)
    except (SettingsError, NoDatabase) as error:
        raise CaptureUsageError(str(error)) from None
    if args.video:
        try:
            media_store(settings)
        except ValueError as error:
            raise CaptureUsageError(f"--video: {error}") from None
    request = CaptureRequest(
        target=handle,
        source=args.source,
        session_id=session_id,
        case_id=int(args.case_id) if args.case_id is not None else None,
        created_by=os.environ.get("USER") or "system",
        record_path=args.record_file,
        video=bool(args.video),
    )
    return request, settings, database_url, resolve_redis_url(settings, args.redis_url)


def execute(
    args: argparse.Namespace, target: str | None, *, on_tick: Callable[[LiveCapture], None] | None = None
) -> int:
    try:
        request, settings, database_url, redis_url = prepare(args, target)
        source = build_source(request.source, request.target, settings, replay_file=args.replay_file)
        print(f"capturing @{request.target} ({request.source}) into session {request.session_id}", file=sys.stderr)
        stats = asyncio.run(
            run_capture_process(
                request, source, settings, database_url=database_url, redis_url=redis_url, on_tick=on_tick
            )
        )
    except (CaptureUsageError, SessionSealed) as error:
        print(f"scis capture: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CaptureBusy as busy:
        print(f"scis capture: refused: {busy}", file=sys.stderr)
        return EXIT_BUSY
    except asyncio.CancelledError:
        print("scis capture: stopped without sealing; run again with the same --session-id to resume", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"session {stats.session_id}: {stats.status} ({stats.status_reason}); {stats.events_total} events, "
        f"{stats.gaps} gaps; {stats.video_segments} video segments; chain head {stats.chain_head}",
        file=sys.stderr,
    )
    return exit_code_of(stats)


async def report_waiting() -> None:
    """Tell the LiveMonitor (if this runs in its Pod) that the capture waits for the live."""
    reporter = progress_reporter()
    if reporter is not None:
        await reporter.report(
            phase="Waiting", events_captured=0, viewers=None, last_event_at=None, chain_head=None, gaps=0
        )


def wait_then_execute(args: argparse.Namespace) -> int:
    """--wait: poll until the target is live, then capture it; 0 when stopped while waiting."""
    try:
        handle = parse_target(args.target or "")
        settings = load_settings()
    except (InvalidTarget, SettingsError) as error:
        print(f"scis capture: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        live = asyncio.run(wait_until_live_or_signal(handle, settings, sys.stderr, before=report_waiting))
    except UserNotFound as error:
        print(f"scis capture: {error}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if not live:
        print(f"@{handle}: stopped while waiting; nothing captured", file=sys.stderr)
        return EXIT_OK
    return execute(args, args.target)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=os.environ.get("SCIS_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(message)s")
    return wait_then_execute(args) if args.wait else execute(args, args.target)


def main() -> None:
    parser = argparse.ArgumentParser(prog="scis capture", description=__doc__)
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
