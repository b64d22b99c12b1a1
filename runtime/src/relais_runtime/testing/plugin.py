"""The pytest plugin of every Relais test session (entry point ``relais`` in runtime's pyproject).

Fixtures every suite shares, instead of a copy in each conftest:

- ``amqp_url``: a RabbitMQ vhost of the suite's own (one per ``relais_service`` for the
  session), deleted afterwards;
- ``database_dsn``: a database of the test's own, dropped afterwards. Empty by default; a
  suite whose conftest names its service (``relais_service``) gets a copy of that service's
  database already migrated: the migrations run once per session into a template, and each
  test's database is ``CREATE DATABASE ... TEMPLATE`` of it (``RELAIS_TEST_DB_TEMPLATE=0``
  migrates each test's database instead, to compare);
- ``keys_dir`` (session): the JWT signing key and the sealing keys of the two test PREs.

And the classification of tests: a test that uses a fixture reaching PostgreSQL or RabbitMQ
is marked ``integration`` (and one that starts the services as processes, ``e2e``) when it
is collected, so ``pytest -m "not integration"`` keeps the pure unit tests without anyone
remembering a marker. Tests that reach them otherwise carry the marker themselves; one
that forgets fails in the fast lane as soon as it creates a database or a vhost, saying so.
"""

from __future__ import annotations

import gc
import importlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import asyncpg
import pytest
import structlog

from relais_runtime import testing

TEST_PRE = "pre-76540"
OTHER_TEST_PRE = "pre-14118"

#: Fixtures that reach the real PostgreSQL or RabbitMQ: a test using one (even through
#: another fixture) is an integration test.
INTEGRATION_FIXTURES = frozenset(
    {
        "amqp_url",
        "database_dsn",
        "database_templates",
        "pg_proxy",
        "session_vhosts",
        "stack_factory",
    }
)
#: Fixtures that start the services as processes.
E2E_FIXTURES = frozenset({"stack_factory"})


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    integration, e2e = pytest.mark.integration, pytest.mark.e2e
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & INTEGRATION_FIXTURES and item.get_closest_marker("integration") is None:
            item.add_marker(integration)
        if used & E2E_FIXTURES and item.get_closest_marker("e2e") is None:
            item.add_marker(e2e)


@dataclass
class DatabaseSetUp:
    """How many test databases were made, and the time it took (printed after the run)."""

    count: int = 0
    seconds: float = 0.0
    templates: dict[str, float] = field(default_factory=dict)


_SET_UP = pytest.StashKey[DatabaseSetUp]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SET_UP] = DatabaseSetUp()
    # Where a test has not configured logging, structlog's default console renders exceptions
    # with rich: syntax-highlighted source around each frame, about 1 s per logged exception.
    # A plain traceback says the same (services log JSON anyway: configure_logging).
    defaults = structlog.get_config()["processors"]
    if defaults and isinstance(defaults[-1], structlog.dev.ConsoleRenderer):
        structlog.configure(
            processors=[
                *defaults[:-1],
                structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
            ]
        )
    if "not integration" in (config.getoption("markexpr", "") or ""):
        testing.NO_INFRASTRUCTURE = (
            "this test creates a database or a vhost in the fast lane (-m 'not integration'): "
            "use the database_dsn/amqp_url fixtures, or mark it @pytest.mark.integration"
        )


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    # What collection imported (every service's app, its models, the schemas: some 250,000
    # objects) lives to the end: out of the collector's sight, the full collections during
    # the run no longer walk it each time (fast lane CPU in gc: 2.8 s -> 1.7 s for 664 tests).
    gc.freeze()
    # And a young collection every 20,000 allocations rather than 700: a test allocates
    # far more than that, and each collection was pure overhead (1.7 s -> 0.9 s).
    gc.set_threshold(20_000, 10, 10)


def pytest_unconfigure(config: pytest.Config) -> None:
    testing.NO_INFRASTRUCTURE = None
    # The same at exit: the interpreter's last collection walked every object the run
    # left (3.4 s of wall after pytest's summary at load 16, 0.1 s frozen).
    gc.freeze()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    set_up = terminalreporter.config.stash.get(_SET_UP, None)
    if set_up is None or not set_up.count:
        return
    how = "copies of a migrated template" if _templates_on() else "migrated one by one"
    line = f"test databases: {set_up.count} in {set_up.seconds:.1f} s ({how})"
    if set_up.templates:
        made = ", ".join(f"{s} {t:.1f} s" for s, t in sorted(set_up.templates.items()))
        line += f"; templates: {made}"
    terminalreporter.write_line(line)


