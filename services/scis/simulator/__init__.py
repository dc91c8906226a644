"""A faithful TikTok LIVE stand-in: live pages, webcast API, push WebSocket, FLV video, faults on demand."""

from scis.simulator.room import SimRoom
from scis.simulator.scenario import Scenario, SimUser, load_scenario
from scis.simulator.server import SimulatorServer

__all__ = ["Scenario", "SimRoom", "SimUser", "SimulatorServer", "load_scenario"]
