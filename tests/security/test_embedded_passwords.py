"""The embedded PostgreSQL demands a password from everyone, and an old trusting data folder is upgraded.

It used to run initdb with --auth=trust on loopback: any local process was the superuser, which made
every database role meaningless.
"""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest

from scis.embedded.ports import free_port
from scis.embedded.postgres import SUPERUSER, EmbeddedPostgres, load_passwords


def without_password(server: EmbeddedPostgres) -> str:
    return f"postgresql://{SUPERUSER}@{server.host}:{server.port}/postgres"


def test_no_password_no_entry_and_the_passwords_are_private(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres", free_port(), tmp_path / "postgres.log")
    server.start()
    try:
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(without_password(server), connect_timeout=5)
        server.migrate()
        for url in (server.superuser_url, server.url, server.explorer_url):
            with psycopg.connect(url, connect_timeout=5) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(server.url.replace(":" + load_passwords(server.passwords_file)["scis_app"], ":wrong"))
    finally:
        server.stop()
    assert stat.S_IMODE(server.passwords_file.stat().st_mode) == 0o600


def test_a_trusting_data_folder_is_upgraded_on_the_next_start(tmp_path: Path) -> None:
    data = tmp_path / "postgres"
    server = EmbeddedPostgres(data, free_port(), tmp_path / "postgres.log")
    server.start()
    # Make it what an older SCIS left behind: trust on loopback, a superuser without a password.
    with psycopg.connect(server.superuser_url, autocommit=True) as conn:
        conn.execute("ALTER ROLE postgres PASSWORD NULL")
    server.stop()
    (data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n")
    server.passwords_file.unlink()

    upgraded = EmbeddedPostgres(data, free_port(), tmp_path / "postgres.log")
    upgraded.start()
    try:
        assert not upgraded.trusts_connections()
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(without_password(upgraded), connect_timeout=5)
        with psycopg.connect(upgraded.superuser_url, connect_timeout=5) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    finally:
        upgraded.stop()
