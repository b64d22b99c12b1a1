"""Use case: tell an institution that its ``referral.submit`` command was refused.

Runs just before the command is parked (``EventConsumer.on_parked``), in its own
transaction: the ``referral.submit_rejected`` event it writes reaches the sender through
notifications, on its delivery channels. Codes and field names only, never values.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import structlog

from relais_contracts.v1.referral import (
    FIELD_CODE_PATTERN,
    ReferralSubmitRejected,
    SubmitReferral,
)
from relais_referral.adapters import repository
from relais_runtime.consumer import ParkingNotice
from relais_runtime.db import Conn
from relais_runtime.runtime import ServiceRuntime

log = structlog.get_logger("relais.referral.intake")

_REF = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_FIELD_CODE = re.compile(FIELD_CODE_PATTERN)


def sender_of(routing_key: str) -> str | None:
    """The institution a command came from: the last word of its routing key.

    The broker's topic permissions let an institution's user write only its own key, so
    this (unlike anything inside the message) can't be forged by another sender.
    """
    prefix = SubmitReferral.routing_prefix() + "."
    if not routing_key.startswith(prefix):
        return None
    sender = routing_key[len(prefix) :]
    return sender or None


def external_ref_of(parked: ParkingNotice) -> str | None:
    data = parked.envelope.data if parked.envelope else None
    ref = data.get("external_ref") if isinstance(data, dict) else None
    return ref if isinstance(ref, str) and _REF.fullmatch(ref) else None


async def tell_sender_refused(runtime: ServiceRuntime, conn: Conn, parked: ParkingNotice) -> None:
    institution_id = sender_of(parked.routing_key)
    tenant = await repository.institution_tenant(conn, institution_id) if institution_id else None
    if institution_id is None or tenant is None:
        # Nobody registered to tell; the operator sees it in the parking queue.
        log.warning("refused_command_sender_unknown", reason=parked.reason)
        return
    envelope = parked.envelope
    await runtime.emit(
        conn,
        ReferralSubmitRejected(
            command_id=parked.message_id,
            institution_id=institution_id,
            external_ref=external_ref_of(parked),
            code=parked.reason,
            # Anything not shaped ``path:code`` is left out rather than risk a value.
            fields=[f for f in parked.fields if _FIELD_CODE.fullmatch(f)][:50],
            rejected_at=datetime.now(UTC),
        ),
        subject=parked.message_id,
        tenant=tenant,
        sequence=1,
        correlationid=envelope.correlationid if envelope else parked.message_id,
        causationid=str(envelope.id) if envelope else parked.message_id,
    )
    log.info("refused_command_sender_told", reason=parked.reason)
