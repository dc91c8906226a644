"""The life of a LiveMonitor, as the operator reports it in ``status.phase``."""

from __future__ import annotations

import enum


class Phase(enum.StrEnum):
    PENDING = "Pending"  # no capture Pod yet: queued, scheduled for later, or backing off after a crash
    WAITING = "Waiting"  # the capture Pod polls the offline target until it goes live (spec.wait)
    CONNECTING = "Connecting"  # a capture Pod exists but has not reported the live yet
    LIVE = "Live"  # the capture reports it is recording the live
    OFFLINE = "Offline"  # the target was not live (capture exit code 3)
    ENDED = "Ended"  # the live ended or the capture was stopped cleanly
    FAILED = "Failed"  # the target does not exist, or the capture kept crashing

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_PHASES


TERMINAL_PHASES = frozenset({Phase.OFFLINE, Phase.ENDED, Phase.FAILED})


class Reason(enum.StrEnum):
    """The ``reason`` of the Ready condition and of the Kubernetes Events."""

    CREATED = "CaptureCreated"
    CONNECTING = "Connecting"
    LIVE = "Live"
    WAITING_FOR_LIVE = "WaitingForLive"
    WAITING_FOR_SCHEDULE = "WaitingForSchedule"
    CONCURRENCY_LIMIT = "ConcurrencyLimit"
    BACK_OFF = "BackOff"
    CRASHED = "CaptureCrashed"
    CRASH_LOOP = "CrashLoop"
    TARGET_OFFLINE = "TargetOffline"
    TARGET_NOT_FOUND = "TargetNotFound"
    TARGET_UNAVAILABLE = "TargetUnavailable"
    ENDED = "CaptureEnded"
    STOP_AFTER_ELAPSED = "StopAfterElapsed"
    SCHEDULE_ENDED = "ScheduleEnded"
    SPEC_CHANGED = "SpecChanged"
    STOPPING = "Stopping"


class ExitCode(enum.IntEnum):
    """Exit codes of ``scis capture`` that mean something other than a crash."""

    CLEAN = 0
    OFFLINE = 3
    NOT_FOUND = 4
    UNAVAILABLE = 5  # a private live, or one not shown in the capture's country
    PARKED = 7  # stopped while PostgreSQL was unreachable: unsealed, its events spilled for the next capture
