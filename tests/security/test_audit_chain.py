"""The audit log is a hash chain: rows changed, deleted or inserted with the triggers bypassed are named.

Each attack runs as the PostgreSQL superuser on a database of its own, with the append-only and
chain triggers switched off (`session_replication_role = replica`), as an intruder would.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

from scis.core.audit.chain import AuditChainVerdict, verify_audit_chain
from tests.support.databases import scratch_database

SEAL_EVERY = 100


@pytest.fixture
def audit_db(superuser_url: str) -> Iterator[str]:
    """A freshly migrated database with 5 audit rows (as the superuser: the attacks bypass triggers)."""
    with scratch_database(superuser_url) as url:
        append(url, 5)
        yield url


def append(url: str, count: int, actor: str = "t-admin") -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for number in range(count):
            conn.execute(
                "INSERT INTO audit_log (actor, role, action, target, details) VALUES (%s, 'admin', 'test.act', %s, %s)",
                (actor, f"thing:{number}", psycopg.types.json.Jsonb({"n": number, "note": "é\\|:"})),
            )


def tamper(url: str, *statements: str) -> None:
    """Run statements as the superuser with every trigger bypassed."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def verify(url: str) -> AuditChainVerdict:
    async def run() -> AuditChainVerdict:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return await verify_audit_chain(conn)

    return asyncio.run(run())


def row_id(url: str, seq: int) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT id FROM audit_log WHERE chain_seq = %s", (seq,)).fetchone()
        assert row is not None
        return int(row[0])


def test_an_untouched_chain_is_intact(audit_db: str) -> None:
    verdict = verify(audit_db)
    assert verdict.intact, verdict.describe()
    assert verdict.rows_checked == 5 and verdict.head_seq == 5


def test_an_edited_row_is_named(audit_db: str) -> None:
    edited = row_id(audit_db, 3)
    tamper(audit_db, f"UPDATE audit_log SET actor = 'someone-else' WHERE id = {edited}")
    verdict = verify(audit_db)
    assert not verdict.intact and verdict.failure is not None
    assert (verdict.failure.id, verdict.failure.chain_seq, verdict.failure.check) == (edited, 3, "changed")
    assert f"row id {edited} (chain seq 3): changed" in verdict.describe()


def test_an_edited_json_detail_is_named(audit_db: str) -> None:
    edited = row_id(audit_db, 2)
    tamper(audit_db, f"""UPDATE audit_log SET details = details || '{{"n": 99}}' WHERE id = {edited}""")
    failure = verify(audit_db).failure
    assert failure is not None and (failure.id, failure.check) == (edited, "changed")


def test_an_edit_with_a_recomputed_hash_is_caught_at_the_next_row(audit_db: str) -> None:
    edited, following = row_id(audit_db, 2), row_id(audit_db, 3)
    tamper(
        audit_db,
        f"UPDATE audit_log SET actor = 'x' WHERE id = {edited}",
        f"UPDATE audit_log a SET row_hash = scis_audit_link(a.prev_hash, scis_audit_canonical(a)) WHERE id = {edited}",
    )
    failure = verify(audit_db).failure
    assert failure is not None and (failure.id, failure.check) == (following, "out_of_order")
    assert f"row id {edited}" in failure.detail


def test_a_deleted_row_is_named(audit_db: str) -> None:
    tamper(audit_db, f"DELETE FROM audit_log WHERE id = {row_id(audit_db, 3)}")
    failure = verify(audit_db).failure
    assert failure is not None
    assert (failure.chain_seq, failure.check) == (4, "missing")
    assert "seq 3 deleted" in failure.detail


def test_deleted_last_rows_are_named_by_the_head(audit_db: str) -> None:
    tamper(audit_db, "DELETE FROM audit_log WHERE chain_seq >= 4")
    failure = verify(audit_db).failure
    assert failure is not None and (failure.chain_seq, failure.check) == (4, "head")
    assert "rows after seq 3 were deleted" in failure.detail


def test_a_truncated_log_is_named(audit_db: str) -> None:
    tamper(audit_db, "TRUNCATE audit_log")
    failure = verify(audit_db).failure
    assert failure is not None and failure.check == "head"


