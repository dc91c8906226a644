from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from scis.simulator import SimulatorServer


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    async with SimulatorServer() as server:
        yield server
