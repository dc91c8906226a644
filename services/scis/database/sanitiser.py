"""Refusing, with a reason, any SQL that is not one read-only query — decided by a real SQL parser.

sqlglot parses the statement with its PostgreSQL dialect; the check walks the whole tree, so a write
hidden in a CTE, a subquery or behind comments and odd string syntax is found where it is, not by
looking for words. This is one layer of three (docs/decisions/301-*.md): the query then runs as the
`scis_explorer` role, which can only SELECT from the `explorer` views, inside a READ ONLY transaction
and a server-side cursor that PostgreSQL itself limits to one SELECT. Each layer alone stops writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

# sqlglot logs a warning for every statement it keeps as raw text; the check refuses those itself.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

_DIALECT = Postgres()

# Nodes that change data, schema, session or transaction state, wherever they appear in the tree.
DENIED_NODES: dict[type[exp.Expr], str] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
    exp.Merge: "MERGE",
    exp.Into: "SELECT … INTO",
    exp.Create: "CREATE",
    exp.Drop: "DROP",
    exp.Alter: "ALTER",
    exp.TruncateTable: "TRUNCATE",
    exp.Copy: "COPY",
    exp.Command: "this command",
    exp.Set: "SET",
    exp.Transaction: "transaction control",
    exp.Commit: "COMMIT",
    exp.Rollback: "ROLLBACK",
    exp.Lock: "FOR UPDATE / FOR SHARE row locks",
    exp.Grant: "GRANT",
}

# Functions that read or write files or programs, reach other servers, write large objects or
# sequences, change settings, hold locks past the query, signal other sessions, or write WAL.
DENIED_FUNCTIONS = frozenset(
    {
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "pg_file_write",
        "pg_file_rename",
        "pg_file_unlink",
        "set_config",
        "pg_notify",
        "pg_logical_emit_message",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_promote",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_log_backend_memory_contexts",
        "pg_import_system_collations",
        "nextval",
        "setval",
        "txid_current",
        "pg_current_xact_id",
        "pg_sleep_for",
        "pg_sleep_until",
        "query_to_xml",
        "query_to_xml_and_xmlschema",
        "query_to_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
        "loread",
        "lowrite",
    }
)
DENIED_PREFIXES = (
    "pg_advisory_",
    "pg_try_advisory_",
    "lo_",
    "dblink",
    "pg_ls_",
    "pg_read_",
    "pg_stat_reset",
    "pg_replication_",
    "pg_create_",
    "pg_drop_replication",
    "pg_copy_",
)
QUERY_NODES = (exp.Query, exp.Values)
EXPLAIN_OPTIONS = frozenset(
    {
        "analyze",
        "analyse",
        "verbose",
        "costs",
        "settings",
        "generic_plan",
        "buffers",
        "serialize",
        "wal",
        "timing",
        "summary",
        "memory",
        "format",
    }
)


class UnsafeQuery(ValueError):
    """The statement is refused; the message says what to change."""


class UnparsableQuery(UnsafeQuery):
    """The SQL is not well formed; `line` and `column` (1-based) say where reading it stopped."""

    def __init__(self, message: str, *, line: int, column: int) -> None:
        super().__init__(message)
        self.line, self.column = line, column


def line_and_column(sql: str, offset: int) -> tuple[int, int]:
    """A 0-based character offset as a 1-based (line, column)."""
    before = sql[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


@dataclass(frozen=True)
class CheckedQuery:
    """A statement the explorer may run: the SQL to send and whether it is an EXPLAIN (no cursor)."""

    sql: str
    explain: bool


def _position(sql: str, line: int, column: int) -> str:
    offset = sum(len(text) + 1 for text in sql.split("\n")[: line - 1]) + column
    return f"line {line}, column {column} (character {offset})"


def _tokens(sql: str) -> list[Token]:
    tokenizer = _DIALECT.tokenizer_class()
    try:
        tokens = tokenizer.tokenize(sql)
    except TokenError:
        where = getattr(tokenizer, "_current", None)
        offset = where if isinstance(where, int) else len(sql)
        line, column = line_and_column(sql, min(offset, len(sql)))
        raise UnparsableQuery(
            f"the SQL cannot be read at line {line}, column {column} (character {offset}): an unclosed string,"
            " quoted name or /* comment? close it",
            line=line,
            column=column,
        ) from None
    for before, after in zip(tokens, tokens[1:], strict=False):
        # PostgreSQL reads U&"…" as one (escaped) name; sqlglot as `U & "…"`. Where the two could
        # disagree about what is called, refuse rather than guess.
        if before.text in ("U", "u") and after.token_type == TokenType.AMP and after.start == before.end + 1:
            raise UnsafeQuery(
                f'Unicode-escaped names (U&"…") are not allowed (character {before.start}); write the name plainly'
            )
    return tokens


def _parse_one(sql: str) -> exp.Expr:
    tokens = _tokens(sql)
    try:
        trees = _DIALECT.parser().parse(tokens, sql)
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        line, column = first.get("line", 1), first.get("col", 0)
        raise UnparsableQuery(
            f"the SQL cannot be parsed at {_position(sql, line, column)}: {first.get('description', error)}",
            line=line,
            column=column,
        ) from None
    statements = [tree for tree in trees if tree is not None and not isinstance(tree, exp.Semicolon)]
    if not statements:
        raise UnsafeQuery("the query is empty")
    if len(statements) > 1:
        raise UnsafeQuery("only one statement is allowed; remove everything after the first ';'")
    return statements[0]


def function_name(node: exp.Func) -> str:
    """The called name as PostgreSQL resolves it, lower case and unquoted ("pg_sleep" is pg_sleep)."""
    raw = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
    return raw.strip('"').lower()


def _sleep_seconds(node: exp.Func) -> float | None:
    argument = node.expressions[0] if node.expressions else node.args.get("this")
    if isinstance(argument, exp.Literal) and not argument.is_string:
        try:
            return float(argument.this)
        except ValueError:
            return None
    return None


def _check_tree(tree: exp.Expr, *, max_sleep_seconds: float) -> None:
    for node in tree.walk():
        for kind, what in DENIED_NODES.items():
            if isinstance(node, kind):
                raise UnsafeQuery(f"{what} is not allowed in the explorer: it only reads")
        if isinstance(node, exp.Func):
            name = function_name(node)
            if name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES):
                raise UnsafeQuery(f"the function {name}() is not allowed in the explorer")
            if name == "pg_sleep":
                seconds = _sleep_seconds(node)
                if seconds is None or seconds > max_sleep_seconds:
                    raise UnsafeQuery(
                        f"pg_sleep() takes a number of seconds up to {max_sleep_seconds:g} here (the query time limit)"
                    )


def _explained_statement(sql: str) -> str:
    """The statement after EXPLAIN and its options: EXPLAIN [ANALYZE] [VERBOSE] q, or EXPLAIN (opts) q."""
    rest = sql[_tokens(sql)[0].end + 1 :]
    tokens = _tokens(rest)
    index = 0
    if tokens and tokens[0].token_type == TokenType.L_PAREN:
        depth = 0
        for index in range(len(tokens)):
            token = tokens[index]
            depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(token.token_type, 0)
            option_name = index and tokens[index - 1].token_type in (TokenType.L_PAREN, TokenType.COMMA)
            if depth == 1 and option_name and token.text.lower() not in EXPLAIN_OPTIONS:
                raise UnsafeQuery(f"EXPLAIN option {token.text} is not known; use ANALYZE, VERBOSE, FORMAT, …")
            if depth == 0:
                index += 1
                break
    else:
        while index < len(tokens) and tokens[index].text.lower() in ("analyze", "analyse", "verbose"):
            index += 1
    if index >= len(tokens):
        raise UnsafeQuery("EXPLAIN needs the query to explain after it")
    return rest[tokens[index].start :]


def check_read_only(sql: str, *, max_sleep_seconds: float = 5.0) -> CheckedQuery:
    """The statement to run, or UnsafeQuery naming the first problem and where it is."""
    tree = _parse_one(sql)
    explain = isinstance(tree, exp.Command) and str(tree.this).upper() == "EXPLAIN"
    if explain:
        tree = _parse_one(_explained_statement(sql))
    if not isinstance(tree, QUERY_NODES):
        kind = str(tree.this).upper() if isinstance(tree, exp.Command) else tree.key.upper()
        raise UnsafeQuery(f"queries must be SELECT, WITH … SELECT, VALUES, TABLE or EXPLAIN, not {kind}")
    _check_tree(tree, max_sleep_seconds=max_sleep_seconds)
    return CheckedQuery(sql=sql.strip().rstrip(";").strip(), explain=explain)
