"""Image tests run in `make test-images` (after `make images`): `pytest -m images tests/images`.

Building the four images takes minutes on a shared machine, so the main suite (`make test`) leaves
the tests marked `images` out; `.ci/run` calls `make test-images` after it (docs/decisions/904).
"""

from __future__ import annotations

import pytest

from images.build import DEFAULT_DIR, Buildah, image_name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "images" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="image tests run in `make test-images` (pytest -m images)")
    for item in items:
        if item.get_closest_marker("images"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def buildah() -> Buildah:
    return Buildah(DEFAULT_DIR)


@pytest.fixture(scope="session")
def built(buildah: Buildah) -> dict[str, str]:
    """The four images `make images` built; a missing one fails the test, saying what to run."""
    names = {target: image_name(target) for target in ("python", "analyser", "frontend", "operator")}
    missing = [name for name in names.values() if not buildah.image_exists(name)]
    assert not missing, f"images not built: {', '.join(missing)}; run `make images` first"
    return names
