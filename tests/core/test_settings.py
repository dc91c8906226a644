"""Settings: one readable line per bad value, and docs/configuration.md lists every setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scis.core.settings import Settings, SettingsError, load_settings

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"
# Read by the test suite, not by Settings.
DOCUMENTED_ELSEWHERE = {"SCIS_TEST_DATABASE_URL", "SCIS_TEST_REDIS_URL"}


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "SCIS_DISCOVERY",
            "zookeeper",
            "invalid setting SCIS_DISCOVERY='zookeeper': Input should be 'static' or 'consul'",
        ),
        ("SCIS_GATEWAY_PORT", "99999", "invalid setting SCIS_GATEWAY_PORT='99999'"),
        ("SCIS_LOG_LEVEL", "LOUD", "invalid setting SCIS_LOG_LEVEL='LOUD'"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIS_ENV", "production")
    with pytest.raises(SettingsError, match="SCIS_SECRET_KEY must be set"):
        load_settings()
    monkeypatch.setenv("SCIS_SECRET_KEY", "x" * 40)
    assert load_settings().env == "production"


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"`(SCIS_[A-Z0-9_]+)`", DOC.read_text()))
    declared = {f"SCIS_{name.upper()}" for name in Settings.model_fields}
    assert declared - documented == set(), "undocumented settings"
    assert documented - declared - DOCUMENTED_ELSEWHERE == set(), "documented settings that do not exist"
