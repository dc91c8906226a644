"""`scis simulate`: serve simulated TikTok LIVE rooms until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from scis.simulator.scenario import SCENARIO_DIR
from scis.simulator.server import SimulatorServer

DEFAULT_RATE = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `scis simulate`."""
    shipped = ", ".join(sorted(path.stem for path in SCENARIO_DIR.glob("*.yaml")))
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8900, help="port to bind (default 8900)")
    parser.add_argument(
        "--handle",
        action="append",
        default=[],
        help="a simulated host's @handle; repeat for several lives (default sim_host)",
    )
    parser.add_argument("--scenario", help=f"scenario YAML file, or a shipped one: {shipped}")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help=f"random event mix, events per second (default {DEFAULT_RATE} without --scenario)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random mix (default 0)")
    parser.add_argument("--max-events", type=int, default=None, help="stop the random mix after N events")
    parser.add_argument(
        "--state",
        choices=["live", "offline", "private", "blocked"],
        default="live",
        help="what the room API answers for these handles (default live)",
    )
    parser.add_argument(
        "--start",
        choices=["first_viewer", "now"],
        default="first_viewer",
        help="start the scenario when the first viewer enters (default) or at once",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; returns the exit code."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


async def _serve(args: argparse.Namespace) -> None:
    sim = SimulatorServer(host=args.host, port=args.port)
    rate = args.rate if args.rate is not None else (None if args.scenario else DEFAULT_RATE)
    for handle in args.handle or ["sim_host"]:
        sim.add_room(
            handle,
            args.scenario,
            rate=rate,
            seed=args.seed,
            max_events=args.max_events,
            state=args.state,
            start=args.start,
        )
    await sim.start()
    print(f"TikTok LIVE simulator on {sim.base_url} (use it as both tiktok and webcast base URL)", flush=True)
    for handle, room in sim.rooms.items():
        print(f"  @{handle}: {sim.base_url}/@{handle}/live  room {room.room_id}  state {room.state}")
    print(f"  control API: {sim.base_url}/_sim/rooms   docs: {sim.base_url}/_sim/docs", flush=True)
    await sim.serve_until_exit()
