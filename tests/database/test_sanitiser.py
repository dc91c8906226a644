"""The SQL explorer's parser layer: what it refuses, what it lets through, and that it says why.

The hostile corpus (tests/security/hostile_sql.py) must be refused by the parser alone; ordinary
analyst queries — including ones that merely mention dangerous words in strings, names or
comments — must pass.
"""

from __future__ import annotations

import pytest

from scis.database.sanitiser import UnsafeQuery, check_read_only
from tests.security.hostile_sql import HOSTILE_SQL

# Refused by the database, not the parser: reading what the explorer role may not read is no write.
REFUSED_BY_PRIVILEGES = {"password hashes", "password hashes, public schema", "grants table", "role passwords"}


@pytest.mark.parametrize(("what", "sql"), [entry for entry in HOSTILE_SQL if entry[0] not in REFUSED_BY_PRIVILEGES])
def test_the_parser_alone_refuses_the_hostile_corpus(what: str, sql: str) -> None:
    with pytest.raises(UnsafeQuery) as refusal:
        check_read_only(sql)
    assert str(refusal.value), "a refusal says what to change"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'delete me'",
        'SELECT 1 AS "delete", 2 AS "PG_SLEEP"',
        "SELECT E'it\\'s -- not ; a DROP'",
        "SELECT 1 /* outer /* inner */ still a comment: DROP */",
        "SELECT 1 -- a comment that says DELETE FROM events",
        "(SELECT 1)",
        "SELECT 1; -- done",
        "SELECT $$ DELETE FROM events $$",
        "SELECT U&'d\\0061ta'",
        "WITH recent AS (SELECT * FROM events ORDER BY captured_at DESC LIMIT 10)"
        " SELECT kind, count(*) FROM recent GROUP BY 1",
        "SELECT kind, count(*) FILTER (WHERE inferred) FROM events GROUP BY kind HAVING count(*) > 1 ORDER BY 2 DESC",
        "SELECT e.body, s.target FROM events e JOIN live_sessions s ON s.id = e.session_id WHERE e.body ILIKE '%gift%'",
        "SELECT data->>'gift' FROM events WHERE data @> '{\"a\": 1}'",
        "SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 3",
        "VALUES (1, 'a'), (2, 'b')",
        "TABLE cases",
        "SELECT pg_sleep(0.1)",
        "SELECT current_setting('statement_timeout')",
        "EXPLAIN SELECT * FROM events",
        "EXPLAIN ANALYZE SELECT count(*) FROM events",
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT 1",
        "SELECT row_number() OVER (PARTITION BY kind ORDER BY seq) FROM events",
        "SELECT * FROM generate_series(1, 3) AS g(n)",
    ],
)
def test_ordinary_queries_pass(sql: str) -> None:
    assert check_read_only(sql).sql


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("SELECT * FROM\nWHERE x", "line 2"),
        ("SELECT 'never closed", "cannot be read"),
        ("SELECT 1 /* never closed", "cannot be read"),
        ("", "empty"),
        ("   -- only a comment", "empty"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("EXPLAIN", "needs the query"),
        ("EXPLAIN (BOGUS) SELECT 1", "BOGUS"),
        ("SELECT pg_sleep(60)", "up to 5"),
        ("SELECT lo_creat(-1)", "lo_creat"),
    ],
)
def test_refusals_say_where_and_why(sql: str, says: str) -> None:
    with pytest.raises(UnsafeQuery, match=says):
        check_read_only(sql, max_sleep_seconds=5)


def test_explain_is_marked_so_it_runs_without_a_cursor() -> None:
    assert check_read_only("EXPLAIN ANALYZE SELECT 1").explain
    assert not check_read_only("SELECT 1").explain
