"""What the services' tests do the same way: a staff caller's token, an event on the bus,
a submitted referral.

Tokens are signed with the test keys (the plugin's ``keys_dir`` fixture, or a stack's);
events go to ``relais.events`` as a service's outbox relay would send them (persistent,
confirmed, mandatory), so a consumer under test sees what it sees in production.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import aio_pika
from fastapi import Query

from relais_contracts.envelope import CloudEvent
from relais_contracts.topology import CLOUDEVENTS_CONTENT_TYPE, EVENTS_EXCHANGE
from relais_contracts.v1.referral import ReferralFacts, ReferralSubmitted
from relais_runtime.auth import mint_token

__all__ = ["bearer", "publish_event", "referral_submitted", "staff_token"]

#: The PRE the tests work in (the plugin's ``keys_dir`` holds its keys and another's).
TEST_PRE = "pre-76540"


def staff_token(
    keys_dir: Path, role: str, org: str, *, sub: str | None = None, tenant: str = TEST_PRE
) -> str:
    """A staff member's access token (an hour long) with one role in ``org`` of ``tenant``."""
    return mint_token(
        keys_dir / "jwt-signing.json",
        sub=sub or f"{role}-{org}",
        org=org,
        tenant=tenant,
        roles=[role],
        ttl=timedelta(hours=1),
    )


def bearer(
    keys_dir: Path,
    role: str,
    org: str,
    *,
    sub: str | None = None,
    tenant: Annotated[str, Query(alias="pre")] = TEST_PRE,
) -> dict[str, str]:
    """The ``Authorization`` header of :func:`staff_token`."""
    return {"Authorization": f"Bearer {staff_token(keys_dir, role, org, sub=sub, tenant=tenant)}"}


async def publish_event(
    amqp: str | aio_pika.abc.AbstractConnection, event: CloudEvent[Any]
) -> None:
    """Publish ``event`` on ``relais.events`` through a URL (own connection) or an open one."""
    if isinstance(amqp, str):
        async with await aio_pika.connect(amqp) as connection:
            await publish_event(connection, event)
        return
    async with amqp.channel(publisher_confirms=True) as channel:
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        await exchange.publish(
            aio_pika.Message(
                event.model_dump_json().encode(),
                message_id=str(event.id),
                content_type=CLOUDEVENTS_CONTENT_TYPE,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=event.routing_key(),
            mandatory=True,
        )


def referral_submitted(
    sealed: str,
    *,
    subject_id: uuid.UUID | None = None,
    institution: str = "ecole-jules-ferry",
    axes: Sequence[str] = ("schooling", "health"),
) -> ReferralSubmitted:
    """A school's referral of a 9-year-old in CE2 (a new child unless ``subject_id``), its
    identity ``sealed`` for the PRE (``relais_runtime.sealing.seal``)."""
    return ReferralSubmitted(
        referral_id=uuid.uuid4(),
        subject_id=subject_id or uuid.uuid4(),
        known_subject=subject_id is not None,
        institution_id=institution,
        submitted_at=datetime.now(UTC),
        parents_informed=True,
        parents_agree=True,
        facts=ReferralFacts(
            age_years=9,
            school_level="ce2",
            lives_in_qpv="yes",
            source_category="school",
            reason_categories=["learning_difficulties"],
            axes=list(axes),
        ),
        sealed=sealed,
    )
