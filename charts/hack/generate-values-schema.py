#!/usr/bin/env python3
"""Write charts/scis/values.schema.json from values.yaml and its "# --" comments.

Each key's type comes from its default, its description from the "# --" comment above it. A JSON
object at the end of a comment adds schema keywords (e.g. {"enum": [...]}); {"x-freeform": true}
marks a map whose keys are free (resources, nodeSelector, annotations). Objects are otherwise closed
(additionalProperties: false), so that a misspelt value fails `helm install` instead of being ignored.

    python charts/hack/generate-values-schema.py          # write
    python charts/hack/generate-values-schema.py --check  # exit 1 if the file is stale
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "scis"
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):")
COMMENT = re.compile(r"^ *# -- (?P<text>.*)$")


def comments(text: str) -> dict[tuple[str, ...], tuple[str, dict[str, Any]]]:
    """Description and extra keywords of each key path, from the comment lines above it."""
    found: dict[tuple[str, ...], tuple[str, dict[str, Any]]] = {}
    stack: list[tuple[int, str]] = []
    pending: str | None = None
    for line in text.splitlines():
        if match := COMMENT.match(line):
            pending = match["text"].strip()
            continue
        match = KEY.match(line)
        if not match:
            if not line.strip().startswith("#"):
                pending = None
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match["key"]))
        if pending is not None:
            description, extra = pending, {}
            if description.endswith("}") and " {" in description:
                description, raw = description.split(" {", 1)
                extra = json.loads("{" + raw)
            found[tuple(key for _, key in stack)] = (description.strip(), extra)
        pending = None
    return found


Notes = dict[tuple[str, ...], tuple[str, dict[str, Any]]]


def schema_of(value: Any, path: tuple[str, ...], notes: Notes) -> dict[str, Any]:
    description, extra = notes.get(path, ("", {}))
    extra = dict(extra)
    freeform = extra.pop("x-freeform", False)
    node: dict[str, Any]
    if isinstance(value, bool):
        node = {"type": "boolean"}
    elif isinstance(value, int):
        node = {"type": "integer"}
    elif isinstance(value, float):
        node = {"type": "number"}
    elif isinstance(value, str):
        node = {"type": "string"}
    elif isinstance(value, list):
        node = {"type": "array", "items": {}}
    elif isinstance(value, dict):
        node = {"type": "object"}
        if freeform:
            node["additionalProperties"] = True
        else:
            node["additionalProperties"] = False
            node["properties"] = {key: schema_of(child, (*path, key), notes) for key, child in value.items()}
            if not description:
                description = f"Settings of {path[-1]}." if path else "Values of the SCIS chart."
    else:
        raise TypeError(f"{'.'.join(path)}: cannot type {value!r}")
    if not description:
        raise SystemExit(f"{'.'.join(path)} has no '# --' description in values.yaml")
    node["description"] = description
    if path:
        node["default"] = value
    node.update(extra)
    return node


def generate() -> str:
    text = (CHART / "values.yaml").read_text()
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "title": "SCIS chart values"}
    schema.update(schema_of(yaml.safe_load(text), (), comments(text)))
    return json.dumps(schema, indent=2) + "\n"


def main() -> int:
    target = CHART / "values.schema.json"
    fresh = generate()
    if "--check" in sys.argv:
        if not target.exists() or target.read_text() != fresh:
            print(f"{target} is stale: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    target.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
