"""The hostile SQL corpus against each layer of the SQL explorer, alone: nothing may change.

Three runs, each followed by a before/after snapshot of the whole database (tests/security/snapshot.py):
(a) the explorer API as a signed-in viewer: every layer at once — each statement is refused;
(b) the explorer with its parser switched off: the scis_explorer role, the READ ONLY transaction and
    the server-side cursor alone;
(c) straight to PostgreSQL as scis_explorer, one connection per statement, no service in between:
    the role's privileges alone.
The snapshots cover the whole cluster, so the attacks run on a server of their own (`quiet_database`):
nothing but the attack itself may write there while it runs.
"""

from __future__ import annotations

import psycopg

from scis.core.audit.models import AuditContext
from scis.core.auth.models import Role, User
from scis.database import service
from tests.security.conftest import QuietDatabase, one_connection_explorer_pool
from tests.security.hostile_sql import HOSTILE_SQL
from tests.security.snapshot import differences, snapshot
from tests.services.conftest import auth

VIEWER = User(username="t-viewer", role=Role.viewer)


async def test_a_every_hostile_statement_is_refused_at_the_api(quiet_database: QuietDatabase) -> None:
    superuser_url = quiet_database.superuser_url
    before = snapshot(superuser_url)
    answers = {}
    for what, sql in HOSTILE_SQL:
        response = await quiet_database.client.post(
            "/api/database/query", json={"sql": sql}, headers=auth(quiet_database.viewer_token)
        )
        answers[what] = (response.status_code, response.json().get("detail", ""))
    # 400: refused; 422: not well-formed SQL, answered with its line and column.
    accepted = {what: answer for what, answer in answers.items() if answer[0] not in (400, 422)}
    assert accepted == {}, "these were not refused"
    assert all(detail.startswith(("sql: ", "invalid request: sql: ")) for _, detail in answers.values())
    assert differences(before, snapshot(superuser_url)) == {}


async def test_b_with_the_parser_switched_off_nothing_is_written(quiet_database: QuietDatabase) -> None:
    superuser_url = quiet_database.superuser_url
    before = snapshot(superuser_url)
    outcomes: dict[str, str] = {}
    async with (
        one_connection_explorer_pool(quiet_database.explorer_url) as explorer_pool,
        await psycopg.AsyncConnection.connect(quiet_database.app_url, autocommit=True) as app_conn,
    ):
        for what, sql in HOSTILE_SQL:
            try:
                result = await service.run_query(
                    app_conn,
                    explorer_pool,
                    statement=sql,
                    limit=10,
                    timeout_ms=1500,
                    context=AuditContext(actor=VIEWER, source_ip=None, request_id=None, service="test"),
                    check=False,
                )
                outcomes[what] = f"ran: {result.rows[:1]}"
            except (service.QueryFailed, service.UnanswerableValue) as error:
                outcomes[what] = f"refused: {error}"
    # Only reads of harmless values may have run at all (set_config changes this session only and is
    # reset); everything else PostgreSQL itself refused.
    ran = {what for what, outcome in outcomes.items() if outcome.startswith("ran")}
    harmless = {"set_config", "quoted set_config", 'U&"" name spelling set_config', "pg_notify"}
    assert ran <= harmless, {what: outcomes[what] for what in ran}
    assert differences(before, snapshot(superuser_url)) == {}


def test_c_straight_to_postgresql_as_scis_explorer_nothing_is_written(quiet_database: QuietDatabase) -> None:
    superuser_url, explorer_url = quiet_database.superuser_url, quiet_database.explorer_url
    before = snapshot(superuser_url)
    outcomes: dict[str, str] = {}
    for what, sql in HOSTILE_SQL:
        # Autocommit, the simple protocol (several statements per call), no READ ONLY but the role's
        # own default, no timeout but the role's: only what PostgreSQL grants scis_explorer holds here.
        with psycopg.connect(explorer_url, autocommit=True, options="-c statement_timeout=1500") as conn:
            try:
                conn.execute(sql.encode())
                outcomes[what] = "ran"
            except psycopg.Error as error:
                outcomes[what] = f"{type(error).__name__}: {error.diag.message_primary}"
    assert differences(before, snapshot(superuser_url)) == {}
    # The reads of forbidden data were refused by privileges, not merely found empty.
    for what in ("password hashes", "password hashes, public schema", "grants table", "role passwords"):
        # `users` alone is explorer.users (the role's search_path), which has no password_hash column.
        assert "permission denied" in outcomes[what] or "does not exist" in outcomes[what], (what, outcomes[what])


def test_the_snapshot_sees_a_write(quiet_database: QuietDatabase) -> None:
    """The yardstick itself: a row, a role setting and a sequence changed by the superuser all show."""
    superuser_url = quiet_database.superuser_url
    before = snapshot(superuser_url)
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        conn.execute("ALTER ROLE scis_explorer SET work_mem = '1MB'")
        conn.execute("INSERT INTO cases (reference, title, created_by) VALUES ('SNAP-1', 'x', 'test')")
        try:
            changed = differences(before, snapshot(superuser_url))
        finally:
            conn.execute("ALTER ROLE scis_explorer RESET work_mem")
            conn.execute("DELETE FROM case_members WHERE case_id IN (SELECT id FROM cases WHERE reference = 'SNAP-1')")
            conn.execute("DELETE FROM cases WHERE reference = 'SNAP-1'")
    assert {"role_settings", "rows of public.cases", "sequences"} <= changed.keys()
