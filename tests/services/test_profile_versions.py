"""Profiles: ETag/If-Match (412 on a stale write), soft delete audited, and a cache no reader sees stale."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg

from tests.services.conftest import auth
from tests.support.cases import make_case


async def new_profile(client: httpx.AsyncClient, token: str, case_id: int, handle: str) -> httpx.Response:
    created = await client.post(
        "/api/profiles/profiles", json={"unique_id": handle, "case_id": case_id}, headers=auth(token)
    )
    assert created.status_code == 201, created.text
    return created


async def test_stale_write_gets_412_and_soft_delete_is_kept_and_audited(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    client = clients["profiles"]
    token = tokens["investigator"]
    case_id = make_case(postgres_url, created_by="test", members=[accounts["investigator"]])
    profile_id = (await new_profile(client, token, case_id, "etag.user")).json()["id"]
    url = f"/api/profiles/profiles/{profile_id}"

    read = await client.get(url, headers=auth(token))
    first_etag = read.headers["etag"]
    assert first_etag == f'"profile-{profile_id}-v1"'
    changed = await client.patch(url, json={"risk_level": "high"}, headers={**auth(token), "if-match": first_etag})
    assert changed.status_code == 200 and changed.headers["etag"] == f'"profile-{profile_id}-v2"'

    # A second analyst still holding the first copy: refused, and nothing of theirs is stored.
    stale = await client.patch(url, json={"risk_level": "low"}, headers={**auth(token), "if-match": first_etag})
    assert stale.status_code == 412
    assert "version 2" in stale.json()["detail"]
    assert (await client.get(url, headers=auth(token))).json()["risk_level"] == "high"
    garbage = await client.patch(url, json={"risk_level": "low"}, headers={**auth(token), "if-match": '"nope"'})
    assert garbage.status_code == 412

    stale_delete = await client.delete(url, headers={**auth(token), "if-match": first_etag})
    assert stale_delete.status_code == 412
    deleted = await client.delete(url, headers={**auth(token), "if-match": changed.headers["etag"]})
    assert deleted.status_code == 204
    assert (await client.get(url, headers=auth(token))).status_code == 404
    listed = await client.get(f"/api/profiles/profiles?case_id={case_id}", headers=auth(token))
    assert listed.json()["total"] == 0
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT deleted_by, version FROM profiles WHERE id = %s", (profile_id,)).fetchone()
        assert row == (accounts["investigator"], 3)
        audit = conn.execute(
            "SELECT details FROM audit_log WHERE action = 'profile.delete' AND target = %s", (f"profile:{profile_id}",)
        ).fetchone()
        assert audit is not None and audit[0]["soft"] is True


async def test_no_reader_sees_a_profile_older_than_the_last_acknowledged_write(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    client = clients["profiles"]
    token = tokens["investigator"]
    case_id = make_case(postgres_url, created_by="test", members=[accounts["investigator"]])
    profile_id = (await new_profile(client, token, case_id, "hot.user")).json()["id"]
    url = f"/api/profiles/profiles/{profile_id}"
    acknowledged = 0  # the highest version whose write has been answered
    violations: list[str] = []
    writes_done = asyncio.Event()

    async def writer(number: int) -> None:
        nonlocal acknowledged
        for index in range(10):
            response = await client.patch(url, json={"notes": f"w{number}-{index}"}, headers=auth(token))
            assert response.status_code == 200, response.text
            acknowledged = max(acknowledged, response.json()["version"])
            await asyncio.sleep(0)

    async def reader() -> None:
        while not writes_done.is_set():
            floor = acknowledged  # acknowledged before this read was sent
            response = await client.get(url, headers=auth(token))
            body: dict[str, Any] = response.json()
            if body["version"] < floor:
                violations.append(f"read version {body['version']} after version {floor} was acknowledged")
            await asyncio.sleep(0)

    readers = [asyncio.create_task(reader()) for _ in range(6)]
    await asyncio.gather(*(writer(number) for number in range(3)))
    writes_done.set()
    await asyncio.gather(*readers)
    assert violations == []
    final = await client.get(url, headers=auth(token))
    assert final.json()["version"] == 31  # 1 + 30 acknowledged writes, none lost
