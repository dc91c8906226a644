"""The Helm chart: lint, schema, render of every scenario, and every object valid for Kubernetes."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest

from tests.k8s.chart import CHART, KUBE_VERSION, SCENARIOS, by_kind, crds, objects, render, scenario_values
from tests.k8s.emulator import ROOT

SCENARIO_IDS = [p.name for p in SCENARIOS]
SERVICES = ("frontend", "dashboard", "analyser", "profiles", "lives", "create", "database", "reports")
# CRD kinds, checked below on their own
KINDS_WITHOUT_CORE_SCHEMA = {
    "KopfPeering", "ClusterKopfPeering", "ServiceMonitor", "PodMonitor", "PrometheusRule", "Cluster", "ScheduledBackup",
}  # fmt: skip


@pytest.fixture(scope="module", params=[None, *SCENARIOS], ids=["no-values", *SCENARIO_IDS])
def rendered(request: pytest.FixtureRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    values = scenario_values(request.param)
    return values, objects(render(values))


def test_there_are_scenarios_for_each_situation() -> None:
    names = " ".join(SCENARIO_IDS)
    for word in ("defaults", "all-features", "external-databases", "mesh-on", "mesh-off"):
        assert word in names


@pytest.mark.parametrize("scenario", [None, *SCENARIOS], ids=["no-values", *SCENARIO_IDS])
def test_helm_lint_strict(scenario: Path | None) -> None:
    report = helm.lint(CHART, scenario_values(scenario), strict=True, kube_version=f"v{KUBE_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert problems == []


def test_every_object_is_valid_kubernetes(rendered: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    _, found = rendered
    assert found
    for obj in found:
        if obj["kind"] in KINDS_WITHOUT_CORE_SCHEMA:
            continue
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def test_crd_objects_are_valid(rendered: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    _, found = rendered
    for crd in crds():
        kubernetes_validate.validate(crd, KUBE_VERSION, strict=True)
    for monitor in (o for o in found if o["kind"] == "ServiceMonitor"):
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1" and monitor["spec"]["endpoints"]
    for peering in (o for o in found if o["kind"] in ("KopfPeering", "ClusterKopfPeering")):
        assert peering["apiVersion"] == "kopf.dev/v1"


def test_every_pod_is_non_root_and_read_only(rendered: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    _, found = rendered
    for obj in found:
        template = obj["spec"] if obj["kind"] == "Pod" else obj.get("spec", {}).get("template", {}).get("spec")
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job", "Pod") or template is None:
            continue
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        assert template["securityContext"]["runAsNonRoot"] is True, name
        assert template["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in template["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert container.get("resources", {}).get("limits"), name


def test_services_have_probes_and_peers(rendered: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    _, found = rendered
    deployments = by_kind(found, "Deployment")
    services = by_kind(found, "Service")
    for service in SERVICES:
        deployment = deployments[f"scis-{service}"]
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["args"] == ["serve", service]
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        env = {e["name"] for e in container["env"]}
        assert {"SCIS_DATABASE_URL", "SCIS_REDIS_URL", "SCIS_SECRET_KEY", "SCIS_HOST", "SCIS_ADVERTISE_HOST"} <= env
        assert {f"SCIS_{peer.upper()}_SERVICE_URL" for peer in SERVICES} <= env
        assert f"scis-{service}" in services


def test_default_install_is_complete() -> None:
    found = objects(render({}))
    kinds = {(o["kind"], o["metadata"]["name"]) for o in found}
    assert ("Ingress", "scis-gateway") in kinds and ("ConfigMap", "scis-gateway") in kinds
    assert ("StatefulSet", "scis-postgresql") in kinds and ("StatefulSet", "scis-redis") in kinds
    assert ("Job", "scis-migrations") in kinds and ("Pod", "scis-test-platform") in kinds
    ingress = by_kind(found, "Ingress")["scis-gateway"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert by_kind(found, "Service")["scis-gateway"]["spec"]["ports"][0]["port"] == 8080
    job = by_kind(found, "Job")["scis-migrations"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    migrate = job["spec"]["template"]["spec"]["containers"][0]
    assert migrate["command"] == ["scis", "db", "migrate", "--set-passwords"]
    assert {"SCIS_MIGRATION_DATABASE_URL", "SCIS_EXPLORER_DATABASE_URL"} <= {e["name"] for e in migrate["env"]}
    # Only the migration Job holds the owner's URL; only the explorer the scis_explorer one (decision 301).
    for name, deployment in by_kind(found, "Deployment").items():
        env = {e["name"] for c in deployment["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
        assert "SCIS_MIGRATION_DATABASE_URL" not in env, name
        assert ("SCIS_EXPLORER_DATABASE_URL" in env) == (name == "scis-database"), name
    urls = by_kind(found, "Secret")["scis-secrets"]["stringData"]
    assert urls["database-url"].startswith("postgresql://scis_app:")
    assert urls["explorer-database-url"].startswith("postgresql://scis_explorer:")


def test_gateway_routes() -> None:
    config = by_kind(objects(render({})), "ConfigMap")["scis-gateway"]["data"]["nginx.conf"]
    assert "location /socket.io/" in config and "proxy_set_header Upgrade $http_upgrade" in config
    for service in SERVICES[1:]:
        assert f"location /api/{service}/ {{" in config
    assert "location / {\n      proxy_pass http://scis-frontend:3000;" in config


def test_gateway_gzips_only_the_app_assets() -> None:
    """Same rule as the embedded gateway (tested through real nginx in tests/web/test_gateway_gzip.py)."""
    config = by_kind(objects(render({})), "ConfigMap")["scis-gateway"]["data"]["nginx.conf"]
    app = config[config.index("location / {") :]
    assert "gzip on;" in app and "application/javascript" in app and "text/css" in app
    assert config.count("gzip on;") == 1 and "application/json" not in config


def test_network_policies_isolate_the_data_stores() -> None:
    policies = by_kind(objects(render({})), "NetworkPolicy")
    postgres = policies["scis-postgresql"]["spec"]["ingress"][0]
    expressions = postgres["from"][0]["podSelector"]["matchExpressions"]
    assert {"key": "app.kubernetes.io/part-of", "operator": "In", "values": ["scis"]} in expressions
    assert postgres["ports"] == [{"port": 5432, "protocol": "TCP"}]
    gateway = policies["scis-gateway"]["spec"]["ingress"][0]
    assert "from" not in gateway  # the only Pod open to the outside
    services = policies["scis-services"]["spec"]["ingress"]
    assert all("from" in rule for rule in services)


def test_external_databases_come_from_existing_secrets() -> None:
    values = scenario_values(CHART / "ci" / "03-external-databases-values.yaml")
    found = objects(render(values))
    assert "StatefulSet" not in {o["kind"] for o in found}
    assert by_kind(found, "Secret") == {}  # nothing generated: every secret is the user's
    env = {
        e["name"]: e
        for e in by_kind(found, "Deployment")["scis-lives"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["SCIS_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "scis-external-db", "key": "url"}
    assert env["SCIS_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "scis-external-redis", "key": "url"}
    assert env["SCIS_SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "scis-signing-key", "key": "key"}
    assert (
        by_kind(found, "Job")["scis-migrations"]["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    )


def test_external_database_without_a_secret_is_refused() -> None:
    with pytest.raises(helm.HelmError, match="postgresql.external.existingSecret is required"):
        render({"postgresql": {"enabled": False}})


def test_short_signing_key_is_refused_and_the_generated_one_is_long() -> None:
    with pytest.raises(helm.HelmError, match="secretKey.value must be at least 32 characters"):
        render({"secretKey": {"value": "short-secret"}})
    generated = by_kind(objects(render({})), "Secret")["scis-secrets"]
    data = generated.get("stringData") or {
        name: base64.b64decode(value).decode() for name, value in generated["data"].items()
    }
    key = data["secret-key"]
    assert len(key) >= 32


@pytest.mark.parametrize("mesh", [True, False])
def test_consul_mesh_switch(mesh: bool) -> None:
    found = objects(render({"mesh": {"enabled": mesh}}))
    annotations = by_kind(found, "Deployment")["scis-lives"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["consul.hashicorp.com/connect-inject"] == ("true" if mesh else "false")
    if mesh:
        assert annotations["consul.hashicorp.com/transparent-proxy"] == "true"
    job = by_kind(found, "Job")["scis-migrations"]["spec"]["template"]["metadata"]["annotations"]
    assert job["consul.hashicorp.com/connect-inject"] == "false"


def test_mesh_without_transparent_proxy_uses_local_upstreams() -> None:
    found = objects(render({"mesh": {"enabled": True, "transparentProxy": False}}))
    pod = by_kind(found, "Deployment")["scis-lives"]["spec"]["template"]
    upstreams = pod["metadata"]["annotations"]["consul.hashicorp.com/connect-service-upstreams"].split(",")
    assert "scis-analyser:13002" in upstreams and not any(u.startswith("scis-lives:") for u in upstreams)
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["SCIS_ANALYSER_SERVICE_URL"] == "http://127.0.0.1:13002"


def test_operator_rbac_is_least_privilege() -> None:
    found = objects(render({}))
    roles = by_kind(found, "Role")
    assert "ClusterRole" not in {o["kind"] for o in found}  # namespaced unless clusterWide
    for role in roles.values():
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"]
            assert "secrets" not in rule["resources"]
    capture = roles["scis-capture"]["rules"]
    assert capture == [{"apiGroups": ["scis.io"], "resources": ["livemonitors/status"], "verbs": ["get", "patch"]}]
    operator = {tuple(r["resources"]): set(r["verbs"]) for r in roles["scis-operator"]["rules"]}
    assert operator[("pods",)] == {"get", "list", "watch", "create", "delete"}
    assert operator[("livemonitors/status",)] == {"get", "patch"}
    accounts = by_kind(found, "ServiceAccount")
    assert accounts["scis-services"]["automountServiceAccountToken"] is False


def test_operator_is_configured_for_its_capture_pods() -> None:
    found = objects(render({}))
    container = by_kind(found, "Deployment")["scis-operator"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SCIS_OPERATOR_CAPTURE_SERVICE_ACCOUNT"] == "scis-capture"
    assert env["SCIS_OPERATOR_CAPTURE_IMAGE"].endswith("scis-analyser:0.1.0")
    capture_env = {e["name"] for e in json.loads(env["SCIS_OPERATOR_CAPTURE_ENV"])}
    assert {"SCIS_DATABASE_URL", "SCIS_REDIS_URL", "SCIS_SECRET_KEY", "SCIS_ENV"} <= capture_env
    assert "--namespace=scis" in container["args"]


def test_simulator_only_when_enabled() -> None:
    assert "scis-simulator" not in by_kind(objects(render({})), "Deployment")
    found = objects(render({"simulator": {"enabled": True}}))
    assert "scis-simulator" in by_kind(found, "Deployment")
    env = {
        e["name"]: e.get("value")
        for e in by_kind(found, "Deployment")["scis-analyser"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["SCIS_WEBCAST_BASE_URL"] == "http://scis-simulator:8900"


def test_names_are_truncated_to_63() -> None:
    long_release = "r" * 53
    for obj in objects(render({}, release=long_release)):
        assert len(obj["metadata"]["name"]) <= 63, obj["metadata"]["name"]
        for value in (obj["metadata"].get("labels") or {}).values():
            assert len(value) <= 63


def test_values_schema_is_fresh_and_complete() -> None:
    script = ROOT / "charts" / "hack" / "generate-values-schema.py"
    assert subprocess.run([sys.executable, str(script), "--check"], check=False).returncode == 0

    def walk(node: dict[str, Any], path: str) -> None:
        assert node.get("type") and node.get("description"), path
        if path:
            assert "default" in node, path
        for key, child in (node.get("properties") or {}).items():
            walk(child, f"{path}.{key}")

    walk(json.loads((CHART / "values.schema.json").read_text()), "")


@pytest.mark.parametrize(
    "bad",
    [{"config": {"env": "staging"}}, {"operator": {"maxRestarts": "five"}}, {"gateway": {"prot": 80}}],
    ids=["enum", "type", "typo"],
)
def test_values_schema_refuses_bad_values(bad: dict[str, Any]) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError):
        chart.validate_schema(bad)


def test_notes_warn_about_insecure_combinations() -> None:
    notes = render({"secretKey": {"value": "scis-development-secret-change-me"}, "networkPolicy": {"enabled": False}})
    text = next(v for k, v in notes.items() if k.endswith("NOTES.txt"))
    assert "public development secret" in text and "networkPolicy.enabled is false" in text
    assert "port-forward svc/scis-gateway 8080:8080" in text
    quiet = next(v for k, v in render({"ingress": {"tls": {"enabled": True}}}).items() if k.endswith("NOTES.txt"))
    assert "WARNING" not in quiet


# The CloudNativePG fields the chart writes, as documented in its API reference (postgresql.cnpg.io/v1
# ClusterSpec, BootstrapInitDB, ManagedConfiguration/RoleConfiguration, BackupConfiguration,
# BarmanObjectStoreConfiguration, S3Credentials, ScheduledBackupSpec): kubernetes-validate cannot know the CRD.
CNPG_CLUSTER_FIELDS = {
    "spec": {"instances", "imageName", "minSyncReplicas", "maxSyncReplicas", "inheritedMetadata", "bootstrap",
             "managed", "storage", "resources", "backup", "postgresql"},
    "spec.bootstrap.initdb": {"database", "owner", "secret"},
    "spec.storage": {"size", "storageClass"},
    "spec.backup": {"retentionPolicy", "barmanObjectStore"},
    "spec.backup.barmanObjectStore": {"destinationPath", "endpointURL", "s3Credentials", "wal", "data"},
    "spec.backup.barmanObjectStore.s3Credentials": {"accessKeyId", "secretAccessKey"},
}  # fmt: skip
CNPG_ROLE_FIELDS = {"name", "ensure", "login", "passwordSecret"}
CNPG_SCHEDULED_BACKUP_FIELDS = {"schedule", "backupOwnerReference", "method", "cluster"}


def _at(obj: dict[str, Any], path: str) -> dict[str, Any]:
    for key in path.split("."):
        obj = obj[key]
    return obj


def test_cloudnativepg_mode_makes_a_cluster_with_replicas_and_backups() -> None:
    values = scenario_values(CHART / "ci" / "07-cloudnativepg-values.yaml")
    rendered = render(values)
    found = objects(rendered)
    cluster = by_kind(found, "Cluster")["scis-postgresql"]
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    for path, allowed in CNPG_CLUSTER_FIELDS.items():
        assert set(_at(cluster, path)) <= allowed, path
    spec = cluster["spec"]
    assert spec["instances"] == 3 and spec["minSyncReplicas"] == spec["maxSyncReplicas"] == 1
    assert "postgresql" not in spec  # no parameters chosen: PostgreSQL's defaults
    tuned = render({**values, "postgresql": {**values["postgresql"], "parameters": {"max_wal_size": "2GB"}}})
    tuned_spec = by_kind(objects(tuned), "Cluster")["scis-postgresql"]["spec"]
    assert tuned_spec["postgresql"] == {"parameters": {"max_wal_size": "2GB"}}
    assert spec["backup"]["barmanObjectStore"]["destinationPath"] == "s3://scis-backups/evidence"
    assert [r["name"] for r in spec["managed"]["roles"]] == ["scis_app", "scis_explorer"]
    assert all(set(role) <= CNPG_ROLE_FIELDS for role in spec["managed"]["roles"])
    backup = by_kind(found, "ScheduledBackup")["scis-postgresql"]
    assert set(backup["spec"]) <= CNPG_SCHEDULED_BACKUP_FIELDS
    assert backup["spec"]["cluster"]["name"] == "scis-postgresql"
    assert len(backup["spec"]["schedule"].split()) == 6  # CloudNativePG's cron has seconds first

    # Every role's basic-auth Secret exists, with the password of the URLs the services use.
    secrets = {name: obj for name, obj in by_kind(found, "Secret").items()}
    urls = secrets["scis-secrets"]["stringData"]
    assert urls["database-url"].startswith("postgresql://scis_app:")
    assert "@scis-postgresql-rw:5432/" in urls["database-url"]
    for suffix, role in (("owner", "scis"), ("app", "scis_app"), ("explorer", "scis_explorer")):
        secret = secrets[f"scis-secrets-{suffix}"]
        assert secret["type"] == "kubernetes.io/basic-auth" and secret["stringData"]["username"] == role
    assert secrets["scis-secrets-app"]["stringData"]["password"] in urls["database-url"]
    # No in-chart StatefulSet; the migration Job waits for the Cluster and leaves passwords to CloudNativePG.
    assert "scis-postgresql" not in by_kind(found, "StatefulSet")
    job = by_kind(found, "Job")["scis-migrations"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["scis", "db", "migrate"]
    notes = next(v for k, v in rendered.items() if k.endswith("NOTES.txt"))
    assert "postgresql.mode cloudnativepg" in notes and "3 instances" in notes

    for obj in found:  # everything else is still valid Kubernetes
        if obj["kind"] not in KINDS_WITHOUT_CORE_SCHEMA:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def test_postgresql_parameters_reach_the_embedded_server() -> None:
    def args(values: dict[str, Any]) -> list[str] | None:
        statefulset = by_kind(objects(render(values)), "StatefulSet")["scis-postgresql"]
        return statefulset["spec"]["template"]["spec"]["containers"][0].get("args")

    assert args({}) is None  # PostgreSQL's own defaults
    chosen = {"postgresql": {"parameters": {"max_wal_size": "2GB", "checkpoint_timeout": "15min"}}}
    assert args(chosen) == ["-c", "checkpoint_timeout=15min", "-c", "max_wal_size=2GB"]


def test_cloudnativepg_backups_need_a_store() -> None:
    with pytest.raises(helm.HelmError, match="backup.destinationPath is required"):
        render({"postgresql": {"mode": "cloudnativepg"}})
    quiet = render({"postgresql": {"mode": "cloudnativepg", "cloudnativepg": {"backup": {"enabled": False}}}})
    assert "NO backups" in next(v for k, v in quiet.items() if k.endswith("NOTES.txt"))
    assert "postgresql.mode embedded" in next(v for k, v in render({}).items() if k.endswith("NOTES.txt"))


def _retention_objects(values: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    found = objects(render(values))
    return by_kind(found, "CronJob").get("scis-retention"), by_kind(found, "PersistentVolumeClaim")


def test_retention_cronjob_archives_then_detaches_onto_its_volume() -> None:
    # Off by default: detaching is a decision the operator of the install takes.
    assert _retention_objects({})[0] is None
    values = scenario_values(CHART / "ci" / "02-all-features-values.yaml")
    cronjob, claims = _retention_objects(values)
    assert cronjob is not None
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == [
        "scis", "db", "partitions", "--detach-before", "today-2", "--archive-dir", "/archive",
    ]  # fmt: skip
    assert {"name": "archive", "mountPath": "/archive"} in container["volumeMounts"]
    assert any(e["name"] == "SCIS_MIGRATION_DATABASE_URL" for e in container["env"])  # as the owner: DDL
    claim = next(v for v in pod["volumes"] if v["name"] == "archive")["persistentVolumeClaim"]["claimName"]
    made = claims[claim]  # the chart made the archive volume, and keeps it past an uninstall
    assert made["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert made["spec"]["storageClassName"] == "standard"
    assert made["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    # Its Pods carry the migration Job's labels, which the network policies let reach the database.
    labels = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "migrations"
    for obj in (cronjob, made):
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def test_retention_uses_an_existing_archive_claim_and_its_own_image() -> None:
    values = {
        "migrations": {
            "retention": {
                "enabled": True,
                "archive": {"existingClaim": "scis-archives", "mountPath": "/var/archive"},
                "image": {"repository": "example/scis-with-pg18-client", "tag": "1"},
            }
        }
    }
    cronjob, claims = _retention_objects(values)
    assert cronjob is not None and not claims
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert next(v for v in pod["volumes"] if v["name"] == "archive")["persistentVolumeClaim"] == {
        "claimName": "scis-archives"
    }
    assert pod["containers"][0]["image"].endswith("example/scis-with-pg18-client:1")
    assert pod["containers"][0]["command"][-1] == "/var/archive"


def test_retention_values_are_checked() -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError):
        chart.validate_schema({"migrations": {"retention": {"minAgeDays": -1}}})
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError):
        chart.validate_schema({"migrations": {"retention": {"archive": {"claim": "x"}}}})


def test_notes_say_whether_retention_runs_and_what_it_needs() -> None:
    def notes(values: dict[str, Any]) -> str:
        return next(v for k, v in render(values).items() if k.endswith("NOTES.txt"))

    assert "Retention: off" in notes({})
    on = notes({"migrations": {"retention": {"enabled": True}}})
    assert "CronJob scis-retention (47 2 * * *)" in on and "onto PVC scis-archive" in on
    # The chart's own image has pg_dump (PostgreSQL 18's, decision 917): nothing to warn about.
    assert "pg_dump" not in on and "migrations.retention.image" not in on