def test_a_row_inserted_out_of_order_is_named(audit_db: str) -> None:
    # A forged row slipped between seq 2 and 3: the real seq 3.. move up, their links no longer fit.
    tamper(
        audit_db,
        "UPDATE audit_log SET chain_seq = chain_seq + 1000 WHERE chain_seq >= 3",
        "UPDATE audit_log SET chain_seq = chain_seq - 999 WHERE chain_seq >= 1003",
        """INSERT INTO audit_log (actor, role, action, chain_seq, prev_hash, row_hash)
           SELECT 'intruder', 'admin', 'user.create', 3, row_hash, repeat('f', 64)
           FROM audit_log WHERE chain_seq = 2""",
    )
    forged = row_id(audit_db, 3)
    failure = verify(audit_db).failure
    assert failure is not None and (failure.id, failure.chain_seq, failure.check) == (forged, 3, "changed")


def test_a_row_inserted_without_a_link_is_named(audit_db: str) -> None:
    tamper(
        audit_db,
        "ALTER TABLE audit_log ALTER COLUMN chain_seq DROP NOT NULL",
        "INSERT INTO audit_log (actor, action, prev_hash, row_hash) VALUES ('intruder', 'x', '', '')",
    )
    failure = verify(audit_db).failure
    assert failure is not None and failure.check == "outside_chain"


def test_rewriting_the_whole_chain_is_caught_by_a_seal(audit_db: str) -> None:
    append(audit_db, SEAL_EVERY)  # seq 100 gets sealed
    with psycopg.connect(audit_db) as conn:
        assert conn.execute("SELECT seq FROM audit_seals").fetchall() == [(SEAL_EVERY,)]
    # The intruder edits row 1 and recomputes every later link, but leaves the seals alone.
    tamper(
        audit_db,
        "UPDATE audit_log SET actor = 'x' WHERE chain_seq = 1",
        """DO $$ DECLARE r audit_log; prev text := repeat('0', 64); BEGIN
             FOR r IN SELECT * FROM audit_log ORDER BY chain_seq LOOP
               UPDATE audit_log SET prev_hash = prev, row_hash = scis_audit_link(prev, scis_audit_canonical(r))
                 WHERE id = r.id RETURNING row_hash INTO prev;
             END LOOP;
             UPDATE audit_chain_head SET last_hash = prev; END $$""",
    )
    failure = verify(audit_db).failure
    assert failure is not None and (failure.chain_seq, failure.check) == (SEAL_EVERY, "seal")


def test_concurrent_inserts_stay_one_chain(audit_db: str) -> None:
    async def writer(number: int) -> None:
        async with await psycopg.AsyncConnection.connect(audit_db, autocommit=True) as conn:
            for item in range(15):
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO audit_log (actor, action, target) VALUES (%s, 'test.concurrent', %s)",
                        (f"w{number}", str(item)),
                    )

    async def all_writers() -> None:
        await asyncio.gather(*(writer(number) for number in range(8)))

    asyncio.run(all_writers())
    verdict = verify(audit_db)
    assert verdict.intact, verdict.describe()
    assert verdict.rows_checked == 5 + 8 * 15 and verdict.seals_checked == 1


def test_triggers_refuse_changing_audit_history(audit_db: str) -> None:
    append(audit_db, SEAL_EVERY)
    statements = (
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DELETE FROM audit_seals",
        "TRUNCATE audit_seals",
        "DELETE FROM audit_chain_head",
        "TRUNCATE audit_chain_head",
    )
    with psycopg.connect(audit_db, autocommit=True) as conn:
        for statement in statements:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)  # type: ignore[arg-type]


def test_scis_verify_audit_names_the_row_and_exits_1(audit_db: str) -> None:
    scis = [sys.executable, "-m", "scis", "verify", "--audit", "--database-url", audit_db]
    intact = subprocess.run(scis, capture_output=True, text=True, timeout=120)
    assert intact.returncode == 0, intact.stderr
    assert "audit log: intact, 5 rows" in intact.stdout
    edited = row_id(audit_db, 4)
    tamper(audit_db, f"UPDATE audit_log SET target = 'case:999' WHERE id = {edited}")
    tampered = subprocess.run([*scis, "--json"], capture_output=True, text=True, timeout=120)
    assert tampered.returncode == 1, tampered.stderr
    report = json.loads(tampered.stdout)
    assert report["failure"]["id"] == edited and report["failure"]["check"] == "changed"
    assert f"TAMPERED at row id {edited} (chain seq 4)" in report["summary"]
