"""Case membership over the API: who becomes a member, admins granting and taking it back (audited), and
another team's case answering exactly like a case that does not exist."""

from __future__ import annotations

import uuid

import httpx
import psycopg

from tests.services.conftest import auth

MISSING = 9_000_000_000_000_000_000  # a well-formed id no test creates


def audit_actions(postgres_url: str, case_id: int) -> list[tuple[str, str]]:
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT action, details->>'username' FROM audit_log WHERE target = %s ORDER BY id", (f"case:{case_id}",)
        ).fetchall()
    return [(row[0], row[1]) for row in rows]


async def test_membership_lifecycle(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    dashboard = clients["dashboard"]
    admin, investigator, viewer = (auth(tokens[role]) for role in ("admin", "investigator", "viewer"))
    created = await dashboard.post(
        "/api/dashboard/cases",
        json={"reference": f"MB-{uuid.uuid4().hex[:8]}", "title": "membership"},
        headers=investigator,
    )
    case_id = created.json()["id"]
    members = (await dashboard.get(f"/api/dashboard/cases/{case_id}/members", headers=investigator)).json()
    assert [m["username"] for m in members] == [accounts["investigator"]]

    assert (await dashboard.get(f"/api/dashboard/cases/{case_id}", headers=viewer)).status_code == 404
    granted = await dashboard.put(f"/api/dashboard/cases/{case_id}/members/{accounts['viewer']}", headers=admin)
    assert granted.status_code == 200 and granted.json()["added_by"] == accounts["admin"]
    again = await dashboard.put(f"/api/dashboard/cases/{case_id}/members/{accounts['viewer']}", headers=admin)
    assert again.json() == granted.json()  # idempotent, and audited once
    assert (await dashboard.get(f"/api/dashboard/cases/{case_id}", headers=viewer)).status_code == 200
    listed = await dashboard.get("/api/dashboard/cases", headers=viewer)
    assert case_id in {case["id"] for case in listed.json()}

    # Only admins grant; the refusal names the role, not the case.
    refused = await dashboard.put(f"/api/dashboard/cases/{case_id}/members/{accounts['admin']}", headers=investigator)
    assert refused.status_code == 403
    unknown = await dashboard.put(f"/api/dashboard/cases/{case_id}/members/nobody.here", headers=admin)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "path.username"
    bad_name = await dashboard.put(f"/api/dashboard/cases/{case_id}/members/Not%20A%20Name", headers=admin)
    assert bad_name.status_code == 422 and bad_name.json()["errors"][0]["field"] == "path.username"
    no_case = await dashboard.put(f"/api/dashboard/cases/{MISSING}/members/{accounts['viewer']}", headers=admin)
    assert no_case.status_code == 404

    removed = await dashboard.delete(f"/api/dashboard/cases/{case_id}/members/{accounts['viewer']}", headers=admin)
    assert removed.status_code == 204
    assert (await dashboard.get(f"/api/dashboard/cases/{case_id}", headers=viewer)).status_code == 404
    gone = await dashboard.delete(f"/api/dashboard/cases/{case_id}/members/{accounts['viewer']}", headers=admin)
    assert gone.status_code == 404

    assert audit_actions(postgres_url, case_id) == [
        ("case.create", None),
        ("case.member.add", accounts["viewer"]),
        ("case.member.remove", accounts["viewer"]),
    ]


async def test_another_teams_case_reads_exactly_like_a_missing_one(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], outsider_case: int
) -> None:
    """Status and body are the same for an existing case one may not see and for no case at all,
    apart from the id itself: nothing tells an outsider that the case exists."""
    investigator = auth(tokens["investigator"])

    async def both(client: str, method: str, path: str, body: dict[str, object] | None = None) -> None:
        answers = []
        for case_id in (outsider_case, MISSING):
            response = await clients[client].request(
                method,
                path.format(case=case_id),
                json=None if body is None else {k: case_id if v == "{case}" else v for k, v in body.items()},
                headers=investigator,
            )
            answers.append((response.status_code, response.text.replace(str(case_id), "N")))
        assert answers[0] == answers[1], f"{method} {path}: {answers}"
        assert answers[0][0] in (404, 422, 200)

    await both("dashboard", "GET", "/api/dashboard/cases/{case}")
    await both("dashboard", "PATCH", "/api/dashboard/cases/{case}", {"title": "taken over"})
    await both("dashboard", "GET", "/api/dashboard/cases/{case}/members")
    await both("analyser", "POST", "/api/analyser/monitors", {"target": "@someone", "case_id": "{case}"})
    await both("reports", "POST", "/api/reports/reports", {"case_id": "{case}"})
    await both("profiles", "POST", "/api/profiles/profiles", {"unique_id": "someone", "case_id": "{case}"})
    await both("create", "POST", "/api/create/check", {"unique_id": "someone", "case_id": "{case}"})
    await both("profiles", "GET", "/api/profiles/profiles?case_id={case}")
    await both("reports", "GET", "/api/reports/reports?case_id={case}")
    await both("lives", "GET", "/api/lives/lives?case_id={case}")
