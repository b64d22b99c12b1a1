"""Fixtures for reporting tests against the real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from relais_runtime import testing


@pytest.fixture
async def database_dsn() -> AsyncIterator[str]:
    """An empty database of this test's own, dropped afterwards."""
    name = testing.unique_name("relais_test")
    dsn = await testing.create_database(name)
    yield dsn
    await testing.drop_database(name)


@pytest.fixture(scope="session")
async def amqp_url() -> AsyncIterator[str]:
    """A RabbitMQ vhost of this test session's own, deleted afterwards."""
    vhost = testing.unique_name("relais-test-reporting")
    url = await testing.create_vhost(vhost)
    yield url
    await testing.delete_vhost(vhost)
