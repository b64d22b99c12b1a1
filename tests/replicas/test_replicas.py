"""Two processes of every service share the queues, the outboxes and the schedulers; one of
each is killed (SIGKILL) at a random moment of a burst of referrals: every referral reaches
every service once; with both parcours schedulers back, each overdue deadline is reported
once; with both notifications dispatchers back, the school's daily digest is made and sent
once (long lane: ./scripts/test-long)."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import httpx
import pytest

from relais_contracts.v1.parcours import DeadlineOverdue
from relais_notifications.service.digest import DIGEST_TYPE
from relais_notifications.testing import SmtpSink
from relais_runtime import testing
from relais_runtime.devstack import ALL_SERVICES, SERVICES, Stack, StackConfig
from relais_runtime.testing import free_port
from tests.cluster.test_broker_cluster import (
    Burst,
    Readers,
    assert_each_effect_once,
    post_referral,
    progress,
    wait_for,
)
from tests.conftest import RunningStack
from tests.e2e.test_backbone_flow import SCHOOL, register_school

pytestmark = [
    pytest.mark.long,
    pytest.mark.e2e,
    pytest.mark.integration,
    pytest.mark.timeout(2400),
]

BURST = 2_000
DIGEST_TO = "direction@ecole.example"


async def test_two_replicas_of_each_service_lose_one_each_and_do_nothing_twice(
    keys_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = int(time.time())
    rng = random.Random(seed)
    vhost = testing.unique_name("relais-replicas")
    amqp_url = await testing.create_vhost(vhost)
    run = testing.unique_name("replicas")
    databases = {s.name: f"relais_{run}_{s.name}" for s in SERVICES}
    smtp = SmtpSink()
    smtp.start()
    replicas: list[RunningStack] = []
    for n in (1, 2):
        config = StackConfig(
            amqp_url=amqp_url,
            databases=databases,
            keys_dir=keys_dir,
            log_dir=tmp_path / f"log{n}",
            ports={s.name: free_port() for s in ALL_SERVICES},
            extra_env={
                "RELAIS_LOG_LEVEL": "INFO",
                "REPORTING_SMALL_CELL_THRESHOLD": "1",
                "PARCOURS_SCHEDULER_INTERVAL_S": "1",
                "NOTIFICATIONS_SMTP_PORT": str(smtp.port),
                "NOTIFICATIONS_DISPATCH_INTERVAL_S": "1",
                **{f"{s.env_prefix}DB_POOL_MAX": "4" for s in SERVICES},
            },
        )
        replicas.append(RunningStack(Stack(config), config, keys_dir, amqp_url))
    # When each service loses one of its two processes: at a random point of the burst.
    kills = {
        s.name: (rng.randrange(2), rng.randrange(BURST // 5, BURST * 3 // 5)) for s in SERVICES
    }
    db = Readers(replicas[0])
    burst = Burst()
    killed: list[str] = []
    digest_note = ""
    try:
        await asyncio.gather(*(asyncio.to_thread(r.stack.start) for r in replicas))
        await db.open()
        progress(f"two replicas of each service up; seed {seed}, kills {kills}")
        async with httpx.AsyncClient(timeout=15) as http:
            await register_school(http, replicas[0])
            # The school takes its notices as one daily e-mail: each referral's two status
            # notices wait for the digest.
            subscribed = await http.post(
                f"{replicas[0].url('notifications')}/v1/subscriptions",
                json={"channel": "email", "email": DIGEST_TO, "digest": True},
                headers=replicas[0].auth("institution", SCHOOL),
            )
            assert subscribed.status_code == 201, subscribed.text
            numbers = iter(range(BURST))

            async def worker() -> None:
                for i in numbers:
                    burst.accepted.append(await post_referral(http, replicas, i, burst))
                    for service, (replica, at) in kills.items():
                        if len(burst.accepted) == at:
                            proc = replicas[replica].stack.processes[service]
                            await asyncio.to_thread(proc.kill)
                            killed.append(f"{service}#{replica + 1} at {at}")
                            progress(f"killed {service} replica {replica + 1} at {at}")

            began = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(8)))
            progress(f"{BURST} referrals accepted in {time.monotonic() - began:.0f} s")

            async def all_under_review() -> bool:
                rows = await db.fetch(
                    "referral", "SELECT count(*) FROM referrals WHERE status = 'under_review'"
                )
                return bool(rows[0][0] == BURST)

            await wait_for(all_under_review, 900, "not every referral came back under review")
            await wait_for(
                lambda: asyncio.to_thread(testing.vhost_queues_empty, amqp_url),
                600,
                "the queues did not drain",
            )
            await assert_each_effect_once(db, burst)

            # Both schedulers again, then every review deadline falls due at once.
            for service, (replica, _) in kills.items():
                await asyncio.to_thread(replicas[replica].stack.restart, service)
            due = await db.fetch(
                "parcours",
                "UPDATE deadlines SET due_on = due_on - 90 WHERE kind = 'review' "
                "AND fired_at IS NULL AND resolved_at IS NULL RETURNING situation_id",
            )
            assert len(due) == BURST

            async def all_fired() -> bool:
                rows = await db.fetch(
                    "reporting",
                    "SELECT count(*), count(DISTINCT subject) FROM event_log WHERE type = $1",
                    DeadlineOverdue.ce_type(),
                )
                return bool(rows[0][1] == BURST)

            await wait_for(all_fired, 600, "not every overdue review was reported")
            await asyncio.sleep(3)  # a second firing would arrive now
            [counts] = await db.fetch(
                "reporting",
                "SELECT count(*) AS events, count(DISTINCT subject) AS situations "
                "FROM event_log WHERE type = $1",
                DeadlineOverdue.ce_type(),
            )
            assert (counts["events"], counts["situations"]) == (BURST, BURST)
            [fired] = await db.fetch(
                "parcours",
                "SELECT count(*) FILTER (WHERE fired_at IS NOT NULL) AS fired, count(*) AS n "
                "FROM deadlines WHERE kind = 'review'",
            )
            assert fired["fired"] == fired["n"] == BURST

            # The digest time passes for the held notices (dated a day earlier): both
            # dispatchers try to make the digest and to send it.
            held = await db.fetch(
                "notifications",
                "UPDATE deliveries SET created_at = created_at - interval '1 day' "
                "WHERE status = 'digested' RETURNING id",
            )
            assert len(held) == 2 * BURST

            async def digest_sent() -> bool:
                rows = await db.fetch(
                    "notifications",
                    "SELECT 1 FROM deliveries WHERE event_type = $1 AND status = 'delivered'",
                    DIGEST_TYPE,
                )
                return bool(rows) and len(smtp.messages) >= 1

            await wait_for(digest_sent, 300, "the digest was not sent")
            await asyncio.sleep(5)  # a second digest, or a second sending, would arrive now
            assert [m["To"] for m in smtp.messages] == [DIGEST_TO]
            digests = await db.fetch(
                "notifications",
                "SELECT id, status FROM deliveries WHERE event_type = $1",
                DIGEST_TYPE,
            )
            assert [d["status"] for d in digests] == ["delivered"]
            # Each held notice is in that digest or still held for the next one (when both
            # dispatchers claimed part of them at once, the one whose digest lost keeps its
            # part for the next digest time): in one digest at most, none lost.
            [carried] = await db.fetch(
                "notifications",
                "SELECT count(*) FILTER (WHERE status = 'in_digest' AND digest_id = $1) AS sent, "
                "count(*) FILTER (WHERE status = 'digested' AND digest_id IS NULL) AS waiting, "
                "count(*) AS n FROM deliveries WHERE id = ANY($2::uuid[])",
                digests[0]["id"],
                [h["id"] for h in held],
            )
            assert carried["sent"] > 0
            assert carried["sent"] + carried["waiting"] == carried["n"] == 2 * BURST
            digest_note = f"{carried['sent']} in it, {carried['waiting']} held for the next"
    finally:
        await db.close()
        for replica in replicas:
            await asyncio.to_thread(replica.stack.stop)
        for name in databases.values():
            await testing.drop_database(name)
        await testing.delete_vhost(vhost)
        smtp.stop()
    with capsys.disabled():
        print(f"\nreplicas: seed {seed}; killed {', '.join(killed)}; {burst.retried} POSTs retried")
        print(
            f"replicas: {BURST} referrals once each, {BURST} overdue reviews reported once "
            f"each, one digest sent once ({digest_note})"
        )
