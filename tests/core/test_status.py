"""Every status the pipeline can write is one each reader understands: the database, the lives list,
the dashboard counts, the LiveMonitor operator and the analyser API."""

from __future__ import annotations

import ast
import re
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scis.analyser.models import MonitorRead
from scis.analyser.runners import monitor_from_livemonitor
from scis.core.auth.models import Role, User
from scis.core.db import load_migrations, migrate
from scis.core.status import SessionStatus
from scis.dashboard.overview.service import key_figures
from scis.kube.progress import OPERATOR_PHASES, PHASE_OF_STATUS, PHASES, STATUS_OF_PHASE, build_progress
from scis.lives.models import LiveSessionRead
from scis.lives.service import list_sessions
from scis_operator.phases import Phase

SERVICES = Path(__file__).resolve().parents[2] / "services" / "scis"
# Folders whose code writes or compares live-session statuses.
STATUS_WRITERS = ("capture", "evidence", "analyser", "lives", "dashboard", "kube")


def insert_session(conn: psycopg.Connection[Any], status: str) -> uuid.UUID:
    session_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO live_sessions (id, target, source, status) VALUES (%s, 'someone', 'websocket', %s)",
        (session_id, status),
    )
    return session_id


def allowed_by_check(conn: psycopg.Connection[Any]) -> set[str]:
    row = conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'live_sessions_status_check'"
    ).fetchone()
    assert row is not None, "live_sessions has no status CHECK constraint"
    return set(re.findall(r"'([a-z_]+)'::text", row[0]))


def test_the_check_constraint_allows_exactly_the_enum(empty_database: str) -> None:
    migrate(empty_database)
    with psycopg.connect(empty_database) as conn:
        assert allowed_by_check(conn) == {status.value for status in SessionStatus}, (
            "SessionStatus and the CHECK on live_sessions.status disagree: add a migration that widens it"
        )
        for status in SessionStatus:
            insert_session(conn, status)
        with pytest.raises(psycopg.errors.CheckViolation, match="live_sessions_status_check"):
            insert_session(conn, "connecting")


def test_migration_0007_maps_existing_rows(empty_database: str) -> None:
    with psycopg.connect(empty_database, autocommit=True) as conn:
        for migration in load_migrations():
            if migration.version < 7:
                conn.execute(migration.sql)  # type: ignore[arg-type]
        old = {name: insert_session(conn, name) for name in ("connecting", "live", "ended", "crashed-somehow")}
        conn.execute("UPDATE live_sessions SET status_reason = 'it broke' WHERE id = %s", (old["crashed-somehow"],))
        (step,) = [m for m in load_migrations() if m.version == 7]
        conn.execute(step.sql)  # type: ignore[arg-type]
        rows = dict(conn.execute("SELECT id, (status, status_reason) FROM live_sessions").fetchall())
    assert rows[old["connecting"]] == ("starting", "")
    assert rows[old["live"]] == ("live", "")
    assert rows[old["ended"]] == ("ended", "")
    assert rows[old["crashed-somehow"]] == ("failed", 'status "crashed-somehow" before migration 0007: it broke')


async def test_lives_list_and_dashboard_count_every_running_status(empty_database: str) -> None:
    migrate(empty_database)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        written = {status: insert_session(conn, status) for status in SessionStatus}
    running = {written[status] for status in SessionStatus if status.active}
    assert running, "no status counts as running"
    async with await psycopg.AsyncConnection.connect(empty_database) as conn:
        admin = User(username="status.admin", role=Role.admin)  # sees every case's sessions
        listed = await list_sessions(conn, user=admin, active_only=True)
        everything = await list_sessions(conn, user=admin, active_only=False)
        figures = await key_figures(conn)
    assert {session.id for session in listed} == running
    assert {session.status for session in everything} == set(SessionStatus)
    assert figures.lives_active == len(running)
    assert figures.sessions_total == len(SessionStatus)


@pytest.mark.parametrize("status", list(SessionStatus))
def test_every_status_reaches_the_operator_and_the_api(status: SessionStatus) -> None:
    assert PHASE_OF_STATUS[status] in PHASES, f"{status} reports phase {status.phase!r}, not one a capture reports"
    build_progress(pod=None, phase=status.phase, events_captured=0, viewers=None, last_event_at=None,
                   chain_head=None, gaps=0)  # fmt: skip
    assert MonitorRead.model_validate(monitor_fields(status)).status is status
    session = LiveSessionRead.model_validate(
        {"id": uuid.uuid4(), "case_id": None, "target": "x", "room_id": None, "source": "websocket",
         "status": status.value, "status_reason": "", "started_at": "2026-01-01T00:00:00Z", "ended_at": None,
         "events_count": 0, "chain_head": None, "config": {}}
    )  # fmt: skip
    assert session.status is status


def test_operator_phases_are_the_ones_the_platform_maps() -> None:
    assert tuple(phase.value for phase in Phase) == OPERATOR_PHASES
    assert set(STATUS_OF_PHASE) == set(OPERATOR_PHASES)
    assert set(PHASES) <= set(OPERATOR_PHASES)
    for phase in Phase:
        shown = monitor_from_livemonitor({"metadata": {"uid": str(uuid.uuid4())}, "status": {"phase": phase.value}})
        assert shown.status is STATUS_OF_PHASE[phase.value]
        # A capture in the status shown reports a phase that leads back to the same status (Pending aside:
        # there is no capture yet, so nothing reports it).
        if phase is not Phase.PENDING and phase is not Phase.FAILED:
            assert STATUS_OF_PHASE[shown.status.phase] is shown.status


def status_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants written to, or compared with, something called `status`."""

    def named_status(node: ast.AST) -> bool:
        return (isinstance(node, ast.Name) and node.id == "status") or (
            isinstance(node, ast.Attribute) and node.attr == "status"
        )

    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        values: list[ast.AST] = []
        writes_keyword = isinstance(node, ast.keyword) and node.arg == "status"
        if writes_keyword or (isinstance(node, ast.Assign) and any(named_status(t) for t in node.targets)):
            values = [node.value]  # type: ignore[attr-defined]
        elif isinstance(node, ast.Compare) and named_status(node.left):
            values = list(node.comparators)
        for value in values:
            for leaf in ast.walk(value):
                if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str):
                    found.append((leaf.lineno, leaf.value))
    return found


def test_no_status_is_written_as_a_bare_string() -> None:
    """Statuses are SessionStatus members in code, so a typo or a drifted name cannot reach the database."""
    session_values = {status.value for status in SessionStatus}
    offenders = []
    for folder in STATUS_WRITERS:
        for path in sorted((SERVICES / folder).rglob("*.py")):
            for line, value in status_literals(ast.parse(path.read_text())):
                if value in session_values or value in {"pending", "connecting", "reconnecting", "starting"}:
                    offenders.append(f"{path.relative_to(SERVICES)}:{line}: {value!r}")
    assert offenders == []


def monitor_fields(status: SessionStatus) -> dict[str, Any]:
    return {
        "session_id": uuid.uuid4(), "target": "x", "source": "websocket", "case_id": None, "status": status.value,
        "status_reason": "", "room_id": None, "started_at": None, "ended_at": None, "events_total": 0,
        "events_by_kind": {}, "viewers": None, "likes_total": None, "last_event_at": None, "chain_head": None,
        "gaps": 0, "malformed": 0, "duplicates": 0, "spilled": 0, "queued": 0, "reconnects": 0,
    }  # fmt: skip
