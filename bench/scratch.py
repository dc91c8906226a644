"""A throw-away SCIS database for one bench: a migrated embedded PostgreSQL in a temporary folder."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scis.embedded.ports import free_port
from scis.embedded.postgres import EmbeddedPostgres


@contextmanager
def scratch_postgres(name: str) -> Iterator[tuple[Path, EmbeddedPostgres]]:
    """(folder, server): migrated as the owner; `server.url` is scis_app's, as the services connect."""
    with tempfile.TemporaryDirectory(prefix=f"scis-{name}-bench-") as folder:
        home = Path(folder)
        home.chmod(0o755)  # the server may run as its own system user
        with EmbeddedPostgres(home / "postgres", free_port(), home / "postgres.log").migrated() as server:
            yield home, server
