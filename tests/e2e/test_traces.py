"""One trace from a school's POST to the coordinator's notification, across three processes.

The services export over OTLP/HTTP (as configured in production, ``OTEL_EXPORTER_OTLP_ENDPOINT``)
to a receiver in this test that keeps the spans in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from relais_runtime.tracing import PERSONAL_ATTRIBUTES
from tests.e2e.otlp import OtlpReceiver, ReceivedSpan
from tests.e2e.test_backbone_flow import (
    IDENTIFYING,
    SCHOOL,
    eventually,
    referral_body,
    register_school,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    otlp = OtlpReceiver()
    otlp.start()
    yield otlp
    otlp.stop()


def chain_to_root(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    """``span`` and its ancestors, by parent ids, up to the root (each parent must be there)."""
    chain = [span]
    while chain[-1].parent_id:
        parent = by_id.get(chain[-1].parent_id)
        assert parent is not None, f"parent of {chain[-1].name} ({chain[-1].service}) not exported"
        chain.append(parent)
    return chain


async def test_a_referral_is_one_trace_from_the_schools_post_to_the_coordinators_notification(
    stack_factory: Any, receiver: OtlpReceiver
) -> None:
    stack = await stack_factory(
        extra_env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
    )
    institution = stack.auth("institution", SCHOOL)
    coordinator = stack.auth("coordinator", "pre-76540-coordination")
    async with httpx.AsyncClient(timeout=10) as http:
        await register_school(http, stack)
        created = await http.post(
            f"{stack.url('referral')}/v1/referrals", json=referral_body(), headers=institution
        )
        assert created.status_code == 201, created.text

        async def coordinator_notified() -> list[dict[str, Any]]:
            r = await http.get(f"{stack.url('notifications')}/v1/feed", headers=coordinator)
            return [i for i in r.json()["items"] if i["kind"].endswith("situation.opened.v1")]

        await eventually(coordinator_notified)

    def flow_spans(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        """The spans of every message this referral caused, in every service."""
        return [
            s
            for s in spans
            if s.name.endswith(" process")
            and s.attributes.get("cloudevents.event_type", "").rsplit(".", 3)[-3:-1]
            in (["referral", "submitted"], ["situation", "opened"], ["referral", "status_changed"])
        ]

    async def exported() -> tuple[ReceivedSpan, list[ReceivedSpan]] | None:
        """The notification's span once it and every span it descends from arrived (each
        process exports in its own batches, in its own time), and reporting's too."""
        spans = receiver.snapshot()
        by_id = {s.span_id: s for s in spans}
        notified = [
            s
            for s in spans
            if s.service == "relais-notifications"
            and s.name == "notifications.events process"
            and s.attributes.get("cloudevents.event_type", "").endswith("situation.opened.v1")
            and s.attributes.get("relais.outcome") == "ok"
        ]
        if len(notified) != 1:
            return None
        span = notified[0]
        while span.parent_id:
            if span.parent_id not in by_id:
                return None
            span = by_id[span.parent_id]
        if "relais-reporting" not in {s.service for s in flow_spans(spans)}:
            return None
        return notified[0], spans

    notified, spans = await eventually(exported)
    by_id = {s.span_id: s for s in spans}
    # The notification's span leads, parent by parent, to the school's POST.
    chain = chain_to_root(notified, by_id)
    root = chain[-1]
    assert (root.service, root.kind) == ("relais-referral", "server")
    assert root.name == "POST /v1/referrals"
    assert {s.trace_id for s in chain} == {root.trace_id}
    steps = [(s.service, s.name) for s in reversed(chain) if s.name.endswith(" process")]
    assert steps == [
        ("relais-parcours", "parcours.referrals process"),
        ("relais-notifications", "notifications.events process"),
    ]
    # Each hop went through an outbox relay and the broker (spans of the aio-pika library).
    relayed = [s for s in chain if s.name == "relais.events publish"]
    assert [s.service for s in relayed] == ["relais-parcours", "relais-referral"]
    assert any(s.kind == "consumer" and s.name.startswith("relais.events") for s in chain)

    # ONE trace: every message of this referral was handled in the POST's trace, in every
    # service that consumed one (reporting too).
    flow = flow_spans(spans)
    assert {s.trace_id for s in flow} == {root.trace_id}
    assert {s.service for s in flow} >= {
        "relais-parcours",
        "relais-notifications",
        "relais-reporting",
    }
    # SQL is recorded as the statement, its values never (they are $n parameters).
    in_trace = [s for s in spans if s.trace_id == root.trace_id]
    statements = [s.attributes["db.statement"] for s in in_trace if "db.statement" in s.attributes]
    assert any("INSERT INTO relais_outbox" in q and "$1" in q for q in statements)

    # Nothing personal in any span, attribute or resource exported by any service: not the
    # child's identity, nor who called (client address, user agent).
    for span in spans:
        assert not PERSONAL_ATTRIBUTES & span.attributes.keys(), (span.name, span.attributes)
    everything = b"".join(receiver.raw)
    for needle in IDENTIFYING:
        assert needle.encode() not in everything, f"{needle!r} found in the exported traces"
