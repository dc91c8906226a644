"""The signing secret: random per machine when unset, never short or public in production."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from scis.core.auth.secret import SECRET_FILE_NAME, SecretFileError, load_or_create_secret, with_home_secret
from scis.core.settings import DEV_SECRET, Settings, SettingsError, load_settings


def test_first_start_makes_a_private_random_secret_and_reuses_it(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path)
    path = tmp_path / SECRET_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.encode()) >= 32 and first != DEV_SECRET
    assert load_or_create_secret(tmp_path) == first
    assert load_or_create_secret(tmp_path / "other") != first


def test_a_loosened_secret_file_is_tightened(tmp_path: Path) -> None:
    load_or_create_secret(tmp_path)
    path = tmp_path / SECRET_FILE_NAME
    path.chmod(0o644)
    load_or_create_secret(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_short_secret_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE_NAME).write_text("short\n")
    with pytest.raises(SecretFileError, match="delete it"):
        load_or_create_secret(tmp_path)


def test_settings_use_the_home_secret_unless_one_is_given(tmp_path: Path) -> None:
    assert with_home_secret(Settings(home=tmp_path)).secret_key == load_or_create_secret(tmp_path)
    given = "g" * 40
    assert with_home_secret(Settings(home=tmp_path, secret_key=given)).secret_key == given


def test_production_refuses_a_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIS_ENV", "production")
    monkeypatch.setenv("SCIS_SECRET_KEY", "x" * 31)
    with pytest.raises(SettingsError, match="31 bytes; production needs at least 32"):
        load_settings()
