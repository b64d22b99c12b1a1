"""Cross-service fixtures: the four services as real processes on an isolated broker/database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from relais_referral.adapters.keys import generate_intake_key, generate_pre_secrets
from relais_runtime import testing
from relais_runtime.devstack import ALL_SERVICES, SERVICES, Stack, StackConfig
from relais_runtime.testing import free_port
from relais_runtime.testing.helpers import staff_token

PRE = "pre-76540"
OTHER_PRE = "pre-14118"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``long`` (a RabbitMQ cluster, image builds) run in the longer lane only."""
    if os.environ.get("RELAIS_LONG_LANE") == "1":
        return
    skip = pytest.mark.skip(reason="longer lane: ./scripts/test-long")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@dataclass
class RunningStack:
    stack: Stack
    config: StackConfig
    keys_dir: Path
    amqp_url: str

    def url(self, service: str) -> str:
        return self.config.url(service)

    def token(self, role: str, org: str, tenant: str = PRE, sub: str | None = None) -> str:
        return staff_token(self.keys_dir, role, org, sub=sub, tenant=tenant)

    def auth(self, role: str, org: str, tenant: str = PRE) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, org, tenant)}"}

    def dsn(self, service: str) -> str:
        return f"{self.config.pg_base}/{self.config.databases[service]}"

    def broker_idle(self) -> bool:
        """True when no queue of this stack's vhost holds a message, ready or unacked."""
        return testing.vhost_queues_empty(self.amqp_url)

    def logs(self) -> str:
        return "".join(
            p.log_path.read_text(errors="replace") for p in self.stack.processes.values()
        )


@pytest.fixture(scope="session")
def keys_dir(keys_dir: Path) -> Path:
    """The plugin's keys (signing, both PREs' sealing keys) and the referral service's own
    secrets (at-rest and blind-index keys, AMQP intake key)."""
    for tenant in (PRE, OTHER_PRE):
        generate_pre_secrets(keys_dir / "referral", tenant)
    generate_intake_key(keys_dir / "referral")
    return keys_dir


@pytest.fixture
async def stack_factory(keys_dir: Path, tmp_path: Path) -> AsyncIterator[Iterator[RunningStack]]:
    """Start the services (the four APIs by default; add "web", "devidp" for the pages)
    on a fresh vhost and fresh databases (reached through ``pg_base`` when given: a proxy)."""
    created: list[tuple[RunningStack, str, list[str]]] = []

    async def start(
        services: list[str] | None = None,
        extra_env: dict[str, str] | None = None,
        pg_base: str | None = None,
    ) -> RunningStack:
        vhost = testing.unique_name("relais-e2e")
        amqp_url = await testing.create_vhost(vhost)
        run = testing.unique_name("e2e")
        databases = {s.name: f"relais_{run}_{s.name}" for s in SERVICES}
        config = StackConfig(
            amqp_url=amqp_url,
            databases=databases,
            keys_dir=keys_dir,
            log_dir=tmp_path / "log",
            **({"pg_base": pg_base} if pg_base else {}),
            ports={s.name: free_port() for s in ALL_SERVICES},
            extra_env={
                "RELAIS_LOG_LEVEL": "INFO",
                "REPORTING_SMALL_CELL_THRESHOLD": "1",
                **(extra_env or {}),
            },
        )
        stack = Stack(config, services)
        running = RunningStack(stack, config, keys_dir, amqp_url)
        created.append((running, vhost, list(databases.values())))
        stack.start()
        return running

    yield start  # type: ignore[misc]
    for running, vhost, databases in created:
        running.stack.stop()
        for name in databases:
            await testing.drop_database(name)
        await testing.delete_vhost(vhost)
