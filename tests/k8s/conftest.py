from __future__ import annotations

import os
from collections.abc import AsyncIterator

import kmock
import pytest

# Before scis_operator.handlers is imported: its timer interval is fixed at import time.
os.environ.setdefault("SCIS_OPERATOR_RECONCILE_INTERVAL_SECONDS", "0.1")
os.environ.setdefault("SCIS_OPERATOR_METRICS_PORT", "0")

from tests.k8s.emulator import StampingEmulator, add_peering, register_resources  # noqa: E402


@pytest.fixture()
async def emulator() -> AsyncIterator[StampingEmulator]:
    async with StampingEmulator() as handler, kmock.Server(handler):
        register_resources(handler, peering=True)
        add_peering(handler)
        yield handler
