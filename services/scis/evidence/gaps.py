"""A session's gap records with what later `gap_filled` records say of them (decisions 411, 412).

Gap records are never edited: a gap the server's re-sending filled is closed by a `gap_filled` record,
in the same session (a reconnect, a resume with the same session id) or in a later session of the same
target (a plain restart after a crash). Whoever shows the gaps (the session API, reports, the evidence
browser) reads both and says per gap: `open`, `partly` (with what `remaining` is missing) or
`completely` filled, which record says so, and how many message records the filling capture stored
from within the gap's span (decision 420).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from scis.evidence.records import GAP, GAP_FILLED

OPEN, PARTLY, COMPLETELY = "open", "partly", "completely"


@dataclass(frozen=True, slots=True)
class GapState:
    seq: int
    reason: str
    started: str  # the gap record's own `from` / `to` (UTC ISO 8601)
    ended: str
    detail: str
    filled: str  # open, partly or completely
    remaining: dict[str, str] | None  # for `partly`: the stretch still missing
    filled_by: dict[str, Any] | None  # the `gap_filled` record that says so: session_id and seq
    # Message records the filling capture stored whose TikTok time lies inside the gap's span
    # (None while open; 0 is possible: a fill proven by overlap while nothing was said in the gap).
    filled_records: int | None = None


def gap_states(gaps: list[dict[str, Any]], fills: list[dict[str, Any]]) -> list[GapState]:
    """Gaps (rows: seq, data) with the fills naming them (rows: session_id, seq, data). A complete fill
    wins over partial ones; of partial fills, the one leaving the shortest stretch missing."""
    by_gap: dict[int, list[dict[str, Any]]] = {}
    for fill in fills:
        by_gap.setdefault(int(fill["data"]["gap"]["seq"]), []).append(fill)
    return [_state(gap, by_gap.get(gap["seq"], [])) for gap in gaps]


def _state(gap: dict[str, Any], fills: list[dict[str, Any]]) -> GapState:
    data = gap["data"]
    best = min(fills, key=_fill_rank, default=None)
    return GapState(
        seq=gap["seq"],
        reason=str(data.get("reason")),
        started=str(data.get("from")),
        ended=str(data.get("to")),
        detail=str(data.get("detail", "")),
        filled=OPEN if best is None else str(best["data"]["filled"]),
        remaining=None if best is None else best["data"].get("remaining"),
        filled_by=None if best is None else {"session_id": str(best["session_id"]), "seq": best["seq"]},
    )


def _fill_rank(fill: dict[str, Any]) -> tuple[int, str]:
    data = fill["data"]
    if data["filled"] == COMPLETELY:
        return (0, "")
    return (1, str((data.get("remaining") or {}).get("to", "")))


async def session_gaps(conn: AsyncConnection[Any], session_id: UUID) -> list[GapState]:
    """The session's gaps in chain order, each with whether re-sent messages filled it."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT seq, data FROM events WHERE session_id = %s AND kind = %s ORDER BY seq",
                      (session_id, GAP))  # fmt: skip
    gaps = await cur.fetchall()
    if not gaps:
        return []
    # A fill is stated by the capture that resumed: this session or a later one of its target.
    await cur.execute(
        """SELECT e.session_id, e.seq, e.data FROM live_sessions s
             JOIN live_sessions later ON lower(later.target) = lower(s.target) AND later.started_at >= s.started_at
             JOIN events e ON e.session_id = later.id AND e.kind = %(kind)s
            WHERE s.id = %(id)s AND e.data -> 'gap' ->> 'session_id' = %(id_text)s
            ORDER BY e.session_id, e.seq""",
        {"id": session_id, "id_text": str(session_id), "kind": GAP_FILLED},
    )
    states = gap_states(gaps, [fill for fill in await cur.fetchall() if fill["data"]["gap"].get("seq") is not None])
    return [await _with_filled_records(conn, state) for state in states]


async def _with_filled_records(conn: AsyncConnection[Any], state: GapState) -> GapState:
    """The state with how many re-sent message records its filling capture stored inside the gap's span.

    Re-sent records were received after the loss began: `captured_at >= from` lets the BRIN index on
    captured_at skip the session's earlier rows."""
    if state.filled_by is None:
        return state
    cur = conn.cursor(row_factory=dict_row)  # whatever the connection's own row factory
    await cur.execute(
        """SELECT count(*) AS records FROM events
            WHERE session_id = %(session)s AND msg_id IS NOT NULL AND captured_at >= %(from)s::timestamptz
              AND server_time BETWEEN %(from)s::timestamptz AND %(to)s::timestamptz""",
        {"session": UUID(state.filled_by["session_id"]), "from": state.started, "to": state.ended},
    )
    row = await cur.fetchone()
    return replace(state, filled_records=int(row["records"]) if row else 0)
