"""A gap's fill state from the `gap_filled` records naming it (scis.evidence.gaps, decision 412)."""

from __future__ import annotations

import uuid
from typing import Any

from scis.evidence.gaps import gap_states

SESSION = uuid.uuid4()


def gap(seq: int, reason: str = "disconnect") -> dict[str, Any]:
    return {"seq": seq, "data": {"reason": reason, "from": "2026-12-02T04:00:00Z", "to": "2026-12-02T04:00:10Z",
                                 "detail": "drop"}}  # fmt: skip


def fill(seq: int, gap_seq: int, filled: str, remaining_to: str | None = None) -> dict[str, Any]:
    remaining = {"from": "2026-12-02T04:00:00Z", "to": remaining_to} if remaining_to else None
    data = {"gap": {"session_id": str(SESSION), "seq": gap_seq}, "filled": filled, "remaining": remaining}
    return {"session_id": SESSION, "seq": seq, "data": data}


def test_a_complete_fill_wins_the_shortest_remaining_stretch_next_and_no_fill_leaves_it_open() -> None:
    states = gap_states(
        [gap(3), gap(7, "crash"), gap(9, "stall")],
        [fill(4, 3, "partly", "2026-12-02T04:00:08Z"), fill(5, 3, "partly", "2026-12-02T04:00:02Z"),
         fill(8, 7, "partly", "2026-12-02T04:00:01Z"), fill(11, 7, "completely")],
    )  # fmt: skip
    by_seq = {state.seq: state for state in states}
    assert [s.seq for s in states] == [3, 7, 9]
    assert by_seq[3].filled == "partly" and by_seq[3].remaining == {"from": "2026-12-02T04:00:00Z",
                                                                    "to": "2026-12-02T04:00:02Z"}  # fmt: skip
    assert by_seq[3].filled_by == {"session_id": str(SESSION), "seq": 5}
    assert by_seq[7].filled == "completely" and by_seq[7].remaining is None and by_seq[7].filled_by["seq"] == 11
    assert by_seq[9].filled == "open" and by_seq[9].filled_by is None and by_seq[9].reason == "stall"
