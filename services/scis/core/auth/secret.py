"""The token signing secret of a machine without SCIS_SECRET_KEY: random, made once, kept in SCIS_HOME."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path

from scis.core.settings import MIN_SECRET_BYTES, Environment, Settings

SECRET_FILE_NAME = "secret-key"


class SecretFileError(Exception):
    """The secret file exists but cannot be used; the message names it and says what to do."""


def load_or_create_secret(home: Path) -> str:
    """The secret in HOME/secret-key, created (mode 0600) with 48 random bytes when missing."""
    path = home / SECRET_FILE_NAME
    if not path.exists():
        _create_atomically(path, secrets.token_urlsafe(48))
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        # Someone loosened it: tighten rather than go on signing with a key others may read.
        path.chmod(0o600)
    secret = path.read_text().strip()
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise SecretFileError(
            f"{path} holds a {len(secret.encode())}-byte secret; delete it to have a new random one made "
            f"(signs every login token, so everyone signs in again) or write one of {MIN_SECRET_BYTES}+ bytes"
        )
    return secret


def _create_atomically(path: Path, secret: str) -> None:
    # Written beside the target and linked into place: a concurrent starter sees no file or a whole one.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


def with_home_secret(settings: Settings) -> Settings:
    """Settings signing with SCIS_SECRET_KEY when set, else with this machine's random secret.

    Production never falls back: there SCIS_SECRET_KEY is required (Settings refuses the default).
    """
    if "secret_key" in settings.model_fields_set or settings.env is Environment.production:
        return settings
    secret = load_or_create_secret(settings.home.expanduser().resolve())
    return settings.model_copy(update={"secret_key": secret})
