"""Refusing, with a reason, any SQL that is not one read-only statement.

This is the first line; the second is the database itself (a READ ONLY transaction run as the
`scis_reader` role under a statement timeout), so a statement this misses still cannot write.
"""

from __future__ import annotations

import re

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
_TOKEN = re.compile(
    r"""(?P<comment>--[^\n]*|/\*.*?\*/)
      | (?P<string>'(?:[^']|'')*')
      | (?P<ident>"(?:[^"]|"")*")
      | (?P<dollar>\$[A-Za-z_0-9]*\$)
      | (?P<word>[A-Za-z_][A-Za-z_0-9$]*)
      | (?P<semicolon>;)
      | (?P<other>\S)""",
    re.VERBOSE | re.DOTALL,
)


class UnsafeQuery(ValueError):
    """The statement is refused; the message says what to change."""


def check_read_only(sql: str) -> str:
    """The statement without a trailing semicolon, or UnsafeQuery naming the first problem."""
    words: list[str] = []
    statements_ended = False
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup
        text = match.group()
        if kind == "comment":
            continue
        if kind == "dollar":
            raise UnsafeQuery("dollar-quoted strings are not allowed; use ordinary 'quotes'")
        if statements_ended:
            raise UnsafeQuery("only one statement is allowed; remove everything after the ';'")
        if kind == "semicolon":
            statements_ended = True
        elif kind == "word":
            words.append(text.lower())
    if not words:
        raise UnsafeQuery("the query is empty")
    if words[0] not in ALLOWED_FIRST_WORDS:
        raise UnsafeQuery(f"queries must start with SELECT, WITH, VALUES, TABLE or EXPLAIN, not {words[0].upper()}")
    for position, word in enumerate(words):
        if word in FORBIDDEN_WORDS and not (word == "analyze" and position == 0):
            raise UnsafeQuery(f"{word.upper()} is not allowed in the explorer: it is read-only")
        if word in FORBIDDEN_FUNCTIONS:
            raise UnsafeQuery(f"the function {word}() is not allowed in the explorer")
    return sql.strip().rstrip(";").strip()
