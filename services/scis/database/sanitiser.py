"""Refusing, with a reason, any SQL that is not one read-only statement.

This is the first line; the second is the database itself (a READ ONLY transaction run as the
`scis_reader` role under a statement timeout), so a statement this misses still cannot write.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

ALLOWED_FIRST_WORDS = {"select", "with", "values", "table", "explain"}
FORBIDDEN_WORDS = {
    "insert",
    "update",
    "delete",
    "merge",
    "truncate",
    "drop",
    "alter",
    "create",
    "grant",
    "revoke",
    "copy",
    "call",
    "do",
    "set",
    "reset",
    "lock",
    "vacuum",
    "analyze",
    "listen",
    "notify",
    "prepare",
    "execute",
    "deallocate",
    "discard",
    "refresh",
    "reindex",
    "cluster",
    "comment",
    "security",
    "into",
}
FORBIDDEN_FUNCTIONS = {
    "pg_sleep",
    "pg_sleep_for",
    "pg_sleep_until",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "lo_import",
    "lo_export",
    "lo_get",
    "dblink",
    "dblink_exec",
    "set_config",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "query_to_xml",
    "pg_advisory_lock",
    "pg_advisory_xact_lock",
    "txid_current",
    "nextval",
    "setval",
}
# PostgreSQL's lexical rules, as far as telling code from literals and comments needs them: E'' strings
# take backslash escapes, identifiers may hold any non-ASCII character, a dollar-quote tag too.
_IDENT_START = r"A-Za-z_\u0080-\U0010ffff"
_IDENT_CONT = _IDENT_START + r"0-9$"
_TOKEN = re.compile(
    rf"""(?P<comment>--[^\n]*)
      | (?P<estring>[Ee]'(?:[^'\\]|\\.|'')*')
      | (?P<uident>[Uu]&")
      | (?P<string>'(?:[^']|'')*')
      | (?P<ident>"(?:[^"]|"")*")
      | (?P<dollar>\$(?:[{_IDENT_START}][{_IDENT_START}0-9]*)?\$)
      | (?P<word>[{_IDENT_START}][{_IDENT_CONT}]*)
      | (?P<semicolon>;)
      | (?P<other>\S)""",
    re.VERBOSE | re.DOTALL,
)
_SPACE = re.compile(r"\s*")


class UnsafeQuery(ValueError):
    """The statement is refused; the message says what to change."""


def _block_comment_end(sql: str, start: int) -> int:
    """Where the /* comment at `start` ends; PostgreSQL nests them: /* a /* b */ still a comment */."""
    depth, position = 0, start
    while position < len(sql):
        if sql.startswith("/*", position):
            depth, position = depth + 1, position + 2
        elif sql.startswith("*/", position):
            depth, position = depth - 1, position + 2
            if depth == 0:
                return position
        else:
            position += 1
    raise UnsafeQuery("a /* comment is not closed; end it with */")


def _tokens(sql: str) -> Iterator[tuple[str, str]]:
    """(kind, text) of every token outside comments."""
    position = 0
    while True:
        match = _SPACE.match(sql, position)
        position = match.end() if match else position
        if position >= len(sql):
            return
        if sql.startswith("/*", position):
            position = _block_comment_end(sql, position)
            continue
        token = _TOKEN.match(sql, position)
        assert token is not None and token.lastgroup is not None  # `other` matches any non-space
        position = token.end()
        if token.lastgroup != "comment":
            yield token.lastgroup, token.group()


def check_read_only(sql: str) -> str:
    """The statement without a trailing semicolon, or UnsafeQuery naming the first problem."""
    words: list[str] = []
    first: tuple[str, str] | None = None
    statements_ended = False
    for kind, text in _tokens(sql):
        if kind == "dollar":
            raise UnsafeQuery("dollar-quoted strings are not allowed; use ordinary 'quotes'")
        if kind == "uident":
            raise UnsafeQuery('Unicode-escaped identifiers (U&"…") are not allowed; write the name plainly')
        if statements_ended:
            raise UnsafeQuery("only one statement is allowed; remove everything after the ';'")
        first = first or (kind, text)
        if kind == "semicolon":
            statements_ended = True
        elif kind == "word":
            words.append(text.lower())
        elif kind == "ident" and text[1:-1].replace('""', '"') in FORBIDDEN_FUNCTIONS:
            # A quoted name is still the function: "pg_sleep"(5) calls pg_sleep.
            raise UnsafeQuery(f"the function {text[1:-1]}() is not allowed in the explorer")
    if not words or first is None:
        raise UnsafeQuery("the query is empty")
    if first != ("other", "(") and (first[0] != "word" or words[0] not in ALLOWED_FIRST_WORDS):
        start = words[0].upper() if first[0] == "word" else first[1]
        raise UnsafeQuery(f"queries must start with SELECT, WITH, VALUES, TABLE or EXPLAIN, not {start}")
    if words[0] not in ALLOWED_FIRST_WORDS:
        raise UnsafeQuery(f"queries must start with SELECT, WITH, VALUES, TABLE or EXPLAIN, not {words[0].upper()}")
    for position, word in enumerate(words):
        if word in FORBIDDEN_WORDS and not (word == "analyze" and position == 0):
            raise UnsafeQuery(f"{word.upper()} is not allowed in the explorer: it is read-only")
        if word in FORBIDDEN_FUNCTIONS:
            raise UnsafeQuery(f"the function {word}() is not allowed in the explorer")
    return sql.strip().rstrip(";").strip()
