"""Where the other services are: fixed addresses from settings, or Consul's catalog."""

from __future__ import annotations

import logging
import socket
from typing import Protocol
from urllib.parse import urlsplit

from scis.core.settings import Discovery, Settings

log = logging.getLogger(__name__)


class DiscoveryError(Exception):
    """A peer cannot be resolved; the message names it and the discovery mode."""


class ServiceDiscovery(Protocol):
    async def register(self, service: str, port: int) -> None: ...
    async def deregister(self, service: str) -> None: ...
    async def resolve(self, service: str) -> str: ...
    async def close(self) -> None: ...


class StaticDiscovery:
    """Peers at the addresses the settings give (the embedded default, or Kubernetes Service names)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def register(self, service: str, port: int) -> None:
        return None

    async def deregister(self, service: str) -> None:
        return None

    async def resolve(self, service: str) -> str:
        try:
            return self.settings.url_of(service)
        except KeyError as error:
            raise DiscoveryError(str(error)) from None

    async def close(self) -> None:
        return None


class ConsulDiscovery:
    """Registers this service with an HTTP health check on the local Consul agent and resolves peers."""

    def __init__(self, settings: Settings) -> None:
        import consul.aio

        parts = urlsplit(settings.consul_url)
        self.client = consul.aio.Consul(host=parts.hostname, port=parts.port or 8500, scheme=parts.scheme or "http")
        self.address = settings.advertise_host or _own_address(settings.host)

    def service_id(self, service: str) -> str:
        return f"scis-{service}-{socket.gethostname()}"

    async def register(self, service: str, port: int) -> None:
        import consul

        check = consul.Check.http(f"http://{self.address}:{port}/readyz", interval="10s", timeout="5s", deregister="1m")
        await self.client.agent.service.register(
            f"scis-{service}",
            service_id=self.service_id(service),
            address=self.address,
            port=port,
            tags=["scis", service],
            check=check,
        )
        log.info("registered scis-%s at %s:%s with Consul", service, self.address, port)

    async def deregister(self, service: str) -> None:
        await self.client.agent.service.deregister(self.service_id(service))

    async def resolve(self, service: str) -> str:
        _, nodes = await self.client.health.service(f"scis-{service}", passing=True)
        if not nodes:
            raise DiscoveryError(f"no healthy instance of scis-{service} in Consul")
        entry = nodes[0]["Service"]
        address = entry.get("Address") or nodes[0]["Node"]["Address"]
        return f"http://{address}:{entry['Port']}"

    async def close(self) -> None:
        await self.client.http._session.close()


def _own_address(bind_host: str) -> str:
    if bind_host not in ("0.0.0.0", "::"):
        return bind_host
    return socket.gethostbyname(socket.gethostname())


def make_discovery(settings: Settings) -> ServiceDiscovery:
    if settings.discovery is Discovery.consul:
        return ConsulDiscovery(settings)
    return StaticDiscovery(settings)
