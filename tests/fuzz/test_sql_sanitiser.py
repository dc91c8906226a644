"""The SQL explorer's sanitiser against generated statements whose meaning to PostgreSQL is known.

Each statement is built from tokens that carry what PostgreSQL makes of them (code word, string,
quoted identifier, comment, `;`), so the truth is known without a parser: whatever
check_read_only accepts must be one statement that starts with an allowed word and uses no
forbidden word or function outside literals; and a statement that is safe must not be refused
merely because a forbidden word sits inside a literal, a quoted identifier or a comment.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scis.database.sanitiser import (
    ALLOWED_FIRST_WORDS,
    FORBIDDEN_FUNCTIONS,
    FORBIDDEN_WORDS,
    UnsafeQuery,
    check_read_only,
)

FUZZ = settings(
    max_examples=400, derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
PLAIN_WORDS = ["users", "events", "kind", "body", "from", "where", "and", "or", "not", "as", "limit", "order", "by"]
DANGEROUS = sorted(FORBIDDEN_WORDS | FORBIDDEN_FUNCTIONS)


@dataclass(frozen=True)
class Token:
    text: str
    role: str  # "word", "string", "ident", "comment", "semicolon", "other"
    value: str = ""  # a word in lower case; a quoted identifier's name


def _cased(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.upper(), word.capitalize()])


# Text that confuses a naive scanner: quotes of both kinds, backslashes, comment starts, semicolons.
_TRICKY = st.lists(
    st.sampled_from(DANGEROUS + ["'", '"', "\\", "--", "/*", "*/", ";", " ", "\n", "x", "$$", "é"]), max_size=6
).map("".join)


def _words() -> st.SearchStrategy[Token]:
    plain = st.sampled_from(PLAIN_WORDS + sorted(ALLOWED_FIRST_WORDS))
    dangerous = st.sampled_from(DANGEROUS)
    # PostgreSQL identifiers may hold any non-ASCII letter: éinsert is one name, not INSERT.
    accented = st.sampled_from(DANGEROUS).flatmap(lambda w: st.sampled_from([f"é{w}", f"{w}é", f"{w}_ü"]))
    return st.one_of(plain, dangerous, accented).flatmap(
        lambda w: _cased(w).map(lambda text: Token(text, "word", text.lower()))
    )


def _strings() -> st.SearchStrategy[Token]:
    standard = _TRICKY.map(lambda s: Token("'" + s.replace("'", "''") + "'", "string"))
    # E'' strings take backslash escapes: \' is a quote that does not end the string.
    escaped = _TRICKY.map(lambda s: Token("E'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'", "string"))
    return standard | escaped


def _idents() -> st.SearchStrategy[Token]:
    name = (_TRICKY | st.sampled_from(DANGEROUS)).filter(bool)
    return name.map(lambda n: Token('"' + n.replace('"', '""') + '"', "ident", n))


def _comments() -> st.SearchStrategy[Token]:
    body = _TRICKY.map(lambda s: s.replace("*/", "").replace("/*", ""))
    line = body.map(lambda s: Token("--" + s.replace("\n", " ") + "\n", "comment"))
    block = body.map(lambda s: Token(f"/*{s}*/", "comment"))
    # PostgreSQL nests block comments: the first */ does not end this one.
    nested = st.tuples(body, body, body).map(lambda p: Token(f"/*{p[0]}/*{p[1]}*/{p[2]}*/", "comment"))
    return line | block | nested


_OTHER = st.sampled_from(["1", "2.5", ",", "(", ")", "*", "=", "<", ">", "."]).map(lambda t: Token(t, "other"))
_TOKENS = st.one_of(_words(), _strings(), _idents(), _comments(), _OTHER, st.just(Token(";", "semicolon")))


@st.composite
def statements(draw: st.DrawFn) -> list[Token]:
    first = draw(st.sampled_from(sorted(ALLOWED_FIRST_WORDS)).flatmap(_cased) | st.sampled_from(DANGEROUS))
    return [Token(first, "word", first.lower()), *draw(st.lists(_TOKENS, max_size=10))]


def truly_safe(tokens: list[Token]) -> bool:
    """What PostgreSQL would run is one statement that starts with an allowed word and cannot write."""
    code = [token for token in tokens if token.role != "comment"]
    if not code or code[0].role != "word" or code[0].value not in ALLOWED_FIRST_WORDS:
        return False
    for position, token in enumerate(code):
        if token.role == "semicolon" and position != len(code) - 1:
            return False
        if token.role == "word" and token.value in FORBIDDEN_WORDS | FORBIDDEN_FUNCTIONS:
            return False
        if token.role == "ident" and token.value in FORBIDDEN_FUNCTIONS:
            return False
    return True


def accepted(sql: str) -> bool:
    try:
        check_read_only(sql)
    except UnsafeQuery:
        return False
    return True


@FUZZ
@given(statements())
@example([Token("SELECT", "word", "select"), Token("E'\\''", "string"), Token(";", "semicolon"),
          Token("DELETE", "word", "delete")])  # fmt: skip
@example([Token("SELECT", "word", "select"), Token("/* /* */ ' */", "comment"), Token(";", "semicolon"),
          Token("DELETE", "word", "delete")])  # fmt: skip
@example([Token("SELECT", "word", "select"), Token('"pg_sleep"', "ident", "pg_sleep"), Token("(", "other")])
@example([Token("SELECT", "word", "select"), Token("éinsert", "word", "éinsert")])
def test_the_sanitiser_agrees_with_what_postgresql_would_run(tokens: list[Token]) -> None:
    sql = " ".join(token.text for token in tokens)
    if accepted(sql):
        assert truly_safe(tokens), f"accepted although PostgreSQL would run more than a read: {sql!r}"
    else:
        assert not truly_safe(tokens), f"refused although it is one read-only statement: {sql!r}"


@FUZZ
@given(st.sampled_from(DANGEROUS), st.sampled_from(["'{}'", "E'{}'", '"{}"', "-- {}\n", "/* {} */"]))
def test_a_forbidden_word_inside_a_literal_or_comment_is_not_refused(word: str, shape: str) -> None:
    literal = shape.format(word)
    if shape == '"{}"' and word in FORBIDDEN_FUNCTIONS:
        literal = shape.format(word.upper())  # "PG_SLEEP" is another name than pg_sleep: quoted names keep case
    assert accepted(f"SELECT {literal}"), literal
    assert accepted(f"SELECT 1 AS a, {literal} FROM users WHERE kind = 'x'"), literal


@FUZZ
@given(st.sampled_from(sorted(FORBIDDEN_WORDS)), st.sampled_from(["SELECT 1 {} x", "WITH a AS (SELECT 1) {} x"]))
def test_a_forbidden_word_outside_literals_is_refused(word: str, shape: str) -> None:
    with pytest.raises(UnsafeQuery, match=word.upper()):
        check_read_only(shape.format(word))


@FUZZ
@given(st.text(max_size=80))
def test_anything_accepted_starts_with_an_allowed_word(sql: str) -> None:
    try:
        statement = check_read_only(sql)
    except UnsafeQuery as refusal:
        assert str(refusal), "a refusal says what to change"
        return
    assert statement and not statement.endswith(";")
