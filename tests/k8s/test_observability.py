"""The Grafana dashboard and the PrometheusRule the chart ships, and the metrics they query.

Every series a panel or an alert asks for must be in what the code serves at /metrics: a renamed
metric would otherwise leave an empty panel or an alert that can never fire.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from scis.core.settings import SERVICE_NAMES, Settings
from scis.serve import load_app
from tests.k8s.chart import by_kind, objects, render

ENABLED = {"grafanaDashboard": {"enabled": True}, "prometheusRule": {"enabled": True}}
METRIC_NAME = re.compile(r"\b(scis_[a-z0-9_]+)\b")
ALERTS = {"SCISCaptureSilent", "SCISSpillGrowing", "SCISChainVerificationFailed", "SCISAbandonedSession"}


@pytest.fixture(scope="module")
def shipped() -> list[dict[str, Any]]:
    return objects(render(ENABLED))


def dashboard_of(found: list[dict[str, Any]]) -> dict[str, Any]:
    maps = [o for o in found if o["kind"] == "ConfigMap" and o["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert len(maps) == 1, "exactly one dashboard ConfigMap for the Grafana sidecar"
    (text,) = maps[0]["data"].values()
    return json.loads(text)  # type: ignore[no-any-return]


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def rule_queries(found: list[dict[str, Any]]) -> dict[str, str]:
    (rule,) = by_kind(found, "PrometheusRule").values()
    return {r["alert"]: r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]}


def test_both_are_off_by_default() -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects(render({}))}
    assert not [k for k in kinds if k[0] == "PrometheusRule" or "grafana" in k[1]]


def test_the_dashboard_is_a_grafana_dashboard_for_the_sidecar(shipped: list[dict[str, Any]]) -> None:
    dashboard = dashboard_of(shipped)
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 30
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 10 and all(p["targets"] and p["gridPos"]["w"] > 0 for p in panels)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_alerts_cover_the_faults_an_operator_must_hear_of(shipped: list[dict[str, Any]]) -> None:
    (rule,) = by_kind(shipped, "PrometheusRule").values()
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    alerts = rule_queries(shipped)
    assert set(alerts) >= ALERTS
    for group in rule["spec"]["groups"]:
        for item in group["rules"]:
            assert item["labels"]["severity"] in ("warning", "critical")
            assert item["annotations"]["summary"] and item["annotations"]["description"]


def test_alert_thresholds_come_from_values() -> None:
    found = objects(render({"prometheusRule": {"enabled": True, "silentCaptureMinutes": 7}}))
    assert "> 420" in rule_queries(found)["SCISCaptureSilent"]


def names_in(text: str) -> set[str]:
    """Metric family and sample names in a /metrics answer (a labelled family is listed before its first sample)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names |= {sample.name for sample in family.samples}
    return names


def is_served(name: str, served: set[str]) -> bool:
    family = re.sub(r"_(total|bucket|count|sum)$", "", name)
    return name in served or family in served


async def served_metric_names() -> set[str]:
    """Metric names every service's /metrics answers with, plus the operator's registry."""
    import scis_operator.metrics  # noqa: F401 - registers the operator's metrics, as its process does

    names: set[str] = set()
    settings = Settings(database_url="postgresql://unused@127.0.0.1:1/x", redis_url="redis://127.0.0.1:1/0")
    for service in (name for name in SERVICE_NAMES if name != "frontend"):  # the UI serves no metrics
        app = load_app(service, settings)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            answer = await client.get("/metrics")
        assert answer.status_code == 200, service
        names |= names_in(answer.text)
    return names | names_in(generate_latest(REGISTRY).decode())


async def test_every_queried_metric_is_served(shipped: list[dict[str, Any]]) -> None:
    queried = {name for expr in dashboard_queries(dashboard_of(shipped)) for name in METRIC_NAME.findall(expr)}
    queried |= {name for expr in rule_queries(shipped).values() for name in METRIC_NAME.findall(expr)}
    assert len(queried) >= 20
    served = await served_metric_names()
    missing = sorted(name for name in queried if not is_served(name, served))
    assert not missing, f"queried but not served at /metrics: {missing}"
