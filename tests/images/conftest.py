"""Image tests run in `make test-images` (after `make images`): `pytest -m images tests/images`.

Building the four images takes minutes on a shared machine, so the main suite (`make test`) leaves
the tests marked `images` out; run `make test-images` by hand (docs/decisions/903).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from images.build import DEFAULT_DIR, Buildah, image_name
from tests.images.sandbox import MountedImage


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "images" in (config.getoption("-m") or ""):
        return
    # Not skipped but left out of the main suite, as `-m "not images"` would: they need the images
    # `make images` builds (an hour here), and `make test-images` runs them.
    images = [item for item in items if item.get_closest_marker("images")]
    if images:
        config.hook.pytest_deselected(items=images)
        items[:] = [item for item in items if not item.get_closest_marker("images")]


@pytest.fixture(scope="session")
def buildah() -> Buildah:
    return Buildah(DEFAULT_DIR)


@pytest.fixture(scope="session")
def mount(buildah: Buildah) -> Iterator[Callable[[str], MountedImage]]:
    """mount(target): the image `make images` built for it, mounted once; a missing one fails the test."""
    mounted: dict[str, MountedImage] = {}

    def get(target: str) -> MountedImage:
        if target not in mounted:
            name = image_name(target)
            assert buildah.image_exists(name), f"image {name} not built; run `make images` first"
            mounted[target] = MountedImage(buildah, name).__enter__()
        return mounted[target]

    try:
        yield get
    finally:
        for image in mounted.values():
            image.__exit__()
