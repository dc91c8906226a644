"""Image sizes: each target of images/Dockerfile as `make images` builds it (buildah, vfs storage).

Builds the images that are not built yet (minutes on a shared machine), then reports each image's
size and its heaviest layer. Baselines are issue 14's figures, when every image carried the whole
distribution: the python image 1.16 GB, the operator image 1.06 GB; the analyser's is its first
build with the extras split but Debian's desktop Chromium, 1.29 GB (docs/decisions/904).

    python -m bench images
"""

from __future__ import annotations

import subprocess
import sys
import time

from images.build import DEFAULT_DIR, TARGETS, Buildah, image_name, report

GOALS_MB = {"python": 350, "analyser": 900, "operator": 250, "frontend": 350}
BASELINES_MB = {"python": 1160.0, "operator": 1060.0, "analyser": 1290.0}


def run() -> list[dict[str, object]]:
    buildah = Buildah(DEFAULT_DIR)
    results: list[dict[str, object]] = []
    missing = [target for target in TARGETS if not buildah.image_exists(image_name(target))]
    if missing:
        started = time.monotonic()
        command = [sys.executable, "-m", "images.build", *(arg for t in missing for arg in ("--target", t))]
        subprocess.run(command, check=True)
        results.append(
            {
                "name": f"images_build_seconds_{'_'.join(missing)}",
                "value": round(time.monotonic() - started),
                "unit": "s",
                "baseline": None,
                "ratio": None,
                "goal": "informational: buildah on a shared 2-core machine, base image cached",
            }
        )
    for target in TARGETS:
        row = report(buildah, target)
        size = float(row["size_mb"])  # type: ignore[arg-type]
        baseline = BASELINES_MB.get(target)
        results.append(
            {
                "name": f"image_size_{target}",
                "value": size,
                "unit": "MB",
                "baseline": baseline,
                "ratio": round(size / baseline, 3) if baseline else None,
                "goal": f"<= {GOALS_MB[target]} MB; heaviest layer {row['heaviest_layer_mb']} MB:"
                f" {str(row['heaviest_layer'])[:90]}",
            }
        )
    for result in results:
        print(f"{result['name']:<32} {result['value']:>8} {result['unit']:<3} goal {result['goal']}")
    return results


if __name__ == "__main__":
    run()
