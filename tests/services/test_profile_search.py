"""Profile search: exact handle first, fuzzy over handle/name/alias/seen handles, filters, stable pages."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from tests.services.conftest import auth
from tests.support.cases import make_case


async def test_search_ranks_exact_handle_first_and_pages_stably(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    client = clients["profiles"]
    headers = auth(tokens["investigator"])
    case_id = make_case(postgres_url, created_by="test", members=[accounts["investigator"]])
    bodies: list[dict[str, Any]] = [
        {"unique_id": "marco.rossi", "display_name": "Marco", "tags": ["fraud"], "risk_level": "high"},
        {"unique_id": "marco.rossi_", "display_name": "Marco bis", "tags": ["fraud"]},
        {"unique_id": "marco.rosso", "display_name": "Another", "aliases": ["Il Capo"], "risk_level": "high"},
        {"unique_id": "someone.else", "display_name": "Unrelated", "tiktok_user_id": 7_123_456_789_012_345},
    ]
    ids = {}
    for body in bodies:
        created = await client.post("/api/profiles/profiles", json={**body, "case_id": case_id}, headers=headers)
        assert created.status_code == 201, created.text
        ids[body["unique_id"]] = created.json()["id"]

    async def search(**params: Any) -> list[str]:
        response = await client.get("/api/profiles/profiles", params={"case_id": case_id, **params}, headers=headers)
        assert response.status_code == 200, response.text
        return [item["unique_id"] for item in response.json()["items"]]

    found = await search(q="@Marco.Rossi")
    assert found[0] == "marco.rossi"
    assert set(found) == {"marco.rossi", "marco.rossi_", "marco.rosso"}
    assert await search(q="marko.rossi") and (await search(q="marko.rossi"))[0].startswith("marco.ross")  # typo
    assert await search(q="il capo") == ["marco.rosso"]
    assert await search(q="7123456789012345") == ["someone.else"]
    assert await search(tag="FRAUD") == ["marco.rossi_", "marco.rossi"]
    assert sorted(await search(risk_level="high")) == ["marco.rossi", "marco.rosso"]

    # A handle the subject was seen with in a capture finds the profile, ranked as an exact handle.
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO subject_aliases (subject_id, kind, value, first_seen_at, last_seen_at)
               SELECT subject_id, 'unique_id', 'old.handle.else', now(), now() FROM profiles WHERE id = %s""",
            (ids["someone.else"],),
        )
    assert (await search(q="old.handle.else"))[0] == "someone.else"

    everything = await search(limit=500)
    paged: list[str] = []
    for offset in range(0, len(everything), 3):
        paged.extend(await search(limit=3, offset=offset))
    assert paged == everything and len(set(paged)) == 4

    bad = await client.get("/api/profiles/profiles", params={"risk_level": "extreme"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.risk_level"
    bad_alias = await client.post(
        "/api/profiles/profiles", json={"unique_id": "alias.check", "aliases": ["ok", " "]}, headers=headers
    )
    assert bad_alias.status_code == 422 and bad_alias.json()["errors"][0]["field"] == "aliases"
    assert "alias 1 is empty" in bad_alias.json()["errors"][0]["problem"]
