"""Socket.IO push of a case's news to its members: watchlist alerts as they are raised, report job progress.

A signed-in browser emits `watch_case` with `{"case_id": N}` (answered `{"ok": true, "room": "case:N"}`
to a member of the case or an admin, `{"ok": false, ...}` to anyone else) and then receives every
alert of that case as the Socket.IO event `alert` (the JSON of `AlertRead`), relayed from the bus
channel family `scis.core.bus.CASE_ALERTS` on which the profiles service's enricher announces the
alerts it committed. Alerts are in PostgreSQL first: a client that was away reads GET .../alerts.
The same room receives `report_job` (the JSON of `ReportJobRead`) each time a reports worker beats,
starts, finishes, fails or stops a job of the case (channel family `bus.CASE_REPORT_JOBS`); the
jobs stay readable from GET /api/reports/reports/jobs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from scis.core import bus

ALERT_NAME = "alert"
REPORT_JOB_NAME = "report_job"
# Each bus channel family of a case and the Socket.IO event its messages become.
RELAYS = {bus.CASE_ALERTS: ALERT_NAME, bus.CASE_REPORT_JOBS: REPORT_JOB_NAME}
# authorize_case(identity, case_id) -> allowed
AuthorizeCase = Callable[[Any, int], Awaitable[bool]]


def case_room(case_id: int) -> str:
    return f"case:{case_id}"


def case_id_of(data: Any) -> int | None:
    value = data.get("case_id") if isinstance(data, dict) else data
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        case_id = int(value)
    except ValueError:
        return None
    return case_id if 1 <= case_id < 2**63 else None


class CaseAlertFanout:
    def __init__(
        self, sio: socketio.AsyncServer, redis_url: str, *, authorize_case: AuthorizeCase, namespace: str = "/"
    ) -> None:
        self.sio = sio
        self.redis_url = redis_url
        self.namespace = namespace
        self.authorize_case = authorize_case
        self.forwarded = 0
        patterns = [family.pattern for family in RELAYS]
        self._follower = bus.Follower(redis_url, *patterns, handle=self._forward, what="case push")
        sio.on("watch_case", self._on_watch, namespace=namespace)
        sio.on("unwatch_case", self._on_unwatch, namespace=namespace)

    async def start(self) -> None:
        await self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    async def _on_watch(self, sid: str, data: Any) -> dict[str, Any]:
        case_id = case_id_of(data)
        if case_id is None:
            return {"ok": False, "error": "watch_case needs {'case_id': a case id}"}
        session = await self.sio.get_session(sid, namespace=self.namespace)
        if not await self.authorize_case(session.get("identity"), case_id):
            return {"ok": False, "error": f"no case {case_id} of yours"}
        await self.sio.enter_room(sid, case_room(case_id), namespace=self.namespace)
        return {"ok": True, "room": case_room(case_id)}

    async def _on_unwatch(self, sid: str, data: Any) -> dict[str, Any]:
        case_id = case_id_of(data)
        if case_id is None:
            return {"ok": False, "error": "unwatch_case needs {'case_id': a case id}"}
        await self.sio.leave_room(sid, case_room(case_id), namespace=self.namespace)
        return {"ok": True}

    async def _forward(self, channel: str, payload: Any) -> None:
        for family, event in RELAYS.items():
            key = family.key_of(channel)
            if key is not None and key.isdigit():
                await self.sio.emit(event, payload, room=case_room(int(key)), namespace=self.namespace)
                self.forwarded += 1
                return