def _templates_on() -> bool:
    return os.environ.get("RELAIS_TEST_DB_TEMPLATE", "1") != "0"


def service_migrations(service: str) -> Path:
    """``services/<service>/migrations`` (or the installed package's copy)."""
    from relais_runtime.app import migrations_dir

    package = importlib.import_module(f"relais_{service}")
    assert package.__file__ is not None
    return migrations_dir(package.__file__)


class DatabaseTemplates:
    """One migrated database per service and session, copied for each test."""

    def __init__(self, set_up: DatabaseSetUp) -> None:
        self._set_up = set_up
        self._templates: dict[str, str] = {}

    async def migrated(self, service: str, name: str) -> str:
        """Create database ``name`` with ``service``'s migrations applied; return its DSN."""
        from relais_runtime.runtime import prepare_database

        started = time.perf_counter()
        if not _templates_on():
            dsn = await testing.create_database(name)
            await prepare_database(dsn, service, service_migrations(service))
        else:
            template = self._templates.get(service)
            if template is None:
                template = testing.unique_name(f"relais_template_{service}")
                await prepare_database(
                    testing.dsn_for(template), service, service_migrations(service)
                )
                self._templates[service] = template
                self._set_up.templates[service] = time.perf_counter() - started
            dsn = await copy_database(template, name)
        self._set_up.count += 1
        self._set_up.seconds += time.perf_counter() - started
        return dsn

    async def drop(self) -> None:
        for template in self._templates.values():
            await testing.drop_database(template)
        self._templates.clear()


async def copy_database(template: str, name: str, admin_dsn: str = testing.ADMIN_DSN) -> str:
    """``CREATE DATABASE name TEMPLATE template`` (nobody may be connected to the template)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return testing.dsn_for(name, admin_dsn)


@pytest.fixture(scope="session")
def relais_service() -> str | None:
    """The service whose suite this is (``"parcours"``…): a service's conftest names it, and
    ``database_dsn`` then carries that service's migrations. None: an empty database."""
    return None


@pytest.fixture(scope="session")
async def database_templates(request: pytest.FixtureRequest) -> AsyncIterator[DatabaseTemplates]:
    templates = DatabaseTemplates(request.config.stash[_SET_UP])
    yield templates
    await templates.drop()


@pytest.fixture
async def database_dsn(
    request: pytest.FixtureRequest,
    relais_service: str | None,
    database_templates: DatabaseTemplates,
) -> AsyncIterator[str]:
    """A database of this test's own (its service's migrations applied), dropped afterwards."""
    name = testing.unique_name(f"relais_test_{relais_service}" if relais_service else "relais_test")
    if relais_service:
        dsn = await database_templates.migrated(relais_service, name)
    else:
        set_up = request.config.stash[_SET_UP]
        started = time.perf_counter()
        dsn = await testing.create_database(name)
        set_up.count += 1
        set_up.seconds += time.perf_counter() - started
    yield dsn
    await testing.drop_database(name)


@pytest.fixture(scope="session")
async def session_vhosts() -> AsyncIterator[dict[str, str]]:
    """The session's vhosts, one per suite (``relais_service``), deleted at the end."""
    urls: dict[str, str] = {}
    yield urls
    for url in urls.values():
        await testing.delete_vhost(unquote(urlsplit(url).path.lstrip("/")))


@pytest.fixture
async def amqp_url(relais_service: str | None, session_vhosts: dict[str, str]) -> str:
    """A RabbitMQ vhost of this suite's own for the session (as each suite had before the
    plugin: a runtime test never sees the queues a parcours test left), deleted afterwards."""
    suite = relais_service or "relais"
    if suite not in session_vhosts:
        name = f"relais-test-{relais_service}" if relais_service else "relais-test"
        session_vhosts[suite] = await testing.create_vhost(testing.unique_name(name))
    return session_vhosts[suite]


@pytest.fixture
async def own_vhost() -> AsyncIterator[str]:
    """A RabbitMQ vhost of this test's own, deleted afterwards: for a test that counts what a
    queue holds, which the suite's shared vhost can't promise (other tests leave messages)."""
    vhost = testing.unique_name("relais-own")
    url = await testing.create_vhost(vhost)
    yield url
    await testing.delete_vhost(vhost)


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The JWT signing key (``jwt-signing.json``, ``jwks.json``), both test PREs' sealing keys."""
    from relais_runtime.auth import generate_signing_key
    from relais_runtime.sealing import generate_pre_key

    directory = tmp_path_factory.mktemp("keys")
    generate_signing_key(directory)
    for tenant in (TEST_PRE, OTHER_TEST_PRE):
        generate_pre_key(directory, tenant)
    return directory
