"""The four services on a three-node RabbitMQ cluster lose the node leading the busiest
queues in the middle of a burst of referrals, then get it back: nothing lost, nothing done
twice, and the time to recover measured (long lane: ./scripts/test-long)."""

from __future__ import annotations

import asyncio
import string
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from relais_contracts.topology import DELAY_PREFIX
from relais_runtime import testing
from relais_runtime.devstack import ALL_SERVICES, SERVICES, Stack, StackConfig
from relais_runtime.testing import free_port
from tests.cluster.rabbit import RabbitCluster, RabbitNode, ctl
from tests.conftest import RunningStack
from tests.e2e.test_backbone_flow import SCHOOL, referral_body, register_school

pytestmark = [
    pytest.mark.long,
    pytest.mark.cluster,
    pytest.mark.e2e,
    pytest.mark.integration,
    pytest.mark.timeout(2400),
]

BURST = 2_000
STOP_AFTER = 600  # referrals accepted before the node goes
DOWN_FOR_S = 20.0
CONCURRENCY = 8


def child_body(i: int) -> dict[str, Any]:
    """A distinct child per referral (a name of letters and a birth date of its own)."""
    body = referral_body()
    letters = string.ascii_lowercase
    suffix = letters[i // 676 % 26] + letters[i // 26 % 26] + letters[i % 26]
    body["child"]["first_name"] = f"Lina{suffix}"
    body["child"]["birth_date"] = str(date(2015, 1, 1) + timedelta(days=i % 1500))
    return body


def progress(text: str) -> None:
    """Where a long run is (seen with -s, and in the failure report)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


@dataclass
class Burst:
    accepted: list[str] = field(default_factory=list)  # referral ids, in acceptance order
    retried: int = 0
    after_stop: list[str] = field(default_factory=list)
    node_gone: asyncio.Event = field(default_factory=asyncio.Event)
    node_stopped: asyncio.Event = field(default_factory=asyncio.Event)
    stopped_at: float = 0.0


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[RabbitCluster, float]]:
    nodes = RabbitCluster(3)
    try:
        booted_in = await asyncio.to_thread(nodes.start)
        yield nodes, booted_in
    finally:
        await asyncio.to_thread(nodes.stop)


async def post_referral(
    http: httpx.AsyncClient, stacks: list[RunningStack], i: int, burst: Burst
) -> str:
    """POST one referral; on a failure, again (to the next replica, if several) with the
    same Idempotency-Key, as the contract asks."""
    key = f"burst-{i}"
    for attempt in range(60):
        stack = stacks[(i + attempt) % len(stacks)]
        headers = {**stack.auth("institution", SCHOOL), "Idempotency-Key": key}
        try:
            r = await http.post(
                f"{stack.url('referral')}/v1/referrals", json=child_body(i), headers=headers
            )
            if r.status_code in (200, 201):
                return str(r.json()["id"])
        except httpx.HTTPError:
            pass
        burst.retried += 1
        await asyncio.sleep(min(0.2 * (attempt + 1), 2.0))
    raise AssertionError(f"referral {i} refused for good")


async def drive_burst(
    http: httpx.AsyncClient, stack: RunningStack, burst: Burst, stop_node: Any
) -> None:
    numbers = iter(range(BURST))
    stopping: list[asyncio.Task[None]] = []

    async def worker() -> None:
        for i in numbers:
            referral_id = await post_referral(http, [stack], i, burst)
            burst.accepted.append(referral_id)
            if burst.node_gone.is_set():
                burst.after_stop.append(referral_id)
            if len(burst.accepted) % 250 == 0:
                progress(f"{len(burst.accepted)} referrals accepted")
            if len(burst.accepted) == STOP_AFTER:
                stopping.append(asyncio.create_task(stop_node()))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    await asyncio.gather(*stopping)


def busiest_leader(cluster: RabbitCluster, vhost: str) -> tuple[RabbitNode, list[str]]:
    """The node leading the queues that hold the most messages right now."""
    load: dict[str, int] = {}
    led: dict[str, list[str]] = {}
    for q in cluster.queues(cluster.nodes[0], vhost):
        if q["type"] != "quorum":
            continue
        load[q["leader"]] = load.get(q["leader"], 0) + int(q["messages"] or 0) + 1
        led.setdefault(q["leader"], []).append(q["name"])
    leader = max(load, key=lambda n: load[n])
    return cluster.node(leader), sorted(led[leader])


async def all_ready(http: httpx.AsyncClient, stack: RunningStack) -> bool:
    for spec in SERVICES:
        try:
            if (await http.get(f"{stack.url(spec.name)}/ready")).status_code != 200:
                return False
        except httpx.HTTPError:
            return False
    return True


async def wait_for(check: Any, timeout: float, what: str) -> float:
    """Seconds until ``check()`` holds; fails after ``timeout``."""
    began = time.monotonic()
    while not await check():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"{what}: not after {timeout:.0f} s")
        await asyncio.sleep(0.25)
    return time.monotonic() - began


class Readers:
    """One connection per service database, kept for the whole test: the machine's
    PostgreSQL is shared (max_connections), so no connection per poll."""

    def __init__(self, stack: RunningStack) -> None:
        self.stack = stack
        self.connections: dict[str, asyncpg.Connection] = {}

    async def open(self) -> None:
        """Connect to every service's database, waiting out a full server for a while."""
        for spec in SERVICES:
            for attempt in range(60):
                try:
                    conn = await asyncpg.connect(self.stack.dsn(spec.name))
                except asyncpg.TooManyConnectionsError:
                    await asyncio.sleep(min(1 + attempt, 5))
                    continue
                self.connections[spec.name] = conn
                break
            else:
                raise AssertionError("PostgreSQL refused a connection for minutes")

    async def fetch(self, service: str, query: str, *args: Any) -> list[asyncpg.Record]:
        return list(await self.connections[service].fetch(query, *args))

    async def close(self) -> None:
        for conn in self.connections.values():
            await conn.close()


async def test_a_burst_loses_nothing_and_does_nothing_twice_when_the_busiest_node_goes(
    cluster: tuple[RabbitCluster, float],
    keys_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    nodes, booted_in = cluster
    assert len(nodes.running_nodes()) == 3
    vhost = testing.unique_name("relais-cluster")
    first = nodes.nodes[0].name
    ctl(first, "add_vhost", vhost)
    ctl(first, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    amqp_url = nodes.amqp_url(vhost)
    run = testing.unique_name("cluster")
    config = StackConfig(
        amqp_url=amqp_url,
        databases={s.name: f"relais_{run}_{s.name}" for s in SERVICES},
        keys_dir=keys_dir,
        log_dir=tmp_path / "log",
        ports={s.name: free_port() for s in ALL_SERVICES},
        extra_env={
            "RELAIS_LOG_LEVEL": "INFO",
            "REPORTING_SMALL_CELL_THRESHOLD": "1",
            # PostgreSQL is shared with other tests: 4 x (5 + listener) connections at most.
            **{f"{s.env_prefix}DB_POOL_MAX": "5" for s in SERVICES},
        },
    )
    stack = RunningStack(Stack(config), config, keys_dir, amqp_url)
    burst = Burst()
    db = Readers(stack)
    driving: asyncio.Task[None] | None = None
    timings: dict[str, float] = {"cluster boot and join": booted_in}
    try:
        progress(f"cluster up in {booted_in:.0f} s; starting the services")
        await asyncio.to_thread(stack.stack.start)
        await db.open()
        # Every queue (work, parking and delay queues) is a quorum queue with a replica on
        # each of the three nodes: no classic queue left on a single node.
        declared = nodes.queues(nodes.nodes[0], vhost)
        assert [q["name"] for q in declared if q["type"] != "quorum"] == []
        assert any(q["name"].startswith(DELAY_PREFIX) for q in declared)
        for q in declared:
            assert sorted(q["members"]) == sorted(n.name for n in nodes.nodes), q["name"]

        async with httpx.AsyncClient(timeout=15) as http:
            await register_school(http, stack)
            victim: list[tuple[RabbitNode, list[str]]] = []

            async def stop_node() -> None:
                node, led = await asyncio.to_thread(busiest_leader, nodes, vhost)
                victim.append((node, led))
                progress(f"stopping {node.name}, leader of {', '.join(led)}")
                burst.stopped_at = time.monotonic()
                burst.node_gone.set()
                await asyncio.to_thread(node.stop)
                timings["node stop"] = time.monotonic() - burst.stopped_at
                burst.node_stopped.set()

            began = time.monotonic()
            driving = asyncio.create_task(drive_burst(http, stack, burst, stop_node))
            await burst.node_stopped.wait()

            # Recovery: every service ready again, and a referral accepted after the loss
            # goes all the way (parcours opened its situation, the sender sees it).
            async def ready_again() -> bool:
                return await all_ready(http, stack)

            async def flowing() -> bool:
                rows = await db.fetch(
                    "referral",
                    "SELECT count(*) AS n FROM referrals "
                    "WHERE status = 'under_review' AND id = ANY($1::uuid[])",
                    burst.after_stop,
                )
                return bool(rows[0]["n"])

            # Measured from the moment the node was told to stop.
            await wait_for(ready_again, 300, "the services did not become ready again")
            timings["services ready again after the loss"] = time.monotonic() - burst.stopped_at
            progress("services ready again")
            await wait_for(flowing, 600, "no referral sent after the loss came back")
            timings["first referral sent after the loss back under review"] = (
                time.monotonic() - burst.stopped_at
            )
            down_left = DOWN_FOR_S - (time.monotonic() - burst.stopped_at)
            await asyncio.sleep(max(down_left, 0))
            node, led = victim[0]
            progress(f"restarting {node.name}")
            back = time.monotonic()
            await asyncio.to_thread(node.start)
            timings["node back (boot)"] = time.monotonic() - back
            await driving
            timings["burst accepted (2,000 POSTs)"] = time.monotonic() - began

            async def all_under_review() -> bool:
                rows = await db.fetch(
                    "referral",
                    "SELECT count(*) AS n FROM referrals WHERE status = 'under_review'",
                )
                return rows[0]["n"] == BURST

            progress("burst accepted; waiting for every referral to come back under review")
            await wait_for(all_under_review, 900, "not every referral came back under review")
            timings["burst done end to end"] = time.monotonic() - began

            async def drained() -> bool:
                queues = await asyncio.to_thread(nodes.queues, nodes.nodes[0], vhost)
                for spec in SERVICES:
                    left = await db.fetch(spec.name, "SELECT count(*) FROM relais_outbox")
                    if left[0][0]:
                        return False
                return all(not q["messages"] for q in queues)

            await wait_for(drained, 600, "queues and outboxes did not drain")
            timings["drained"] = time.monotonic() - began
            assert len(nodes.running_nodes()) == 3

        await assert_each_effect_once(db, burst)
    finally:
        if driving is not None and not driving.done():
            driving.cancel()
        await db.close()
        await asyncio.to_thread(stack.stack.stop)
        for name in config.databases.values():
            await testing.drop_database(name)
    with capsys.disabled():
        node, led = victim[0]
        print(f"\ncluster: stopped {node.name}, leader of {len(led)} queues ({', '.join(led)})")
        print(
            f"cluster: {len(burst.after_stop)} referrals accepted after the node was stopped, "
            f"{burst.retried} POSTs retried"
        )
        for what, seconds in timings.items():
            print(f"cluster: {what}: {seconds:.1f} s")


async def assert_each_effect_once(db: Readers, burst: Burst) -> None:
    assert len(set(burst.accepted)) == BURST
    [counts] = await db.fetch(
        "referral",
        "SELECT count(*) AS referrals, count(*) FILTER (WHERE status = 'under_review') AS ok "
        "FROM referrals",
    )
    assert (counts["referrals"], counts["ok"]) == (BURST, BURST)
    # The sender's timeline: received then under_review, once each.
    timeline = await db.fetch(
        "referral",
        "SELECT string_agg(status, ',' ORDER BY position) AS steps, count(*) AS n "
        "FROM referral_timeline GROUP BY referral_id",
    )
    assert len(timeline) == BURST
    assert {row["steps"] for row in timeline} == {"received,under_review"}

    [opened] = await db.fetch(
        "parcours",
        "SELECT (SELECT count(*) FROM situations) AS situations, "
        "(SELECT count(*) FROM situation_referrals) AS referrals",
    )
    assert (opened["situations"], opened["referrals"]) == (BURST, BURST)

    # Notifications: each notice reached its recipient once per event: the school hears
    # of two status changes per referral (received, under review), the coordinators of
    # one situation opened.
    feed = await db.fetch(
        "notifications",
        "SELECT kind, recipient, count(*) AS n, count(DISTINCT event_id) AS events "
        "FROM feed_items GROUP BY kind, recipient",
    )
    per_referral = {"fr.relais.referral.status_changed.v1": 2}
    assert feed
    for row in feed:
        expected = BURST * per_referral.get(row["kind"], 1)
        assert (row["n"], row["events"]) == (expected, expected), dict(row)

    # Reporting: one referral fact and one situation fact per referral.
    facts = await db.fetch("reporting", "SELECT kind, count(*) AS n FROM fact GROUP BY kind")
    by_kind = {row["kind"]: row["n"] for row in facts}
    assert by_kind.get("referral") == BURST
    assert by_kind.get("situation") == BURST
