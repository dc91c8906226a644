"""Fault-suite helpers: `scis capture` as a real process, and the figures every fault test prints and checks.

The figures of a target: messages the simulator sent, message ids stored across all its sessions,
duplicates among them, ids missing, ids a gap names as lost, gap records by reason. The checks
every fault test makes: 0 duplicates across sessions, every chain intact, no session left live
without a live lease.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from scis.capture.leases import is_stale
from scis.core.status import SessionStatus
from scis.evidence.records import CHAIN_KINDS
from scis.evidence.verify import verify_session
from scis.simulator import SimulatorServer
from tests.capture.support import live_ended_before_reconnect, stored_events, stored_msg_ids
from tests.support.processes import spawn_module


def capture_env(sim: SimulatorServer, home: Path, postgres_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SCIS_HOME=str(home), SCIS_DATABASE_URL=postgres_url, SCIS_REDIS_URL=redis_url,
        SCIS_TIKTOK_BASE_URL=sim.base_url, SCIS_WEBCAST_BASE_URL=sim.base_url, SCIS_WATCHDOG_SECONDS="5",
        SCIS_STREAK_TIMEOUT_SECONDS="0.5", SCIS_LOG_LEVEL="WARNING",
    )  # fmt: skip
    env.update(extra)
    return env


async def spawn_capture(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await spawn_module("scis.capture.cli", *args, env=env)


async def events_count(pool: AsyncConnectionPool[Any], target: str) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT coalesce(sum(events_count), 0) AS n FROM live_sessions WHERE lower(target) = %s", (target,)
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row["n"])


async def wait_stored(pool: AsyncConnectionPool[Any], target: str, at_least: int, seconds: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while await events_count(pool, target) < at_least:
        assert loop.time() < deadline, f"@{target}: fewer than {at_least} records stored in {seconds:g} s"
        await asyncio.sleep(0.1)


async def messages_stored(pool: AsyncConnectionPool[Any], target: str) -> int:
    """TikTok messages stored across the target's sessions (a gift streak counts all its frames)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT count(*) FILTER (WHERE e.msg_id IS NOT NULL AND NOT e.data ? 'streak')
                      + coalesce(sum(jsonb_array_length(e.data -> 'streak' -> 'msg_ids'))
                                 FILTER (WHERE e.data ? 'streak'), 0) AS n
                 FROM events e JOIN live_sessions s ON s.id = e.session_id WHERE lower(s.target) = %s""",
            (target.lower(),),
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row["n"])


async def wait_caught_up(pool: AsyncConnectionPool[Any], room: Any, target: str, seconds: float = 600) -> None:
    """The host goes quiet, then wait until the capture stored about everything sent: on a loaded machine it
    can be thousands of messages behind a live that keeps producing (at load 20 it never caught up with
    200 events/s), and a live ended then may close the socket before they are delivered."""
    room.go_quiet()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while await messages_stored(pool, target) < len(room.sent_messages) - 500:
        assert loop.time() < deadline, f"@{target}: the capture did not catch up with the live in {seconds:g} s"
        await asyncio.sleep(1.0)


# Server and capture clocks are the same machine's here; a message is sent a little before it is received.
SLACK = timedelta(milliseconds=50)


@dataclass
class Figures:
    name: str
    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    missing: list[int] = field(default_factory=list)  # positions in the sent order
    named_in_gaps: int = 0
    uncovered: list[int] = field(default_factory=list)  # missing, sent outside every gap and start window
    gaps: Counter[str] = field(default_factory=Counter)
    filled: dict[tuple[str, int], str] = field(default_factory=dict)  # (session, gap seq) -> completely/partly
    sessions: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)

    def line(self) -> str:
        statuses = ", ".join(f"{s['status']}" for s in self.sessions)
        return (f"[{self.name}] sent {self.sent}, stored {self.stored}, duplicates {self.duplicates}, "
                f"missing {len(self.missing)} (named in gap records {self.named_in_gaps}, "
                f"sent outside every gap {len(self.uncovered)}), "
                f"gaps {dict(self.gaps)}, gaps filled by re-sent messages {len(self.filled)}, "
                f"sessions {len(self.sessions)} ({statuses})")  # fmt: skip

    def missing_before_the_end(self, sent_before_end: int) -> list[int]:
        """The missing messages but those sent once the live was ending while its socket was being deemed
        dead, when a gap record says the live ended before the capture could reconnect: once the live
        is over no server sends them again (tests.capture.support.assert_all_sent_stored)."""
        ended_unheard = any(live_ended_before_reconnect(rows) for rows in self.rows.values())
        return [index for index in self.missing if not (ended_unheard and index >= sent_before_end)]

    def unfilled(self, *reasons: str) -> list[dict[str, Any]]:
        """Gap records of these reasons no `gap_filled` record says were completely filled."""
        return [row for rows in self.rows.values() for row in rows
                if row["kind"] == "gap" and row["data"]["reason"] in reasons
                and self.filled.get((str(row["session_id"]), row["seq"])) != "completely"]  # fmt: skip


async def figures(name: str, pool: AsyncConnectionPool[Any], sim_room: Any, target: str) -> Figures:
    """Count, check the invariants every fault must keep, print the line, return the figures."""
    result = Figures(name)
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            """SELECT s.id, s.status, s.status_reason, s.ended_at, l.owner, l.host, l.pid,
                      (l.expires_at < now()) AS expired
                 FROM live_sessions s LEFT JOIN capture_leases l ON l.session_id = s.id
                WHERE lower(s.target) = %s ORDER BY s.started_at""",
            (target.lower(),),
        )
        result.sessions = await cur.fetchall()
    stored: list[int] = []
    named: set[str] = set()
    windows: list[tuple[datetime, datetime]] = []  # when the capture says it was not receiving
    for session in result.sessions:
        rows = await stored_events(pool, session["id"])
        result.rows[session["id"]] = rows
        stored.extend(stored_msg_ids(rows))
        for row in rows:
            if row["kind"] == "gap_filled":
                result.filled[(row["data"]["gap"]["session_id"], row["data"]["gap"]["seq"])] = row["data"]["filled"]
            if row["kind"] == "gap":
                result.gaps[row["data"]["reason"]] += 1
                named.update(row["data"].get("msg_ids", []))
                windows.append((moment(row["data"]["from"]), moment(row["data"]["to"])))
        first_event = next((r["captured_at"] for r in rows if r["kind"] not in CHAIN_KINDS), None)
        if first_event is not None:  # from its start until its first frame, a capture receives nothing yet
            windows.append((rows[0]["captured_at"], first_event))
        async with pool.connection() as conn:
            verdict = await verify_session(conn, session["id"])
        assert verdict.intact, f"session {session['id']}: chain broken: {verdict}"
        if SessionStatus(session["status"]).active:
            assert session["owner"] is not None and not is_stale(session), (
                f"session {session['id']} is {session['status']} without an owner"
            )
    sent = [m.msg_id for m in sim_room.sent_messages]
    result.sent, result.stored = len(sent), len(stored)
    result.duplicates = len(stored) - len(set(stored))
    kept = set(stored)
    result.missing = [index for index, msg_id in enumerate(sent) if msg_id not in kept]
    result.named_in_gaps = sum(1 for index in result.missing if str(sent[index]) in named)
    sent_at = [event.server_time for event in sim_room.sent_events()]
    result.uncovered = [
        index for index in result.missing
        if str(sent[index]) not in named and not any(start - SLACK <= sent_at[index] <= end + SLACK
                                                     for start, end in windows)
    ]  # fmt: skip
    print(f"\n{result.line()}")
    assert result.duplicates == 0, "an event was stored twice across the sessions of the target"
    assert kept <= set(sent), "stored a message the simulator never sent"
    return result


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
