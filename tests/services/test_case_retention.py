"""A case's retention (migration 0035, decision 913): set, changed, cleared and refused through the API."""

from __future__ import annotations

import uuid

import httpx

from tests.services.conftest import auth
from tests.services.test_bad_input import assert_explains


async def test_a_case_retention_is_set_changed_kept_and_cleared(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    dashboard, headers = clients["dashboard"], auth(tokens["investigator"])
    body = {"reference": f"T-RET-{uuid.uuid4().hex[:8]}", "title": "Retention", "retention_days": 90}
    created = await dashboard.post("/api/dashboard/cases", json=body, headers=headers)
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["retention_days"] == 90
    url = f"/api/dashboard/cases/{case['id']}"

    changed = await dashboard.patch(url, json={"retention_days": 30}, headers=headers)
    assert changed.status_code == 200 and changed.json()["retention_days"] == 30
    untouched = await dashboard.patch(url, json={"title": "Retention, renamed"}, headers=headers)
    assert untouched.json()["retention_days"] == 30  # left out: unchanged
    cleared = await dashboard.patch(url, json={"retention_days": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.json()["retention_days"] is None  # null: kept for good
    assert (await dashboard.get(url, headers=headers)).json()["retention_days"] is None

    default = await dashboard.post(
        "/api/dashboard/cases", json={"reference": f"T-RET-{uuid.uuid4().hex[:8]}", "title": "No retention"},
        headers=headers,
    )  # fmt: skip
    assert default.json()["retention_days"] is None


async def test_a_retention_out_of_range_is_refused_by_field(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    dashboard, headers = clients["dashboard"], auth(tokens["investigator"])
    for days in (0, -5, 36_501, "a year"):
        body = {"reference": f"T-RET-{uuid.uuid4().hex[:8]}", "title": "Bad retention", "retention_days": days}
        assert_explains(await dashboard.post("/api/dashboard/cases", json=body, headers=headers), "retention_days")
    created = await dashboard.post(
        "/api/dashboard/cases", json={"reference": f"T-RET-{uuid.uuid4().hex[:8]}", "title": "Good"}, headers=headers
    )
    problem = assert_explains(
        await dashboard.patch(
            f"/api/dashboard/cases/{created.json()['id']}", json={"retention_days": 0}, headers=headers
        ),
        "retention_days",
    )
    assert problem["value"] == 0
