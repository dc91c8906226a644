"""REST calls between services, carrying the caller's token and the request id."""

from __future__ import annotations

from typing import Any

import httpx

from scis.core.discovery import ServiceDiscovery
from scis.core.observability import REQUEST_ID_HEADER, request_id_var


class PeerClient:
    """One pooled HTTP client per process; peers found through discovery on each call."""

    def __init__(self, discovery: ServiceDiscovery, timeout: float = 10.0) -> None:
        self.discovery = discovery
        self.http = httpx.AsyncClient(timeout=timeout)

    async def request(
        self, service: str, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        base = await self.discovery.resolve(service)
        headers = dict(kwargs.pop("headers", None) or {})
        request_id = request_id_var.get()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        if token:
            headers["authorization"] = f"Bearer {token}"
        return await self.http.request(method, base + path, headers=headers, **kwargs)

    async def close(self) -> None:
        await self.http.aclose()
