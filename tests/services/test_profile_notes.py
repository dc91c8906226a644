"""Profile notes: authored, timestamped, append-only, audited, visible to the case's members only."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from tests.services.conftest import auth
from tests.support.cases import make_case


async def test_notes_are_appended_authored_and_never_changed(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    client = clients["profiles"]
    headers = auth(tokens["investigator"])
    case_id = make_case(postgres_url, created_by="test", members=[accounts["investigator"]])
    profile = {"unique_id": "noted.one", "case_id": case_id}
    created = await client.post("/api/profiles/profiles", json=profile, headers=headers)
    profile_id = created.json()["id"]
    url = f"/api/profiles/profiles/{profile_id}/notes"
    for body in ("first sighting in live A", "correction: it was live B"):
        added = await client.post(url, json={"body": body}, headers=headers)
        assert added.status_code == 201, added.text
        assert added.json()["author"] == accounts["investigator"]
    notes = (await client.get(url, headers=headers)).json()
    assert [note["body"] for note in notes] == ["first sighting in live A", "correction: it was live B"]
    second_page = await client.get(url, params={"after_id": notes[0]["id"]}, headers=headers)
    assert [note["id"] for note in second_page.json()] == [notes[1]["id"]]

    blank = await client.post(url, json={"body": "   "}, headers=headers)
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "body"
    outsider = await client.get(url, headers=auth(tokens["viewer"]))
    assert outsider.status_code == 404

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        with pytest.raises(psycopg.Error):
            conn.execute("UPDATE profile_notes SET body = 'rewritten' WHERE id = %s", (notes[0]["id"],))
        with pytest.raises(psycopg.Error):
            conn.execute("DELETE FROM profile_notes WHERE id = %s", (notes[0]["id"],))
        audited = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'profile.note' AND target = %s", (f"profile:{profile_id}",)
        ).fetchone()
        assert audited == (2,)
