"""Use case: a referral arrives; open a situation, or join the child's existing one.

The identity sealed to the PRE is opened here and stored encrypted with the subject's
own key; the JWE itself is not kept (see ``adapters/vault.py``). A referral of a child
erased while it was on its way is never opened (see ``drop_after_erasure``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
from joserfc.errors import JoseError

from relais_contracts.types import DeadlineKind, ErasureReason, SituationStage
from relais_contracts.v1.parcours import SituationOpened, SituationReferralAttached, SubjectErased
from relais_contracts.v1.referral import ReferralSubmitted
from relais_parcours.adapters import repository
from relais_parcours.context import Parcours
from relais_parcours.domain.situation import review_due_on
from relais_runtime.consumer import PermanentError, Tx
from relais_runtime.db import Conn
from relais_runtime.logging import get_logger
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.sealing import KeyNotFoundError, unseal

log = get_logger(__name__)


async def store_identity(
    conn: Conn, ctx: Parcours, pre_id: str, subject_id: uuid.UUID, sealed: str
) -> bytes:
    """Open the JWE with the PRE's keys; encrypt it with the subject's data key."""
    keys = ctx.pre_keys.private_keys(pre_id)  # KeyNotFoundError: retried, then parked
    try:
        identity = unseal(sealed, keys)
    except (JoseError, ValueError) as exc:
        raise PermanentError("sealed_identity_unreadable", type(exc).__name__) from None
    wrapped = await repository.subject_key(conn, pre_id, subject_id)
    if wrapped is None:
        wrapped = ctx.vault.new_data_key(subject_id)
        await repository.insert_subject_key(conn, pre_id, subject_id, wrapped, ctx.vault.master_kid)
    return ctx.vault.encrypt(wrapped, subject_id, identity)


async def receive_referral(tx: Tx, ctx: Parcours, referral: ReferralSubmitted) -> uuid.UUID:
    settings = ctx.settings
    pre_id = tx.incoming.tenant
    now = datetime.now(UTC)
    existing = await repository.find_situation_for_subject(tx.conn, pre_id, referral.subject_id)
    if existing is not None and existing["stage"] == "erased":
        return await drop_after_erasure(tx, existing, referral, now)
    if existing is None:
        situation_id = uuid.uuid4()
        due = review_due_on(now, settings.review_within_days, settings.timezone)
        await repository.insert_situation(
            tx.conn,
            situation_id=situation_id,
            pre_id=pre_id,
            subject_id=referral.subject_id,
            opened_at=now,
            review_due_on=due,
        )
        await repository.add_deadline(
            tx.conn, pre_id, situation_id, DeadlineKind.REVIEW.value, due, handover_id=None
        )
    else:
        situation_id = existing["id"]
        if existing["stage"] == "withdrawn":
            # Every earlier referral was withdrawn before the review: this one must not
            # vanish into that closed file. Back to the inbox, with a review deadline.
            due = review_due_on(now, settings.review_within_days, settings.timezone)
            await repository.reopen_for_review(tx.conn, situation_id, due)
            await repository.add_deadline(
                tx.conn, pre_id, situation_id, DeadlineKind.REVIEW.value, due, handover_id=None
            )
    identity_enc = await store_identity(tx.conn, ctx, pre_id, referral.subject_id, referral.sealed)
    await repository.attach_referral(
        tx.conn,
        referral_id=referral.referral_id,
        situation_id=situation_id,
        pre_id=pre_id,
        institution_id=referral.institution_id,
        facts=referral.facts.model_dump(mode="json"),
        identity_enc=identity_enc,
        received_at=now,
    )
    if existing is None:
        await tx.emit(
            SituationOpened(
                situation_id=situation_id,
                subject_id=referral.subject_id,
                referral_ids=[referral.referral_id],
                opened_at=now,
                review_due_on=due,
            ),
            subject=str(situation_id),
            sequence=1,
        )
    else:
        version = await repository.bump_version(tx.conn, situation_id)
        # The wire knows two stages; anything past the review counts as in parcours.
        stage = (
            SituationStage.AWAITING_REVIEW
            if existing["stage"] in ("awaiting_review", "withdrawn")
            else SituationStage.IN_PARCOURS
        )
        await tx.emit(
            SituationReferralAttached(
                situation_id=situation_id,
                subject_id=referral.subject_id,
                referral_id=referral.referral_id,
                stage=stage,
                attached_at=now,
            ),
            subject=str(situation_id),
            sequence=version,
        )
    return situation_id


async def drop_after_erasure(
    tx: Tx, situation: asyncpg.Record, referral: ReferralSubmitted, now: datetime
) -> uuid.UUID:
    """The child was erased while this referral was on its way (same ``subject_id``).

    It ends as if it had arrived a moment before the erasure (ADR 0006): its identity is
    never opened nor stored (no new key, nothing to resurrect), its facts join the erased
    situation like those of the earlier referrals, the situation stays ``erased``, and a
    ``subject.erased`` naming it tells every service to erase what it holds of it; the
    referral service tells the sender the referral was not kept.
    """
    situation_id: uuid.UUID = situation["id"]
    await repository.attach_referral(
        tx.conn,
        referral_id=referral.referral_id,
        situation_id=situation_id,
        pre_id=tx.incoming.tenant,
        institution_id=referral.institution_id,
        facts=referral.facts.model_dump(mode="json"),
        identity_enc=None,
        received_at=now,
    )
    version = await repository.bump_version(tx.conn, situation_id)
    reason = situation["erasure_reason"] or ErasureReason.OTHER.value
    await tx.emit(
        SubjectErased(
            subject_id=referral.subject_id,
            situation_ids=[situation_id],
            referral_ids=[referral.referral_id],
            reason=ErasureReason(reason),
            erased_at=situation["erased_at"] or now,
        ),
        subject=str(referral.subject_id),
        sequence=version,
    )
    log.info("referral_after_erasure_dropped", referral_id=str(referral.referral_id))
    return situation_id


async def backfill_identities(runtime: ServiceRuntime, ctx: Parcours) -> int:
    """Re-encrypt identities stored as JWE by earlier versions (then drop the JWE).

    Rows are claimed SKIP LOCKED, so every replica may run it at start-up.
    """
    done = 0
    async with runtime.pool.acquire() as conn, conn.transaction():
        for row in await repository.claim_sealed_referrals(conn, 100):
            try:
                identity_enc = await store_identity(
                    conn, ctx, row["pre_id"], row["subject_id"], row["sealed"]
                )
            except (KeyNotFoundError, PermanentError) as exc:
                log.warning("identity_backfill_skipped", error=type(exc).__name__)
                continue
            await repository.set_identity(conn, row["referral_id"], identity_enc)
            done += 1
    return done
