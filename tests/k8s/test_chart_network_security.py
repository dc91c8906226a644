"""The chart's network and browser-facing security: default-deny NetworkPolicies with explicit egress,
the gateway's security headers, TLS with one value, and the operator's cluster-wide RBAC."""

from __future__ import annotations

from typing import Any

import pytest

from scis.embedded.gateway import CONTENT_SECURITY_POLICY
from tests.k8s.chart import by_kind, objects, render

SCIS_POD_COMPONENTS = (
    "frontend", "dashboard", "analyser", "profiles", "lives", "create", "database", "reports", "gateway",
    "operator", "capture", "migrations", "tests", "postgresql", "redis", "simulator",
)  # fmt: skip


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a NetworkPolicy's podSelector picks a Pod with these labels."""
    selector = policy["spec"]["podSelector"]
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value = labels.get(expression["key"])
        if expression["operator"] == "In" and value not in expression["values"]:
            return False
        if expression["operator"] == "NotIn" and value in expression["values"]:
            return False
    return True


def pod_labels(component: str) -> dict[str, str]:
    labels = {"app.kubernetes.io/part-of": "scis", "app.kubernetes.io/component": component}
    if component != "capture":  # capture Pods are the operator's, without the release's instance label
        labels["app.kubernetes.io/instance"] = "scis"
    return labels


def egress_of(policies: dict[str, dict[str, Any]], component: str) -> list[dict[str, Any]]:
    return [
        rule
        for policy in policies.values()
        if "Egress" in policy["spec"]["policyTypes"] and selects(policy, pod_labels(component))
        for rule in policy["spec"].get("egress", [])
    ]


def reaches_the_internet(rules: list[dict[str, Any]]) -> bool:
    return any(peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" for rule in rules for peer in rule.get("to", []))


@pytest.fixture(scope="module")
def policies() -> dict[str, dict[str, Any]]:
    return by_kind(objects(render({})), "NetworkPolicy")


@pytest.mark.parametrize("component", SCIS_POD_COMPONENTS)
def test_every_scis_pod_is_denied_by_default(policies: dict[str, dict[str, Any]], component: str) -> None:
    deny = policies["scis-default-deny"]
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    assert selects(deny, pod_labels(component))
    assert selects(policies["scis-dns"], pod_labels(component))


@pytest.mark.parametrize("component", ["analyser", "capture"])
def test_only_capturing_pods_reach_the_internet_not_the_cluster(
    policies: dict[str, dict[str, Any]], component: str
) -> None:
    rules = egress_of(policies, component)
    assert reaches_the_internet(rules)
    internet = next(
        p["ipBlock"] for r in rules for p in r.get("to", []) if "ipBlock" in p and p["ipBlock"]["cidr"] == "0.0.0.0/0"
    )
    assert "10.0.0.0/8" in internet["except"] and "169.254.0.0/16" in internet["except"]


@pytest.mark.parametrize(
    "component", ["frontend", "dashboard", "profiles", "lives", "create", "database", "reports", "gateway",
                  "migrations", "tests", "postgresql", "redis"],
)  # fmt: skip
def test_no_other_pod_reaches_the_internet(policies: dict[str, dict[str, Any]], component: str) -> None:
    assert not reaches_the_internet(egress_of(policies, component))


def test_the_migration_job_reaches_postgresql_and_nothing_broader(policies: dict[str, dict[str, Any]]) -> None:
    rules = egress_of(policies, "migrations")
    ports = {port["port"] for rule in rules for port in rule.get("ports", [])}
    assert 5432 in ports and 53 in ports
    assert all(rule.get("to") for rule in rules)  # every rule names a destination


def test_the_kubernetes_api_only_for_the_pods_that_call_it() -> None:
    for runner, analyser_calls in (("kubernetes", True), ("inprocess", False)):
        policies = by_kind(objects(render({"config": {"captureRunner": runner}})), "NetworkPolicy")
        api = policies["scis-kube-api-egress"]
        assert selects(api, pod_labels("operator")) and selects(api, pod_labels("capture"))
        assert selects(api, pod_labels("analyser")) is analyser_calls
        assert not selects(api, pod_labels("dashboard"))


def gateway_config(values: dict[str, Any]) -> str:
    return str(by_kind(objects(render(values)), "ConfigMap")["scis-gateway"]["data"]["nginx.conf"])


def test_the_gateway_sends_the_same_security_headers_as_the_embedded_one() -> None:
    config = gateway_config({})
    assert f'add_header Content-Security-Policy "{CONTENT_SECURITY_POLICY}" always;' in config
    for header in ('X-Frame-Options "DENY"', 'X-Content-Type-Options "nosniff"', 'Referrer-Policy "same-origin"'):
        assert f"add_header {header} always;" in config
    assert "Strict-Transport-Security" not in config
    assert "proxy_set_header X-Request-ID $scis_request_id;" in config


def test_tls_on_the_ingress_is_one_value_and_brings_hsts() -> None:
    found = objects(render({"ingress": {"tls": {"enabled": True}, "host": "scis.example.org"}}))
    ingress = by_kind(found, "Ingress")["scis-gateway"]
    assert ingress["spec"]["tls"] == [{"hosts": ["scis.example.org"], "secretName": "scis-tls"}]
    config = by_kind(found, "ConfigMap")["scis-gateway"]["data"]["nginx.conf"]
    assert 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;' in config
    env = {
        e["name"]: e.get("value")
        for e in by_kind(found, "Deployment")["scis-dashboard"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["SCIS_PUBLIC_URL"] == "https://scis.example.org"
    assert env["SCIS_API_DOCS"] == "false"
    assert "10.0.0.0/8" in env["SCIS_TRUSTED_PROXIES"]


def test_cluster_wide_operator_rbac_is_still_narrow() -> None:
    found = objects(render({"operator": {"clusterWide": True}}))
    role = by_kind(found, "ClusterRole")["scis-operator"]
    resources = {resource for rule in role["rules"] for resource in rule["resources"]}
    assert resources == {
        "livemonitors", "livemonitors/status", "pods", "events", "clusterkopfpeerings", "namespaces",
        "customresourcedefinitions",
    }  # fmt: skip
    for rule in role["rules"]:
        assert "*" not in rule["verbs"]
        if rule["resources"] in (["namespaces"], ["customresourcedefinitions"]):
            assert set(rule["verbs"]) == {"list", "watch"}
    writes_to_peering = [
        r for r in role["rules"] if r["resources"] == ["clusterkopfpeerings"] and "patch" in r["verbs"]
    ]
    assert writes_to_peering and all(r["resourceNames"] == ["scis-operator"] for r in writes_to_peering)
    assert "ClusterKopfPeering" in {o["kind"] for o in found}


def test_the_client_address_comes_through_the_ingress_only_from_named_proxies() -> None:
    assert "set_real_ip_from" not in gateway_config({})
    config = gateway_config({"gateway": {"realIpFrom": ["10.42.0.0/16"]}})
    assert "set_real_ip_from 10.42.0.0/16;" in config and "real_ip_header X-Forwarded-For;" in config
