"""Per-case access cost: listing sessions and reading a case as a member vs as an admin.

A database with 1,000 cases and 50,000 sessions; the investigator belongs to 50 cases. Median time
of the sessions list (100 newest, the filter in SQL) and of one membership check (require_member),
over repeated calls on one connection. Goals: the filtered list costs at most 3x the admin's
unfiltered one, and a membership check at most 2x a bare `SELECT 1` round trip (one query).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import psycopg

from bench.scratch import scratch_postgres
from scis.core import cases
from scis.core.auth.models import Role, User
from scis.lives import service as lives

CASES = 1_000
SESSIONS = 50_000
MEMBER_OF = 50
REPEATS = 200


def seed(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (username, password_hash, role) VALUES ('bench.inv', 'x', 'investigator')")
        conn.execute(
            """INSERT INTO cases (reference, title, created_by)
               SELECT 'B-' || g, 'bench case ' || g, 'bench' FROM generate_series(1, %s) g""",
            (CASES,),
        )
        conn.execute(
            """INSERT INTO case_members (case_id, username, added_by)
               SELECT id, 'bench.inv', 'bench' FROM cases ORDER BY id LIMIT %s""",
            (MEMBER_OF,),
        )
        conn.execute(
            """INSERT INTO live_sessions (id, case_id, target, source, status, started_at, created_by)
               SELECT gen_random_uuid(), (SELECT min(id) FROM cases) + (g %% %s), 'bench', 'replay', 'ended',
                      now() - make_interval(secs => g), 'bench'
                 FROM generate_series(1, %s) g""",
            (CASES, SESSIONS),
        )
        conn.execute("ANALYZE")


async def median_ms(call: Any) -> float:
    for _ in range(10):
        await call()
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def measure(url: str) -> list[dict[str, object]]:
    admin = User(username="bench.admin", role=Role.admin)
    investigator = User(username="bench.inv", role=Role.investigator)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT min(case_id) FROM case_members WHERE username = 'bench.inv'")
        row = await cur.fetchone()
        assert row is not None
        member_case = int(row[0])
        admin_list = await median_ms(lambda: lives.list_sessions(conn, user=admin, active_only=False))
        member_list = await median_ms(lambda: lives.list_sessions(conn, user=investigator, active_only=False))
        check = await median_ms(lambda: cases.require_member(conn, user=investigator, case_id=member_case))
        round_trip = await median_ms(lambda: conn.execute("SELECT 1"))
    ratio = round(member_list / admin_list, 2)
    return [
        {"name": "access.sessions_list_admin", "value": round(admin_list, 2), "unit": "ms", "baseline": None,
         "ratio": None, "goal": "reference"},
        {"name": "access.sessions_list_member_of_50", "value": round(member_list, 2), "unit": "ms",
         "baseline": round(admin_list, 2), "ratio": ratio, "goal": "ratio <= 3"},
        {"name": "access.require_member", "value": round(check, 3), "unit": "ms", "baseline": round(round_trip, 3),
         "ratio": round(check / round_trip, 2), "goal": "ratio <= 2 (baseline: SELECT 1)"},
    ]  # fmt: skip


def run() -> list[dict[str, object]]:
    with scratch_postgres("access") as (_, server):
        seed(server.url)
        return asyncio.run(measure(server.url))


if __name__ == "__main__":
    for result in run():
        print(result)
