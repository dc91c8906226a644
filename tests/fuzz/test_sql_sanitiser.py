"""The explorer's parser against generated statements, with PostgreSQL's own parser as the judge.

Statements are built from fragments that tend to confuse a checker: quotes of every kind, E'' and
dollar strings, nested and \\r-ended comments, semicolons, write keywords. Whatever check_read_only
accepts is then declared as a cursor on the real server (extended protocol, rolled back, as the
explorer role): PostgreSQL must see exactly one query there — never a second statement and never a
data-modifying one. Anything else the parser does with random text is a refusal that says why.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scis.database.sanitiser import UnsafeQuery, check_read_only

FUZZ = settings(
    max_examples=300, derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
WRITES = ["DELETE FROM events", "UPDATE users SET role = 'admin'", "INSERT INTO cases VALUES (1)", "COMMIT",
          "RESET ROLE", "DROP TABLE events", "SET ROLE postgres", "COPY users TO PROGRAM 'x'"]  # fmt: skip
# Fragments: each is something PostgreSQL lexes in a particular way a naive checker might not.
FRAGMENTS = st.sampled_from(
    [
        "'", "''", '"', "E'\\''", "E'\\\\'", "'\\'", "$$", "$x$", "$é$", "--", "--\r", "\r", "\n", "/*", "*/",
        "/* /* */", ";", " ", "U&'\\0027'", "1", "a", "(", ")", ",", "AS", "FROM events", "WHERE", "x.y",
    ]
    + WRITES
)  # fmt: skip


@st.composite
def statements(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(["SELECT 1", "SELECT kind FROM events", "WITH a AS (SELECT 1) SELECT *", "VALUES (1)"]))
    return head + " " + " ".join(draw(st.lists(FRAGMENTS, max_size=8)))


@pytest.fixture(scope="module")
def explorer(explorer_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(explorer_url) as conn:
        yield conn


def postgresql_verdict(conn: psycopg.Connection, sql: str) -> str:
    """'query' when PostgreSQL takes it as one cursor query, else its error (nothing runs either way)."""
    try:
        with conn.transaction(force_rollback=True), conn.cursor("fuzz") as cur:
            cur.execute(sql.encode())
    except psycopg.Error as error:
        return f"{error.sqlstate}: {error.diag.message_primary}"
    return "query"


@FUZZ
@given(statements())
@example("SELECT 1 --\r; COMMIT")
@example("SELECT E'\\'' ; DELETE FROM events; --'")
@example("SELECT 1 /* /* */ ' */ ; DELETE FROM events; -- '")
@example("SELECT 'x\\'; DELETE FROM events; --'")
@example("SELECT $é$ ' $é$; DELETE FROM events; -- '")
def test_whatever_the_parser_accepts_postgresql_runs_as_one_query(explorer: psycopg.Connection, sql: str) -> None:
    try:
        checked = check_read_only(sql)
    except UnsafeQuery as refusal:
        assert str(refusal)
        return
    verdict = postgresql_verdict(explorer, checked.sql)
    assert "multiple commands" not in verdict, (sql, verdict)
    assert "data-modifying" not in verdict, (sql, verdict)
    assert not verdict.startswith("0A000"), (sql, verdict)


@FUZZ
@given(st.text(max_size=120))
def test_any_text_is_accepted_or_refused_with_a_reason(sql: str) -> None:
    try:
        checked = check_read_only(sql)
    except UnsafeQuery as refusal:
        assert str(refusal), "a refusal says what to change"
        return
    assert checked.sql and not checked.sql.endswith(";")
