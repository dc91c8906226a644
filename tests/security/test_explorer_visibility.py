"""Through the explorer each account sees what the API would show it, enforced by the database.

The views in schema `explorer` filter by the account the service names for the connection
(explorer_grants): admins see everything; investigators and viewers only the cases they are members
of (and what hangs off them); only admins see accounts and the audit log (which holds every analyst's
queries); nobody sees password hashes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.services.conftest import auth


@pytest.fixture(scope="module")
def two_cases(superuser_url: str, accounts: dict[str, str]) -> Iterator[dict[str, str]]:
    """Case VIS-A with the viewer as member, VIS-B with the investigator; one live session in each."""
    suffix = uuid.uuid4().hex[:6]
    references = {"a": f"VIS-A-{suffix}", "b": f"VIS-B-{suffix}"}
    members = {"a": accounts["viewer"], "b": accounts["investigator"]}
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        for key, reference in references.items():
            row = conn.execute(
                "INSERT INTO cases (reference, title, created_by) VALUES (%s, 'visibility', 'test') RETURNING id",
                (reference,),
            ).fetchone()
            assert row
            conn.execute(
                "INSERT INTO case_members (case_id, username, added_by) VALUES (%s, %s, 'test')", (row[0], members[key])
            )
            conn.execute(
                """INSERT INTO live_sessions (id, case_id, target, source, status)
                   VALUES (%s, %s, %s, 'replay', 'ended')""",
                (uuid.uuid4(), row[0], f"target-{reference}"),
            )
    yield references


async def rows(client: httpx.AsyncClient, token: str, sql: str) -> list[list[object]]:
    response = await client.post("/api/database/query", json={"sql": sql}, headers=auth(token))
    assert response.status_code == 200, response.text
    return response.json()["rows"]  # type: ignore[no-any-return]


async def test_members_see_their_cases_only(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], two_cases: dict[str, str]
) -> None:
    database = clients["database"]
    cases = "SELECT reference FROM cases WHERE title = 'visibility' AND reference LIKE '%{}' ORDER BY 1"
    suffix = two_cases["a"][-6:]
    assert await rows(database, tokens["viewer"], cases.format(suffix)) == [[two_cases["a"]]]
    assert await rows(database, tokens["investigator"], cases.format(suffix)) == [[two_cases["b"]]]
    assert await rows(database, tokens["admin"], cases.format(suffix)) == [[two_cases["a"]], [two_cases["b"]]]
    sessions = f"SELECT target FROM live_sessions WHERE target LIKE 'target-VIS-%{suffix}' ORDER BY 1"
    assert await rows(database, tokens["viewer"], sessions) == [[f"target-{two_cases['a']}"]]
    assert await rows(database, tokens["investigator"], sessions) == [[f"target-{two_cases['b']}"]]


async def test_only_admins_read_accounts_and_the_audit_log(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    database = clients["database"]
    # The viewer's own query lands in the audit log; the viewer still cannot read it back.
    await rows(database, tokens["viewer"], "SELECT 'a query of mine'")
    for role in ("viewer", "investigator"):
        assert await rows(database, tokens[role], "SELECT count(*) FROM audit_log") == [[0]]
        assert await rows(database, tokens[role], "SELECT count(*) FROM users") == [[0]]
    assert (await rows(database, tokens["admin"], "SELECT count(*) FROM users"))[0][0] >= 3
    queries = await rows(
        database, tokens["admin"], "SELECT actor FROM audit_log WHERE details->>'sql' = 'SELECT ''a query of mine'''"
    )
    assert ["t-viewer"] in queries


async def test_password_hashes_are_not_even_a_column(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    response = await clients["database"].post(
        "/api/database/query", json={"sql": "SELECT password_hash FROM users"}, headers=auth(tokens["admin"])
    )
    assert response.status_code == 400 and "password_hash" in response.json()["detail"]
    tables = await clients["database"].get("/api/database/tables", headers=auth(tokens["admin"]))
    users = next(table for table in tables.json() if table["name"] == "users")
    assert "password_hash" not in [column["name"] for column in users["columns"]]


async def test_a_grant_lasts_one_query(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], superuser_url: str
) -> None:
    await rows(clients["database"], tokens["admin"], "SELECT count(*) FROM cases")
    with psycopg.connect(superuser_url) as conn:
        assert conn.execute("SELECT count(*) FROM explorer_grants").fetchone() == (0,)


def test_a_grant_applies_only_to_the_query_carrying_its_token(explorer_url: str, superuser_url: str) -> None:
    """A grant row left behind (say, by a crash) never serves a later query on a reused backend pid."""
    with psycopg.connect(explorer_url, autocommit=True) as explorer, psycopg.connect(superuser_url) as owner:
        pid = explorer.info.backend_pid
        owner.execute(
            """INSERT INTO explorer_grants (backend_pid, token, username, role)
               VALUES (%s, 'secret-token', 'x', 'admin')""",
            (pid,),
        )
        owner.commit()
        try:
            assert explorer.execute("SELECT count(*) FROM explorer.users").fetchone() == (0,)
            explorer.execute("SET scis.explorer_token = 'secret-token'")
            counted = explorer.execute("SELECT count(*) FROM explorer.users").fetchone()
            assert counted and counted[0] > 0
        finally:
            owner.execute("DELETE FROM explorer_grants WHERE backend_pid = %s", (pid,))
            owner.commit()


async def test_watchlists_and_alerts_follow_their_case(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], two_cases: dict[str, str], superuser_url: str
) -> None:
    marker = f"vis-{two_cases['a'][-6:]}"
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        for reference in two_cases.values():
            conn.execute(
                """INSERT INTO watch_entries (case_id, kind, value, created_by)
                   SELECT id, 'keyword', %s || '-' || reference, 'test' FROM cases WHERE reference = %s""",
                (marker, reference),
            )
    watched = f"SELECT value FROM watch_entries WHERE value LIKE '{marker}-%' ORDER BY 1"
    assert await rows(clients["database"], tokens["viewer"], watched) == [[f"{marker}-{two_cases['a']}"]]
    assert await rows(clients["database"], tokens["investigator"], watched) == [[f"{marker}-{two_cases['b']}"]]
    assert len(await rows(clients["database"], tokens["admin"], watched)) == 2
    # Drafts are private work: not in the explorer at all.
    refused = await clients["database"].post(
        "/api/database/query", json={"sql": "SELECT * FROM profile_drafts"}, headers=auth(tokens["admin"])
    )
    assert refused.status_code != 200
