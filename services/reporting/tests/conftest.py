"""Fixtures for reporting tests (``database_dsn``, ``amqp_url``: relais_runtime.testing.plugin)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def relais_service() -> str:
    """``database_dsn`` is a database with reporting's migrations applied."""
    return "reporting"
