"""`tilt up` and `skaffold dev` (issue 14): every image they deploy is one they build, including the
capture Pods' image, which the operator reads from an env var rather than from a container's `image`.

Neither tool runs here, so each is played as documented: the Tiltfile is evaluated (its Starlark is
Python) with recording stand-ins for Tilt's functions, and Tilt's image injection is applied to the chart
it renders (a container image whose name a docker_build ref names is replaced by the build's tag; an env
var value only with ``match_in_env_vars=True``); skaffold's ``setValueTemplates`` are filled in with a tag
and digest per artifact, as skaffold does, and the chart rendered with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from tests.k8s.chart import by_kind, objects, render
from tests.k8s.emulator import ROOT

WORKLOADS = ("Deployment", "StatefulSet", "Job", "CronJob", "Pod")


def _set(values: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        values = values.setdefault(key, {})
    values[last] = value


def _containers(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec.get("template", {}).get("spec", spec)
    yield from pod.get("initContainers") or []
    yield from pod.get("containers") or []


def _scis_images(found: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(workload, image) of every container running an SCIS image (not the gateway's nginx, PostgreSQL...)."""
    for obj in found:
        if obj["kind"] in WORKLOADS:
            for container in _containers(obj):
                if _name(container["image"]).rsplit("/", 1)[-1].startswith("scis"):
                    yield obj["metadata"]["name"], container["image"]


def _name(image: str) -> str:
    return re.split(r"[:@]", image, maxsplit=1)[0]


def _capture_image(found: list[dict[str, Any]]) -> str:
    operator = by_kind(found, "Deployment")["scis-operator"]
    env = {e["name"]: e.get("value") for c in _containers(operator) for e in c.get("env") or []}
    return str(env["SCIS_OPERATOR_CAPTURE_IMAGE"])


def _tiltfile() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The Tiltfile's docker_build calls by ref, and the values of its helm() call."""
    builds: dict[str, dict[str, Any]] = {}
    deployed: dict[str, Any] = {}

    def docker_build(ref: str, context: str, **options: Any) -> None:
        builds[ref] = options

    def helm(chart: str, **options: Any) -> str:
        values: dict[str, Any] = {}
        for path in options.get("values", []):
            values.update(yaml.safe_load((ROOT / path).read_text()))
        for assignment in options.get("set", []):
            key, value = assignment.split("=", 1)
            _set(values, key, value)
        deployed["values"] = values
        return "helm-output"

    tilt = {
        "allow_k8s_contexts": lambda *a, **k: None,
        "docker_build": docker_build,
        "sync": lambda *a, **k: None,
        "k8s_yaml": lambda *a, **k: None,
        "helm": helm,
        "k8s_resource": lambda *a, **k: None,
    }
    exec(compile((ROOT / "Tiltfile").read_text(), "Tiltfile", "exec"), tilt)  # noqa: S102 - our own file
    return builds, deployed["values"]


def test_tilt_deploys_only_what_it_builds_and_captures_run_on_the_analyser_build() -> None:
    builds, values = _tiltfile()
    found = objects(render(values))
    tilt_tag = {ref: f"{ref}:tilt-{i:04d}" for i, ref in enumerate(builds)}

    def injected(image: str, *, in_env: bool) -> str:
        ref = _name(image)
        if ref in builds and (not in_env or builds[ref].get("match_in_env_vars")):
            return tilt_tag[ref]
        return image

    images = list(_scis_images(found))
    assert len(images) >= 9  # the eight services and the operator
    for workload, image in images:
        assert injected(image, in_env=False) in tilt_tag.values(), f"{workload}: {image} is not built by Tilt"
    capture = injected(_capture_image(found), in_env=True)
    assert capture == tilt_tag["scis-analyser"], f"capture Pods would run {capture}, which Tilt never built"
    assert builds["scis-analyser"]["target"] == "analyser"


def test_skaffold_sets_the_capture_image_to_its_analyser_build() -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    artifacts = {a["image"]: a for a in config["build"]["artifacts"]}
    release = config["deploy"]["helm"]["releases"][0]
    values: dict[str, Any] = {}
    for path in release["valuesFiles"]:
        values.update(yaml.safe_load((ROOT / path).read_text()))

    def fill(template: str) -> str:  # as skaffold does, per artifact (dashes become underscores)
        for image in artifacts:
            key = image.replace("-", "_")
            template = template.replace(f"{{{{.IMAGE_REPO_NO_DOMAIN_{key}}}}}", f"built/{image}")
            template = template.replace(f"{{{{.IMAGE_TAG_{key}}}}}", f"t-{image}")
            template = template.replace(f"{{{{.IMAGE_DIGEST_{key}}}}}", f"sha256:{len(image):064x}")
        assert "{{" not in template, template
        return template

    for key, template in release["setValueTemplates"].items():
        _set(values, key, fill(str(template)))
    found = objects(render(values))
    built = {f"built/{image}:t-{image}@sha256:{len(image):064x}": a for image, a in artifacts.items()}
    images = list(_scis_images(found))
    assert len(images) >= 9  # the eight services and the operator
    for workload, image in images:
        assert image in built, f"{workload}: {image} is not built by skaffold"
    capture = _capture_image(found)
    assert capture in built and built[capture]["docker"]["target"] == "analyser", capture
