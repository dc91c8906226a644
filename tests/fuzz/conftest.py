"""The fuzz tests reuse the services' session fixtures: settings, accounts and tokens."""

from tests.services.conftest import accounts, settings, tokens  # noqa: F401 - fixtures, registered by import
