"""Role x route matrix, generated from the services' OpenAPI documents.

Every operation every service publishes is called as anonymous, viewer, investigator and admin; an
operation that reaches into a case (a case, session, report or profile in its path, or a case_id in
its body) is called once on a case the caller belongs to and once on one they do not. Expected:

- anonymous: 401 everywhere but the public routes;
- a role below the operation's: 403;
- someone else's case: 404 (422 for a case_id in a body), exactly as if it did not exist;
- otherwise the operation runs (no 401/403, no hidden-case answer, no 5xx).

A new route that reaches into a case must be added to RULES, or the last test fails and says so.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from scis.core.auth.models import Role
from tests.services.conftest import auth
from tests.support.cases import make_profile, make_report, make_report_job, make_session

PUBLIC = {("POST", "/api/auth/login"), ("GET", "/healthz"), ("GET", "/readyz")}
CALLERS = ("anonymous", "viewer", "investigator", "admin")
# Path parameters that name something belonging to a case.
CASE_SCOPED_PARAMETERS = {"case_id", "session_id", "report_id", "profile_id", "job_id"}
# Path parameters naming something inside one of those, or reached through them (their access follows).
NOT_CASE_SCOPED_IDS = {
    "attachment_id", "subject_id", "tiktok_user_id", "saved_id", "query_id", "viewer_id", "watch_id", "alert_id",
    "draft_id", "snapshot_id", "export_id",
    "name",  # a ready-made explorer query's name: not a case's
}  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """How one operation is guarded: the least role, what case-owned thing it targets, a valid body."""

    role: Role = Role.viewer
    target: str | None = None  # "case", "session", "report", "profile", "body" (case_id in the body)
    body: Callable[[int], dict[str, Any]] | None = None
    hidden: frozenset[int] = frozenset({404})  # how someone else's case answers
    # Statuses the operation may give when it runs, beyond 2xx/4xx (it calls a peer that is not up here).
    also_ok: frozenset[int] = field(default_factory=frozenset)


def unique() -> str:
    return uuid.uuid4().hex[:10]


# Routes that end every session of a user (sign-out, password, disable, role): called here with the
# shared test accounts they would sign those accounts out for every later test.
ENDS_SESSIONS = {
    ("POST", "/api/auth/logout"),
    ("POST", "/api/auth/password"),
    ("PUT", "/api/auth/users/{username}/password"),
    ("POST", "/api/auth/users/{username}/disable"),
    ("POST", "/api/auth/users/{username}/enable"),
    ("PUT", "/api/auth/users/{username}/role"),
}

RULES: dict[tuple[str, str], Rule] = {
    ("POST", "/api/auth/logout"): Rule(),
    ("GET", "/api/auth/users"): Rule(Role.admin),
    ("POST", "/api/auth/users"): Rule(Role.admin),
    ("GET", "/api/dashboard/cases/{case_id}"): Rule(target="case"),
    ("PATCH", "/api/dashboard/cases/{case_id}"): Rule(Role.investigator, "case", lambda _: {"description": "m"}),
    ("GET", "/api/dashboard/cases/{case_id}/members"): Rule(target="case"),
    ("PUT", "/api/dashboard/cases/{case_id}/members/{username}"): Rule(Role.admin, "case"),
    ("DELETE", "/api/dashboard/cases/{case_id}/members/{username}"): Rule(Role.admin, "case"),
    ("POST", "/api/dashboard/cases"): Rule(
        Role.investigator, body=lambda _: {"reference": f"M-{unique()}", "title": "matrix case"}
    ),
    ("GET", "/api/dashboard/audit"): Rule(Role.admin),
    ("GET", "/api/dashboard/audit/verify"): Rule(Role.admin),
    ("POST", "/api/analyser/monitors"): Rule(
        Role.investigator, "body", lambda case: {"target": f"@m.{unique()}", "case_id": case}, frozenset({422})
    ),
    ("GET", "/api/analyser/monitors/{session_id}"): Rule(target="session"),
    ("DELETE", "/api/analyser/monitors/{session_id}"): Rule(Role.investigator, "session"),
    ("GET", "/api/analyser/sessions/{session_id}/events"): Rule(target="session"),
    ("GET", "/api/analyser/sessions/{session_id}/verify"): Rule(target="session"),
    ("GET", "/api/analyser/sessions/{session_id}/gaps"): Rule(target="session"),
    ("GET", "/api/lives/lives/{session_id}"): Rule(target="session"),
    ("GET", "/api/lives/lives/{session_id}/video"): Rule(target="session"),
    # The test sessions record no video: a member is told so (409), an outsider gets the hidden 404.
    ("POST", "/api/lives/lives/{session_id}/video/offer"): Rule(
        target="session", body=lambda _: {"sdp": "v=0", "type": "offer"}
    ),
    ("DELETE", "/api/lives/lives/{session_id}/video/viewers/{viewer_id}"): Rule(target="session"),
    # The test sessions record no video: a member's bookmark keeps the records and says why it has no frame.
    ("POST", "/api/lives/lives/{session_id}/snapshots"): Rule(Role.investigator, "session", lambda _: {"note": "m"}),
    ("GET", "/api/lives/lives/{session_id}/snapshots"): Rule(target="session"),
    # Snapshot 1 is not in the member's session: past the guard, "no frame" (404).
    ("GET", "/api/lives/lives/{session_id}/snapshots/{snapshot_id}/frame"): Rule(
        target="session", also_ok=frozenset({404})
    ),
    ("GET", "/api/lives/cases/{case_id}/snapshots"): Rule(target="case"),
    ("GET", "/api/reports/reports/{report_id}/pdf"): Rule(target="report"),
    ("POST", "/api/reports/reports"): Rule(Role.investigator, "body", lambda case: {"case_id": case}, frozenset({404})),
    ("POST", "/api/reports/reports/jobs"): Rule(
        Role.investigator, "body", lambda case: {"case_id": case}, frozenset({422})
    ),
    ("GET", "/api/reports/reports/jobs/{job_id}"): Rule(target="job"),
    ("POST", "/api/reports/cases/{case_id}/exports"): Rule(Role.investigator, "case"),
    ("GET", "/api/reports/cases/{case_id}/exports"): Rule(target="case"),
    # Export 1 is not the member's case's: past the guard, "no such export" (404).
    ("GET", "/api/reports/cases/{case_id}/exports/{export_id}/archive"): Rule(target="case", also_ok=frozenset({404})),
    ("GET", "/api/reports/reports/jobs/{job_id}/pdf"): Rule(target="job"),
    # A finished job: a member gets past the guard to "already ended" (409).
    ("POST", "/api/reports/reports/jobs/{job_id}/cancel"): Rule(Role.investigator, "job"),
    ("GET", "/api/profiles/profiles/{profile_id}"): Rule(target="profile"),
    ("PATCH", "/api/profiles/profiles/{profile_id}"): Rule(Role.investigator, "profile", lambda _: {"notes": "m"}),
    ("DELETE", "/api/profiles/profiles/{profile_id}"): Rule(Role.investigator, "profile"),
    ("POST", "/api/profiles/profiles/{profile_id}/notes"): Rule(Role.investigator, "profile", lambda _: {"body": "m"}),
    ("GET", "/api/profiles/profiles/{profile_id}/notes"): Rule(target="profile"),
    # Sent without the file (and its required name): refused as a bad request, the same for any profile.
    ("POST", "/api/profiles/profiles/{profile_id}/attachments"): Rule(
        Role.investigator, "profile", hidden=frozenset({404, 422})
    ),
    ("GET", "/api/profiles/profiles/{profile_id}/attachments"): Rule(target="profile"),
    # Asked for an attachment the profile does not have: a member gets past the guard to "no attachment".
    ("GET", "/api/profiles/profiles/{profile_id}/attachments/{attachment_id}"): Rule(
        target="profile", also_ok=frozenset({404})
    ),
    ("POST", "/api/profiles/profiles"): Rule(
        Role.investigator, "body", lambda case: {"unique_id": f"m.{unique()}", "case_id": case}, frozenset({422})
    ),
    # Every account keeps its own explorer queries; sharing one with a case needs membership of it.
    ("POST", "/api/database/saved"): Rule(
        target="body",
        body=lambda case: {"name": f"m-{unique()}", "sql": "SELECT 1", "case_id": case},
        hidden=frozenset({422}),
    ),
    ("DELETE", "/api/database/saved/{saved_id}"): Rule(),
    ("POST", "/api/database/queries/{query_id}/cancel"): Rule(),
    ("POST", "/api/create/profiles"): Rule(
        Role.investigator,
        "body",
        lambda case: {"unique_id": f"m.{unique()}", "case_id": case},
        frozenset({422}),
        # Runs: checks the draft, then calls the profiles service, which is not listening in this test.
        also_ok=frozenset({502}),
    ),
    ("GET", "/api/profiles/profiles/{profile_id}/accounts"): Rule(target="profile"),
    # Subject 1 may not exist: a member gets past the guard to "no subject with this id" (422).
    ("POST", "/api/profiles/profiles/{profile_id}/accounts"): Rule(
        Role.investigator, "profile", lambda _: {"subject_id": 1, "reason": "m"}
    ),
    ("DELETE", "/api/profiles/profiles/{profile_id}/accounts/{subject_id}"): Rule(
        Role.investigator, "profile", also_ok=frozenset({404})
    ),
    ("GET", "/api/profiles/cases/{case_id}/watchlist"): Rule(target="case"),
    ("POST", "/api/profiles/cases/{case_id}/watchlist"): Rule(
        Role.investigator, "case", lambda _: {"kind": "keyword", "value": f"m{unique()}"}
    ),
    # Watch 1 / alert 1 are not in the member's case: past the guard, "not in this case" (404).
    ("DELETE", "/api/profiles/cases/{case_id}/watchlist/{watch_id}"): Rule(
        Role.investigator, "case", also_ok=frozenset({404})
    ),
    ("GET", "/api/profiles/cases/{case_id}/alerts"): Rule(target="case"),
    ("POST", "/api/profiles/cases/{case_id}/alerts/{alert_id}/acknowledge"): Rule(
        Role.investigator, "case", also_ok=frozenset({404})
    ),
    # Draft 1 is not the caller's: a member's case passes the step's check, then "no draft of yours" (404).
    ("PUT", "/api/create/drafts/{draft_id}/case"): Rule(
        Role.investigator, "body", lambda case: {"case_id": case}, frozenset({422})
    ),
}
# POSTs that read: the role check does not apply to them (the wizard check, the explorer).
READING_POSTS = {
    ("POST", "/api/create/check"), ("POST", "/api/database/query"), ("POST", "/api/database/query.csv"),
    ("POST", "/api/database/builtin/{name}"), ("POST", "/api/database/explain"),
}  # fmt: skip


def operations(apps: dict[str, FastAPI]) -> list[tuple[str, str, str]]:
    return [
        (name, method.upper(), path)
        for name, app in apps.items()
        for path, item in app.openapi()["paths"].items()
        for method in item
    ]


@dataclass
class Targets:
    """Makes, per call, a fresh thing of the wanted kind in the wanted case (calls may delete it)."""

    postgres_url: str
    owner: str

    def make(self, kind: str, case_id: int) -> str:
        if kind == "case":
            return str(case_id)
        if kind == "session":
            return make_session(self.postgres_url, case_id=case_id, created_by=self.owner)
        if kind == "report":
            return str(make_report(self.postgres_url, case_id=case_id, created_by=self.owner))
        if kind == "profile":
            return str(make_profile(self.postgres_url, case_id=case_id, created_by=self.owner))
        if kind == "job":
            return str(make_report_job(self.postgres_url, case_id=case_id, created_by=self.owner))
        raise AssertionError(kind)


def fill(path: str, target: str | None, username: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "username":
            return username
        if name in CASE_SCOPED_PARAMETERS:
            assert target is not None, f"{path} has a case-scoped parameter but no target rule"
            return target
        if name in NOT_CASE_SCOPED_IDS:
            return "1"  # one that may not exist: the matrix checks who gets past the guard, not the row
        raise AssertionError(f"unknown path parameter {name} in {path}")

    return re.sub(r"\{([^}]+)\}", value, path)


def expected_outcome(rule: Rule | None, method: str, path: str, caller: str, member: bool) -> str:
    """'401', '403', 'hidden' or 'runs'."""
    if (method, path) in PUBLIC:
        return "runs"
    if caller == "anonymous":
        return "401"
    role = Role(caller)
    needed = (
        rule.role if rule else (Role.investigator if method != "GET" and (method, path) not in READING_POSTS else None)
    )
    if needed is not None and not role.allows(needed):
        return "403"
    if rule and rule.target and not member and role is not Role.admin:
        return "hidden"
    return "runs"


async def test_role_route_matrix(
    api_apps: dict[str, FastAPI],
    clients: dict[str, httpx.AsyncClient],
    tokens: dict[str, str],
    accounts: dict[str, str],
    postgres_url: str,
    member_case: int,
    outsider_case: int,
) -> None:
    targets = Targets(postgres_url, owner=accounts["admin"])
    failures: list[str] = []
    checked = 0
    for service, method, path in operations(api_apps):
        if (method, path) in ENDS_SESSIONS:
            continue  # covered with throwaway accounts in test_sessions.py / test_accounts.py
        rule = RULES.get((method, path))
        memberships = (True, False) if rule and rule.target else (True,)
        for caller in CALLERS:
            for member in memberships:
                case_id = member_case if member else outsider_case
                target = targets.make(rule.target, case_id) if rule and rule.target and rule.target != "body" else None
                body = rule.body(case_id) if rule and rule.body else {}
                headers = auth(tokens[caller]) if caller != "anonymous" else {}
                # The member routes name a throwaway member: the viewer's membership must stay.
                url = fill(path, target, username=accounts["admin"])
                response = await clients[service].request(method, url, json=body, headers=headers)
                outcome = expected_outcome(rule, method, path, caller, member)
                status = response.status_code
                ok = {
                    "401": status == 401,
                    "403": status == 403,
                    "hidden": status in (rule.hidden if rule else {404}),
                    "runs": status not in (401, 403)
                    and (status < 500 or (rule is not None and status in rule.also_ok))
                    and not (
                        rule
                        and rule.target
                        and rule.target != "body"
                        and status == 404
                        and "monitor" not in path
                        and 404 not in rule.also_ok
                    )
                    and not (rule and rule.target == "body" and status in rule.hidden),
                }[outcome]
                checked += 1
                if not ok:
                    where = "member" if member else "outsider"
                    wanted = f"{status} (wanted {outcome})"
                    failures.append(f"{method} {path} as {caller} on {where} case: {wanted} {response.text[:160]}")
    assert not failures, "\n".join(failures)
    assert checked >= 100, f"only {checked} calls made"


def test_every_case_scoped_route_has_a_rule(api_apps: dict[str, FastAPI]) -> None:
    missing = []
    for _, method, path in operations(api_apps):
        names = set(re.findall(r"\{([^}]+)\}", path))
        if names & CASE_SCOPED_PARAMETERS and (method, path) not in RULES:
            missing.append(f"{method} {path}")
    assert not missing, f"routes reaching into a case without a rule in RULES: {missing}"


@pytest.mark.parametrize("caller", ["viewer", "investigator"])
async def test_lists_show_only_the_callers_cases(
    caller: str,
    clients: dict[str, httpx.AsyncClient],
    tokens: dict[str, str],
    accounts: dict[str, str],
    postgres_url: str,
    member_case: int,
    outsider_case: int,
) -> None:
    owner = accounts["admin"]
    mine = {
        "session": make_session(postgres_url, case_id=member_case, created_by=owner),
        "report": make_report(postgres_url, case_id=member_case, created_by=owner),
        "profile": make_profile(postgres_url, case_id=member_case, created_by=owner),
    }
    theirs = {
        "session": make_session(postgres_url, case_id=outsider_case, created_by=owner),
        "report": make_report(postgres_url, case_id=outsider_case, created_by=owner),
        "profile": make_profile(postgres_url, case_id=outsider_case, created_by=owner),
    }
    headers = auth(tokens[caller])
    c = clients
    cases = {item["id"] for item in (await c["dashboard"].get("/api/dashboard/cases", headers=headers)).json()}
    assert member_case in cases and outsider_case not in cases
    sessions = {
        item["id"] for item in (await c["analyser"].get("/api/analyser/sessions?limit=1000", headers=headers)).json()
    }
    assert mine["session"] in sessions and theirs["session"] not in sessions
    reports = {item["id"] for item in (await c["reports"].get("/api/reports/reports", headers=headers)).json()}
    assert mine["report"] in reports and theirs["report"] not in reports
    page = (await c["profiles"].get("/api/profiles/profiles?limit=500", headers=headers)).json()
    profiles = {item["id"] for item in page["items"]}
    assert mine["profile"] in profiles and theirs["profile"] not in profiles
    # Asking for the other case by id gives nothing rather than an error that would confirm it exists.
    filtered = await c["profiles"].get(f"/api/profiles/profiles?case_id={outsider_case}", headers=headers)
    assert filtered.json() == {"items": [], "total": 0}
    # Admins see both.
    admin_sessions = await c["analyser"].get("/api/analyser/sessions?limit=1000", headers=auth(tokens["admin"]))
    assert {mine["session"], theirs["session"]} <= {item["id"] for item in admin_sessions.json()}
