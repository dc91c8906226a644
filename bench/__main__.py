"""`make bench`: run every bench/*_bench.py, print each result with its ratio, write bench/results.json."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(names: list[str]) -> int:
    modules = sorted(p.stem for p in HERE.glob("*_bench.py"))
    if names:
        modules = [m for m in modules if any(n in m for n in names)]
    results: list[dict[str, object]] = []
    failed = []
    for name in modules:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        # Each bench in a process of its own, so memory figures are not another bench's leftovers.
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            done = subprocess.run([sys.executable, "-m", "bench", "--one", name, out.name], check=False)
            if done.returncode == 0:
                results.extend(json.loads(Path(out.name).read_text()))
            else:
                failed.append(name)
        print(f"   ({time.monotonic() - started:.1f}s)", flush=True)
    print(f"\n{'name':<44} {'value':>12} {'unit':<10} {'baseline':>12} {'ratio':>8}  goal")
    for r in results:
        print(f"{r['name']:<44} {r['value']:>12} {r['unit']:<10} {r['baseline']!s:>12} {r['ratio']!s:>8}  {r['goal']}")
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    if failed:
        print(f"benches that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def run_one(name: str, out: str) -> int:
    Path(out).write_text(json.dumps(importlib.import_module(f"bench.{name}").run()))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        raise SystemExit(run_one(sys.argv[2], sys.argv[3]))
    raise SystemExit(main(sys.argv[1:]))
