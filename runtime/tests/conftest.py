"""Fixtures for runtime tests against the real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest
import structlog

from relais_runtime import testing


@pytest.fixture(scope="session")
async def amqp_url() -> AsyncIterator[str]:
    """A RabbitMQ vhost of this test session's own, deleted afterwards."""
    vhost = testing.unique_name("relais-test")
    url = await testing.create_vhost(vhost)
    yield url
    await testing.delete_vhost(vhost)


@pytest.fixture
async def database_dsn() -> AsyncIterator[str]:
    """An empty database of this test's own, dropped afterwards."""
    name = testing.unique_name("relais_test")
    dsn = await testing.create_database(name)
    yield dsn
    await testing.drop_database(name)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """CLI commands configure logging for the process; put the previous set-up back."""
    saved_config = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    yield
    structlog.configure(**saved_config)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)
