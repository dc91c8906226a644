"""Regression tests for the SQL explorer's sanitiser: each input below was once judged wrongly."""

from __future__ import annotations

import pytest

from scis.database.sanitiser import UnsafeQuery, check_read_only


@pytest.mark.parametrize(
    "sql",
    [
        # E'' strings take backslash escapes: PostgreSQL runs the DELETE as a second statement.
        "SELECT E'\\'' ; DELETE FROM events; --'",
        # Block comments nest: the first */ does not end the comment, the quote is code.
        "SELECT 1 /* /* */ ' */ ; DELETE FROM events; -- '",
        # A quoted name is still the function.
        'SELECT "pg_sleep"(600)',
        "SELECT \"set_config\"('statement_timeout', '0', true)",
        # Unicode escapes spell any name.
        'SELECT U&"pg\\005fsleep"(600)',
        # Dollar-quote tags may be non-ASCII.
        "SELECT $é$ ' $é$; DELETE FROM events; -- '",
        "SELECT 1 /* never closed",
        "'x' SELECT 1",
    ],
)
def test_refused(sql: str) -> None:
    with pytest.raises(UnsafeQuery):
        check_read_only(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'delete me'",
        'SELECT 1 AS "delete", 2 AS "PG_SLEEP"',
        "SELECT E'it\\'s -- not ; a DROP'",
        "SELECT 1 /* outer /* inner */ still a comment: DROP */",
        "SELECT 1 AS éinsert, 2 AS deleteé",
        "(SELECT 1)",
        "SELECT 1; -- done",
    ],
)
def test_accepted(sql: str) -> None:
    assert check_read_only(sql)
