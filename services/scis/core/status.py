"""The one vocabulary of a live session's status (live_sessions.status, the API, the bus, the operator).

Every writer (the capture pipeline, the evidence chain) writes a `SessionStatus`; every reader (the
lives list, the dashboard counts, the analyser's monitors, the LiveMonitor phase map in
`scis.kube.progress`) reads the attributes below instead of listing statuses by hand.

Adding a status is one member line here (its value, whether a capture in it is still running, the
LiveMonitor phase a capture in it reports) plus a migration that widens the CHECK constraint on
live_sessions.status (tests/core/test_status.py fails until both agree).
"""

from __future__ import annotations

from enum import StrEnum


class SessionStatus(StrEnum):
    # name       value        running  LiveMonitor phase reported (scis.kube.progress.CAPTURE_PHASES)
    WAITING = "waiting", True, "Waiting"  # the target is offline: polling until it goes live (no session yet)
    STARTING = "starting", True, "Connecting"  # looking the room up, connecting
    LIVE = "live", True, "Live"  # recording the live
    ENDED = "ended", False, "Ended"  # the host ended the live, or the source ran out
    STOPPED = "stopped", False, "Ended"  # stopped on request (API, signal)
    OFFLINE = "offline", False, "Offline"  # the target was not live
    NOT_FOUND = "not_found", False, "Offline"  # no such account
    PRIVATE = "private", False, "Offline"  # a private live
    BLOCKED = "blocked", False, "Offline"  # not shown in the capture's country
    FAILED = "failed", False, "Ended"  # the capture failed (the operator decides Failed from the exit code)

    active: bool
    phase: str

    def __new__(cls, value: str, active: bool, phase: str) -> SessionStatus:
        member = str.__new__(cls, value)
        member._value_ = value
        member.active = active
        member.phase = phase
        return member

    @classmethod
    def active_values(cls) -> list[str]:
        """The statuses of captures still running, as the strings stored in live_sessions.status."""
        return [status.value for status in cls if status.active]

    @property
    def final(self) -> bool:
        return not self.active
