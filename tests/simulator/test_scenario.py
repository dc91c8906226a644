from __future__ import annotations

import argparse

import pytest

from scis.simulator.cli import add_arguments
from scis.simulator.scenario import SCENARIO_DIR, load_scenario, parse_scenario


def test_shipped_scenarios_load() -> None:
    names = sorted(path.stem for path in SCENARIO_DIR.glob("*.yaml"))
    assert len(names) >= 3
    for name in names:
        assert load_scenario(name).steps


def test_every_message_scenario_covers_every_kind() -> None:
    kinds = {step.kind for step in load_scenario("every_message").steps}
    assert kinds >= {
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
        "unknown",
        "end",
    }


def test_steps_parse_with_times_and_users() -> None:
    scenario = parse_scenario(
        {
            "users": [{"id": 5, "handle": "@zed", "nickname": "Zed"}],
            "steps": [{"at": 1.5, "chat": {"user": "zed", "text": "x"}}, "pause", {"wait": 0.1}],
        }
    )
    assert scenario.steps[0].at == 1.5 and scenario.steps[1].kind == "pause"
    assert scenario.steps[2].args == {"seconds": 0.1}
    assert scenario.user("@zed").id == 5 and scenario.user(5).handle == "zed"
    assert scenario.user("stranger").id == scenario.user("stranger").id


def test_bad_steps_are_refused() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        parse_scenario({"steps": [{"dance": {}}]})
    with pytest.raises(ValueError, match="exactly one"):
        parse_scenario({"steps": [{"chat": {}, "likes": {}}]})


def test_cli_arguments() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--port", "8901", "--handle", "a", "--handle", "b", "--rate", "5", "--seed", "3"])
    assert (args.port, args.handle, args.rate, args.seed, args.host) == (8901, ["a", "b"], 5.0, 3, "127.0.0.1")
