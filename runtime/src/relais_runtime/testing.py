"""Helpers for tests that use the real RabbitMQ and PostgreSQL.

Every test run isolates itself: a database per service with a unique name and a RabbitMQ
vhost of its own, both removed afterwards, so concurrent runs never see each other.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

ADMIN_DSN = os.environ.get("RELAIS_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_BASE = os.environ.get("RELAIS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def dsn_for(database: str, admin_dsn: str = ADMIN_DSN) -> str:
    parts = urlsplit(admin_dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


async def create_database(name: str, admin_dsn: str = ADMIN_DSN) -> str:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return dsn_for(name, admin_dsn)


async def drop_database(name: str, admin_dsn: str = ADMIN_DSN) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _rabbitmqctl(*args: str) -> None:
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run(  # noqa: S603 - fixed executable, our own arguments
        [exe, "-q", *args], check=True, capture_output=True, timeout=60
    )


async def create_vhost(name: str) -> str:
    """Create a vhost with full rights for the base URL's user; return its AMQP URL."""
    user = urlsplit(AMQP_BASE).username or "guest"
    await asyncio.to_thread(_rabbitmqctl, "add_vhost", name)
    await asyncio.to_thread(_rabbitmqctl, "set_permissions", "-p", name, user, ".*", ".*", ".*")
    return amqp_url_for(name)


async def delete_vhost(name: str) -> None:
    await asyncio.to_thread(_rabbitmqctl, "delete_vhost", name)


def amqp_url_for(vhost: str, base: str = AMQP_BASE) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))
