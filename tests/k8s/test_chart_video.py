"""Chart values for recorded video and WebRTC: an existing S3 bucket reaches every service and every
capture Pod (credentials from a Secret, never in values), STUN/TURN URLs reach the lives service,
and an S3 store without its endpoint or Secret is refused at render time."""

from __future__ import annotations

import json
from typing import Any

import helm_python as helm
import pytest

from tests.k8s.chart import by_kind, objects, render

S3_STORE = {"endpoint": "https://s3.example.org", "bucket": "evidence-video", "existingSecret": "video-store",
            "accessKeyKey": "id", "secretKeyKey": "secret"}  # fmt: skip
S3 = {"store": "s3", "s3": S3_STORE}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_s3_store_and_ice_servers_reach_lives_and_capture_pods() -> None:
    found = objects(render({"video": {**S3, "iceServers": ["stun:stun.example.org:3478", "turn:turn.example.org"]}}))
    deployments = by_kind(found, "Deployment")
    lives = env_of(deployments["scis-lives"]["spec"]["template"]["spec"]["containers"][0])
    assert lives["SCIS_VIDEO_STORE"] == "s3" and lives["SCIS_VIDEO_S3_ENDPOINT"] == "https://s3.example.org"
    assert lives["SCIS_VIDEO_S3_BUCKET"] == "evidence-video"
    assert lives["SCIS_VIDEO_S3_ACCESS_KEY"] == {"secretKeyRef": {"name": "video-store", "key": "id"}}
    assert lives["SCIS_VIDEO_S3_SECRET_KEY"] == {"secretKeyRef": {"name": "video-store", "key": "secret"}}
    assert lives["SCIS_WEBRTC_ICE_SERVERS"] == "stun:stun.example.org:3478,turn:turn.example.org"
    operator = env_of(deployments["scis-operator"]["spec"]["template"]["spec"]["containers"][0])
    capture = {e["name"]: e for e in json.loads(operator["SCIS_OPERATOR_CAPTURE_ENV"])}
    assert capture["SCIS_VIDEO_STORE"]["value"] == "s3", "capture Pods on any node write to the same store"
    assert capture["SCIS_VIDEO_S3_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "video-store"


def test_default_keeps_video_in_a_folder_and_offers_no_ice_servers() -> None:
    found = objects(render({}))
    lives = env_of(by_kind(found, "Deployment")["scis-lives"]["spec"]["template"]["spec"]["containers"][0])
    assert "SCIS_VIDEO_STORE" not in lives and "SCIS_WEBRTC_ICE_SERVERS" not in lives


@pytest.mark.parametrize("missing", ["endpoint", "existingSecret"])
def test_s3_without_endpoint_or_secret_is_refused(missing: str) -> None:
    values = {"video": {**S3, "s3": {**S3_STORE, missing: ""}}}
    with pytest.raises(helm.HelmError, match="video.store=s3 needs"):
        render(values)


def test_bundled_store_runs_in_the_chart_with_generated_credentials_and_a_volume() -> None:
    found = objects(render({"video": {"store": "bundled", "s3": {"bucket": "evidence-video"}}}))
    store = by_kind(found, "StatefulSet")["scis-video-store"]
    container = store["spec"]["template"]["spec"]["containers"][0]
    assert "python -m localbucket --host 0.0.0.0 --port 9000 /data" in container["args"][0]
    assert 'mkdir -p "/data/$BUCKET"' in container["args"][0], "the bucket exists before the first capture"
    assert env_of(container)["BUCKET"] == "evidence-video"
    assert store["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "20Gi"
    secret = by_kind(found, "Secret")["scis-video-store"]
    assert len(secret["stringData"]["secret-key"]) == 40 and secret["stringData"]["access-key"].startswith("scis")
    assert by_kind(found, "Service")["scis-video-store"]["spec"]["ports"][0]["port"] == 9000
    deployments = by_kind(found, "Deployment")
    lives = env_of(deployments["scis-lives"]["spec"]["template"]["spec"]["containers"][0])
    assert lives["SCIS_VIDEO_STORE"] == "s3" and lives["SCIS_VIDEO_S3_ENDPOINT"] == "http://scis-video-store:9000"
    assert lives["SCIS_VIDEO_S3_BUCKET"] == "evidence-video"
    assert lives["SCIS_VIDEO_S3_SECRET_KEY"] == {"secretKeyRef": {"name": "scis-video-store", "key": "secret-key"}}
    operator = env_of(deployments["scis-operator"]["spec"]["template"]["spec"]["containers"][0])
    capture = {e["name"]: e for e in json.loads(operator["SCIS_OPERATOR_CAPTURE_ENV"])}
    assert capture["SCIS_VIDEO_S3_ENDPOINT"]["value"] == "http://scis-video-store:9000"
    assert capture["SCIS_VIDEO_S3_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "scis-video-store"


def test_bundled_store_admits_only_the_pods_that_record_or_show_video() -> None:
    found = objects(render({"video": {"store": "bundled"}, "networkPolicy": {"enabled": True}}))
    policies = by_kind(found, "NetworkPolicy")
    ingress = policies["scis-video-store-access"]["spec"]
    assert ingress["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "video-store"
    admitted = ingress["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][1]["values"]
    assert sorted(admitted) == ["analyser", "capture", "lives", "tests"]
    egress = policies["scis-video-store-egress"]["spec"]
    assert egress["egress"][0]["ports"] == [{"port": 9000, "protocol": "TCP"}]


def test_without_bundled_store_there_is_no_store_pod() -> None:
    found = objects(render({"video": {**S3}}))
    assert "scis-video-store" not in by_kind(found, "StatefulSet")
    assert "scis-video-store" not in by_kind(found, "Secret")
