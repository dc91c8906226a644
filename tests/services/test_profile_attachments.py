"""Profile attachments: stored once by SHA-256, type sniffed from the bytes, size limit, per-case access."""

from __future__ import annotations

import hashlib

import httpx
import psycopg

from scis.profiles.attachments import MAX_ATTACHMENT_BYTES
from tests.services.conftest import auth
from tests.support.cases import make_case

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_attachments_by_sha256_sniffed_and_limited(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    client = clients["profiles"]
    headers = auth(tokens["investigator"])
    case_id = make_case(postgres_url, created_by="test", members=[accounts["investigator"]])
    profile = {"unique_id": "attached.one", "case_id": case_id}
    profile_id = (await client.post("/api/profiles/profiles", json=profile, headers=headers)).json()["id"]
    url = f"/api/profiles/profiles/{profile_id}/attachments"

    # Claimed to be a PDF: the bytes say PNG, and PNG is what is stored and served.
    claimed = {**headers, "content-type": "application/pdf"}
    first = await client.post(url, params={"filename": "capture écran.pdf"}, content=PNG, headers=claimed)
    assert first.status_code == 201, first.text
    assert first.json()["media_type"] == "image/png"
    assert first.json()["sha256"] == hashlib.sha256(PNG).hexdigest() and first.json()["size"] == len(PNG)
    again = await client.post(url, params={"filename": "same.png"}, content=PNG, headers=headers)
    assert again.status_code == 201
    with psycopg.connect(postgres_url) as conn:
        stored = conn.execute("SELECT count(*) FROM attachment_blobs WHERE sha256 = %s", (first.json()["sha256"],))
        assert stored.fetchone() == (1,)

    listed = (await client.get(url, headers=headers)).json()
    assert [item["filename"] for item in listed] == ["capture écran.pdf", "same.png"]
    served = await client.get(f"{url}/{first.json()['id']}", headers=headers)
    assert served.content == PNG and served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"

    too_big = await client.post(url, params={"filename": "big.bin"}, content=b"x" * (MAX_ATTACHMENT_BYTES + 1),
                                headers=headers)  # fmt: skip
    assert too_big.status_code == 413 and str(MAX_ATTACHMENT_BYTES) in too_big.json()["detail"]
    bad_name = await client.post(url, params={"filename": "../etc/passwd"}, content=b"hello", headers=headers)
    assert bad_name.status_code == 422 and bad_name.json()["errors"][0]["field"] == "query.filename"
    empty = await client.post(url, params={"filename": "empty.txt"}, content=b"", headers=headers)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body"
    assert (await client.get(url, headers=auth(tokens["viewer"]))).status_code == 404
