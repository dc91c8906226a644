"""Ready-made explorer queries: common questions as parameterised SQL over the explorer's views.

Each value is checked against its parameter's type, then written into the SQL as a quoted, typed
literal (psycopg's sql.Literal); the finished statement then goes through exactly the same path as
an analyst's own query (sqlglot checks, read-only transaction on the explorer role, history, audit),
so a built-in query can do nothing a typed one could not. See docs/decisions/716-ready-made-queries.md.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from psycopg import sql
from pydantic import TypeAdapter, ValidationError

from scis.database.models import BuiltinParameter, BuiltinQueryInfo

ParameterType = Literal["session", "timestamp", "text", "integer"]
_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "session": TypeAdapter(uuid.UUID),
    "timestamp": TypeAdapter(dt.datetime),
    "text": TypeAdapter(str),
    "integer": TypeAdapter(int),
}
_EXPECTED = {
    "session": "a capture session's id (a UUID, as in live_sessions.id)",
    "timestamp": "a date and time in ISO 8601, e.g. 2026-12-02T08:00:00Z (UTC when no offset is given)",
    "text": "text",
    "integer": "a whole number",
}


class UnknownBuiltin(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no ready-made query named {name!r}; GET /api/database/builtin lists them")


class BadParameter(ValueError):
    """One parameter's value is missing or not of its type; `name` and `value` say which."""

    def __init__(self, name: str, value: Any, problem: str) -> None:
        super().__init__(problem)
        self.name, self.value = name, value


@dataclass(frozen=True)
class Parameter:
    name: str
    type: ParameterType
    description: str
    default: int | str | None = None
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class Builtin:
    name: str
    title: str
    description: str
    parameters: tuple[Parameter, ...]
    template: str  # {name} where each parameter's literal goes

    def info(self) -> BuiltinQueryInfo:
        return BuiltinQueryInfo(
            name=self.name, title=self.title, description=self.description, sql=self.template,
            parameters=[BuiltinParameter(name=p.name, type=p.type, description=p.description, default=p.default,
                                         minimum=p.minimum, maximum=p.maximum) for p in self.parameters],
        )  # fmt: skip


SESSION = Parameter("session_id", "session", "the live: its capture session's id (live_sessions.id)")

# One `gift` event is one finished streak carrying its final count (docs/events.md): a streak's diamonds
# are diamond_count x repeat_count, and `gift_update` (a late frame of a streak already closed) is not
# counted again, exactly as the case report counts them.
TOP_GIFTERS = Builtin(
    name="top_gifters",
    title="Top gifters of a live",
    description="Who gave the most diamonds in one live: gift streaks counted once with their final count.",
    parameters=(SESSION, Parameter("limit", "integer", "how many gifters", default=20, minimum=1, maximum=1000)),
    template="""SELECT user_id,
       (array_agg(unique_id ORDER BY seq DESC))[1] AS unique_id,
       (array_agg(nickname ORDER BY seq DESC))[1] AS nickname,
       sum(diamond_count * coalesce(repeat_count, 1)) AS diamonds,
       sum(coalesce(repeat_count, 1)) AS gifts,
       count(*) AS streaks,
       count(*) FILTER (WHERE inferred) AS streaks_inferred
FROM events
WHERE session_id = {session_id} AND kind = 'gift'
GROUP BY user_id
ORDER BY diamonds DESC NULLS LAST, gifts DESC, unique_id
LIMIT {limit}""",
)

JOINED_BETWEEN = Builtin(
    name="joined_between",
    title="Who joined a live between two times",
    description="Every join of one live from a time to another (TikTok's time when it gave one, else SCIS's).",
    parameters=(
        SESSION,
        Parameter("from", "timestamp", "from this time (included), UTC unless an offset is given"),
        Parameter("to", "timestamp", "to this time (included)"),
    ),
    template="""SELECT coalesce(server_time, captured_at) AS joined_at, user_id, unique_id, nickname, seq
FROM events
WHERE session_id = {session_id} AND kind = 'join'
  AND coalesce(server_time, captured_at) BETWEEN {from} AND {to}
ORDER BY joined_at, seq""",
)

USER_SAID = Builtin(
    name="user_said",
    title="Everything a user said",
    description=(
        "Every chat message of one person in the lives you may see, by @handle or numeric TikTok user id; "
        "a handle finds the person's messages under their other handles too."
    ),
    parameters=(Parameter("user", "text", "@handle or numeric TikTok user id"),),
    template="""WITH given AS (SELECT ltrim({user}, '@') AS who),
ids AS (
    SELECT DISTINCT e.user_id FROM events e, given
    WHERE e.user_id IS NOT NULL AND (e.unique_id = given.who OR e.user_id::text = given.who)
)
SELECT e.captured_at, s.target AS live, e.session_id, e.seq, e.unique_id, e.nickname, e.body
FROM events e JOIN live_sessions s ON s.id = e.session_id, given
WHERE e.kind = 'chat'
  AND (e.user_id IN (SELECT user_id FROM ids) OR (e.user_id IS NULL AND e.unique_id = given.who))
ORDER BY e.captured_at, e.session_id, e.seq""",
)

BUILTINS = {query.name: query for query in (TOP_GIFTERS, JOINED_BETWEEN, USER_SAID)}


def find(name: str) -> Builtin:
    try:
        return BUILTINS[name]
    except KeyError:
        raise UnknownBuiltin(name) from None


def checked_value(parameter: Parameter, value: Any) -> Any:
    """The value as its parameter's type; BadParameter says what was expected."""
    if value is None or value == "":
        if parameter.default is None:
            raise BadParameter(parameter.name, value, f"{parameter.name} is required: {parameter.description}")
        value = parameter.default
    try:
        typed = _ADAPTERS[parameter.type].validate_python(value)
    except ValidationError:
        raise BadParameter(
            parameter.name, value, f"{parameter.name} must be {_EXPECTED[parameter.type]}, not {value!r}"
        ) from None
    if isinstance(typed, dt.datetime) and typed.tzinfo is None:
        typed = typed.replace(tzinfo=dt.UTC)
    if parameter.type == "text" and not typed.strip():
        raise BadParameter(parameter.name, value, f"{parameter.name} is required: {parameter.description}")
    if parameter.minimum is not None and typed < parameter.minimum:
        raise BadParameter(parameter.name, value, f"{parameter.name} must be at least {parameter.minimum}")
    if parameter.maximum is not None and typed > parameter.maximum:
        raise BadParameter(parameter.name, value, f"{parameter.name} must be at most {parameter.maximum}")
    return typed


def render(query: Builtin, values: dict[str, Any]) -> str:
    """The finished SQL, each value a typed literal; BadParameter for a missing, unknown or ill-typed one."""
    known = {parameter.name for parameter in query.parameters}
    for name in values:
        if name not in known:
            problem = f"{query.name} takes no parameter {name!r}; it takes {sorted(known)}"
            raise BadParameter(name, values[name], problem)
    literals = {p.name: sql.Literal(checked_value(p, values.get(p.name))) for p in query.parameters}
    return sql.SQL(query.template).format(**literals).as_string()  # type: ignore[arg-type]
