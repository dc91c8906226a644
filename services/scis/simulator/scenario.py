"""Deterministic scenarios: users and timed steps, read from YAML."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STEP_KINDS = frozenset(
    {
        "chat",
        "gift",
        "likes",
        "join",
        "follow",
        "share",
        "viewers",
        "pin",
        "emote",
        "pause",
        "resume",
        "end",
        "unknown",
        "wait",
    }
)
SCENARIO_DIR = Path(__file__).parent / "scenarios"
ADHOC_USER_ID_BASE = 6_900_000_000_000_000_000  # users a scenario names but does not list: 19 digits, as TikTok's


@dataclass(frozen=True, slots=True)
class SimUser:
    id: int
    handle: str
    nickname: str

    @property
    def sec_uid(self) -> str:
        return f"MS4wLjABAAAA-sim-{self.id}"


@dataclass(slots=True)
class Step:
    kind: str
    args: dict[str, Any] = field(default_factory=dict)
    at: float | None = None  # seconds after the start; None = `interval` after the previous step


@dataclass(slots=True)
class Scenario:
    name: str
    users: dict[str, SimUser]
    steps: list[Step]
    interval: float = 0.02

    def user(self, ref: Any) -> SimUser:
        """A user by handle, '@handle' or numeric id; unknown references become ad-hoc users."""
        key = str(ref).lstrip("@")
        if key in self.users:
            return self.users[key]
        for user in self.users.values():
            if str(user.id) == key:
                return user
        user = SimUser(id=ADHOC_USER_ID_BASE + zlib.crc32(key.encode()), handle=key, nickname=key)
        self.users[key] = user
        return user


def parse_scenario(spec: dict[str, Any]) -> Scenario:
    """Build a Scenario from its YAML mapping."""
    users = {}
    for entry in spec.get("users") or []:
        user = SimUser(
            id=int(entry["id"]),
            handle=str(entry["handle"]).lstrip("@"),
            nickname=str(entry.get("nickname", entry["handle"])),
        )
        users[user.handle] = user
    steps = [_parse_step(raw, index) for index, raw in enumerate(spec.get("steps") or [])]
    return Scenario(
        name=str(spec.get("name", "scenario")),
        users=users,
        steps=steps,
        interval=float(spec.get("interval", 0.02)),
    )


def _parse_step(raw: Any, index: int) -> Step:
    if isinstance(raw, str):
        raw = {raw: {}}
    if not isinstance(raw, dict):
        raise ValueError(f"step {index}: expected a mapping, got {raw!r}")
    at = raw.get("at")
    kinds = [key for key in raw if key != "at"]
    if len(kinds) != 1 or kinds[0] not in STEP_KINDS:
        raise ValueError(f"step {index}: expected exactly one of {sorted(STEP_KINDS)}, got {kinds}")
    kind = kinds[0]
    args = raw[kind]
    if kind == "wait":
        args = {"seconds": float(args)} if not isinstance(args, dict) else args
    return Step(kind=kind, args=dict(args or {}), at=float(at) if at is not None else None)


def load_scenario(source: str | Path | dict[str, Any] | Scenario) -> Scenario:
    """A scenario from a Scenario, a mapping, a YAML file path or a shipped scenario's name."""
    if isinstance(source, Scenario):
        return source
    if isinstance(source, dict):
        return parse_scenario(source)
    path = Path(source)
    if not path.exists():
        path = SCENARIO_DIR / f"{source}.yaml"
    with path.open(encoding="utf-8") as handle:
        return parse_scenario(yaml.safe_load(handle))
