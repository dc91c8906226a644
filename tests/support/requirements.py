"""Tools `make test` installs (make system-deps, make web): when one is missing the set-up is broken, so
the test module fails at collection and says how to mend it, rather than being skipped unnoticed."""

from __future__ import annotations

import pytest


def require(present: bool, what: str) -> None:
    if not present:
        pytest.fail(what, pytrace=False)
