"""SimulatorServer: the simulator as an in-process uvicorn server, for tests and `scis simulate`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from scis.simulator.app import create_app
from scis.simulator.protocol import TikTokWSProtocol
from scis.simulator.room import RoomState, SimRoom, StartMode
from scis.simulator.scenario import Scenario, load_scenario


class SimulatorServer:
    """Serves any number of simulated lives on one port (pages and webcast API alike)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, webcast_base_url: str | None = None) -> None:
        self.host = host
        self.port = port
        self.webcast_base_url = webcast_base_url  # what the live page calls; None = the page's own origin
        self.rooms: dict[str, SimRoom] = {}
        self._rooms_by_id: dict[str, SimRoom] = {}  # every webcast call names the room by id
        self.stopping = False
        self.app = create_app()
        self.app.state.simulator = self  # the routes read it from there (no import back to this module)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        """http://host:port, valid as both tiktok_base_url and webcast_base_url."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start serving; with port 0, ``port`` becomes the one the OS chose."""
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            ws=TikTokWSProtocol,
            ws_ping_interval=None,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=1,
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(), name="scis-simulator")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("simulator server stopped during startup")
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        for room in self.rooms.values():
            if room.start_mode == "now":
                room.start()

    async def stop(self) -> None:
        """Stop every room and the server."""
        self.stopping = True
        for room in self.rooms.values():
            await room.stop()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None

    async def serve_until_exit(self) -> None:
        """Wait until the server exits (Ctrl-C or SIGTERM), then stop the rooms."""
        if self._task is not None:
            await self._task
        await self.stop()

    async def __aenter__(self) -> SimulatorServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def add_room(
        self,
        handle: str,
        scenario: Scenario | str | Path | dict[str, Any] | None = None,
        *,
        rate: float | None = None,
        seed: int = 0,
        max_events: int | None = None,
        state: RoomState = "live",
        start: StartMode = "first_viewer",
        resend_on_resume: int = 2,
        need_ack: bool = True,
        title: str | None = None,
    ) -> SimRoom:
        """Add (or replace) a host's room; ``state`` picks the answer: live, offline, private, blocked."""
        handle = handle.lstrip("@")
        room = SimRoom(
            handle,
            scenario=load_scenario(scenario) if scenario is not None else None,
            rate=float(rate) if rate else None,
            seed=int(seed),
            max_events=int(max_events) if max_events is not None else None,
            state=state,
            start=start,
            resend_on_resume=int(resend_on_resume),
            need_ack=need_ack,
            title=title,
        )
        replaced = self.rooms.get(handle)
        if replaced is not None:
            self._rooms_by_id.pop(str(replaced.room_id), None)
        self.rooms[handle] = room
        self._rooms_by_id[str(room.room_id)] = room
        if start == "now" and self._server is not None:
            room.start()
        return room

    def room(self, handle: str) -> SimRoom:
        """The room of a handle (KeyError if none)."""
        return self.rooms[handle.lstrip("@")]

    def room_by_id(self, room_id: str | int) -> SimRoom | None:
        """The room with this room id, if any."""
        return self._rooms_by_id.get(str(room_id))
