"""Service discovery: static addresses, and Consul over its real HTTP API."""

from __future__ import annotations

import pytest

from scis.core.discovery import ConsulDiscovery, DiscoveryError, StaticDiscovery, make_discovery
from scis.core.settings import Settings
from tests.support.consul_agent import ConsulAgent


async def test_static_discovery_uses_settings() -> None:
    discovery = StaticDiscovery(Settings(profiles_port=4103))
    assert await discovery.resolve("profiles") == "http://127.0.0.1:4103"
    with pytest.raises(DiscoveryError, match="unknown service 'nope'"):
        await discovery.resolve("nope")


async def test_consul_register_resolve_deregister() -> None:
    with ConsulAgent() as agent:
        settings = Settings(discovery="consul", consul_url=agent.url, advertise_host="10.1.2.3")
        discovery = make_discovery(settings)
        assert isinstance(discovery, ConsulDiscovery)
        try:
            await discovery.register("profiles", 3003)
            registered = agent.requests[0]
            assert registered[0:2] == ("PUT", "/v1/agent/service/register")
            body = registered[2]
            assert body["Name"] == "scis-profiles" and body["Address"] == "10.1.2.3" and body["Port"] == 3003
            (check,) = body["Checks"]
            assert check["HTTP"] == "http://10.1.2.3:3003/readyz"
            assert check["DeregisterCriticalServiceAfter"] == "1m"
            assert await discovery.resolve("profiles") == "http://10.1.2.3:3003"
            assert agent.requests[-1][2].get("passing") == ["1"]
            await discovery.deregister("profiles")
            assert agent.services == {}
            with pytest.raises(DiscoveryError, match="no healthy instance of scis-profiles"):
                await discovery.resolve("profiles")
            assert agent.problems == []
        finally:
            await discovery.close()


async def test_static_discovery_prefers_service_urls() -> None:
    settings = Settings(profiles_service_url="http://scis-profiles.scis.svc:3003/")
    assert await StaticDiscovery(settings).resolve("profiles") == "http://scis-profiles.scis.svc:3003"
    assert await StaticDiscovery(settings).resolve("reports") == "http://127.0.0.1:3007"
