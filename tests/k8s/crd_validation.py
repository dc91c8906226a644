"""Validate objects against the LiveMonitor CRD as the API server would: its openAPIV3Schema (with
jsonschema) and its CEL ``x-kubernetes-validations`` rules (with cel-python)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import celpy
import jsonschema
import yaml

from tests.k8s.emulator import CRD_PATH


@lru_cache(maxsize=1)
def crd() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text())
    return loaded


def crd_schema(version: str = "v1alpha1") -> dict[str, Any]:
    for served in crd()["spec"]["versions"]:
        if served["name"] == version:
            schema: dict[str, Any] = served["schema"]["openAPIV3Schema"]
            return schema
    raise KeyError(version)


def _cel_rules(schema: Mapping[str, Any], value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    for rule in schema.get("x-kubernetes-validations") or ():
        yield path, rule, value
    if isinstance(value, Mapping):
        for key, child in value.items():
            if key in (schema.get("properties") or {}):
                yield from _cel_rules(schema["properties"][key], child, f"{path}.{key}")
            elif isinstance(schema.get("additionalProperties"), Mapping):
                yield from _cel_rules(schema["additionalProperties"], child, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, child in enumerate(value):
            yield from _cel_rules(schema["items"], child, f"{path}[{index}]")


def validation_errors(obj: Mapping[str, Any]) -> list[str]:
    """Every reason the API server would refuse ``obj``; empty when it would accept it."""
    schema = crd_schema()
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(obj)]
    if errors:
        return errors  # CEL rules only run on objects that passed the schema
    environment = celpy.Environment()
    for path, rule, value in _cel_rules(schema, obj, "self"):
        program = environment.program(environment.compile(rule["rule"]))
        if not bool(program.evaluate({"self": celpy.json_to_cel(value)})):
            errors.append(f"{path}: {rule.get('message', rule['rule'])}")
    return errors
