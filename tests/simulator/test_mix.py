from __future__ import annotations

import asyncio

from scis.simulator import SimulatorServer
from scis.simulator.messages import MessageFactory
from scis.simulator.mix import EventMix
from scis.webcast.events import to_event
from tests.simulator.support import collect, open_socket, until_count


def _signature(seed: int, n: int = 300) -> list[tuple[str, int | None, str | None, int | None]]:
    mix = EventMix(MessageFactory(1), seed)
    events = [to_event(mix.next_message()) for _ in range(n)]
    return [(e.kind, e.user_id, e.body, e.repeat_count) for e in events]


def test_same_seed_same_mix() -> None:
    assert _signature(7) == _signature(7)
    assert _signature(7) != _signature(8)


def test_mix_is_realistic() -> None:
    kinds = [kind for kind, *_ in _signature(3, 1000)]
    assert kinds.count("chat") > kinds.count("gift") > 0
    assert {"chat", "like", "join", "gift", "follow", "share", "viewers"} <= set(kinds)


async def test_rate_is_respected_roughly(sim: SimulatorServer) -> None:
    room = sim.add_room("busy", rate=100, seed=1, start="now")
    await asyncio.sleep(1.0)
    produced = len(room.sent_messages)
    assert 50 <= produced <= 200


async def test_max_events_bounds_the_mix(sim: SimulatorServer) -> None:
    room = sim.add_room("bounded", rate=200, seed=2, max_events=40)
    sock = await open_socket(sim, "bounded")
    await asyncio.wait_for(room.finished.wait(), 3)
    events, _ = await collect(sock, until_count(40))
    await sock.close()
    assert len(room.sent_messages) == 40
    assert [e.msg_id for e in events] == [m.msg_id for m in room.sent_messages]
