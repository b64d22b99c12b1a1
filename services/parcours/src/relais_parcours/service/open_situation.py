"""Use case: a referral arrives; open a situation, or join the child's open one.

The identity sealed to the PRE is opened here and stored encrypted with the subject's
own key; the JWE itself is not kept (see ``adapters/vault.py``). A referral of a child
erased while it was on its way is never opened (see ``drop_after_erasure``).
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime

from joserfc.errors import JoseError

from relais_contracts.types import ErasureReason
from relais_contracts.v1.parcours import SituationOpened, SituationReferralAttached, SubjectErased
from relais_contracts.v1.referral import ReferralSubmitted
from relais_parcours.adapters.vault import IdentityUnreadableError
from relais_parcours.context import Parcours
from relais_parcours.domain import family
from relais_parcours.domain.situation import (
    OnReferral,
    on_new_referral,
    review_due_on,
    wire_stage,
)
from relais_parcours.service import child_texts
from relais_parcours.service.ports import ParcoursWork, ReceivedReferral, Row, Stores, Uows
from relais_runtime.consumer import PermanentError
from relais_runtime.logging import get_logger
from relais_runtime.sealing import KeyNotFoundError, unseal

log = get_logger(__name__)


def open_identity(
    ctx: Parcours, tenant: str, subject_id: uuid.UUID, sealed: str, wrapped: bytes
) -> tuple[bytes, bool]:
    """Open the JWE with the PRE's keys; encrypt it with the subject's data key
    (``wrapped``). Also says whether a guardian needs an interpreter (shown to the team
    without identity)."""
    keys = ctx.pre_keys.private_keys(tenant)  # KeyNotFoundError: retried, then parked
    try:
        identity = unseal(sealed, keys)
    except (JoseError, ValueError) as exc:
        raise PermanentError("sealed_identity_unreadable", type(exc).__name__) from None
    return ctx.vault.encrypt(wrapped, subject_id, identity), family.interpreter_needed(identity)


async def store_identity(
    uow: Stores, ctx: Parcours, tenant: str, subject_id: uuid.UUID, sealed: str
) -> tuple[bytes, bool]:
    """``open_identity`` under the child's key, created on first use."""
    wrapped = await child_texts.child_key_in(uow, ctx, tenant, subject_id)
    return open_identity(ctx, tenant, subject_id, sealed, wrapped)


async def receive_referral(
    uows: Uows, ctx: Parcours, tenant: str, referral: ReferralSubmitted
) -> uuid.UUID:
    """Open a situation, join the child's open one, or reopen one withdrawn before review.

    A child whose last file is finished (declined, redirected, closed) gets a new situation
    linked to it: a new review, with its deadline, as for a first referral (ADR 0006).
    Run for the consumed message (``ctx.units.within(tx)``), ``tenant`` its PRE.

    Two statements besides the event (ADR 0027): one read (the child's latest situation,
    locked, and its key), one write of everything the referral changes.
    """
    settings = ctx.settings
    now = datetime.now(UTC)
    subject_id = referral.subject_id
    async with uows() as uow:
        latest, wrapped = await uow.situations.latest_with_key(tenant, subject_id)
        step = on_new_referral(latest["stage"] if latest is not None else None)
        if step is OnReferral.DROP:
            assert latest is not None
            return await drop_after_erasure(uow, tenant, latest, referral, now)
        due = review_due_on(now, settings.review_within_days, settings.timezone)
        opens = step is OnReferral.OPEN
        if opens:
            situation_id = uuid.uuid4()
        else:
            assert latest is not None
            situation_id = latest["id"]
        new_key = None
        if wrapped is None:  # the child's first referral here: its key, written below
            wrapped = new_key = ctx.vault.new_data_key(subject_id)
        identity_enc, interpreter = open_identity(ctx, tenant, subject_id, referral.sealed, wrapped)
        version = await uow.situations.receive(
            ReceivedReferral(
                tenant=tenant,
                situation_id=situation_id,
                subject_id=subject_id,
                referral_id=referral.referral_id,
                institution_id=referral.institution_id,
                facts=referral.facts.model_dump(mode="json"),
                identity_enc=identity_enc,
                interpreter_needed=interpreter,
                received_at=now,
                opens=opens,
                # Every earlier referral was withdrawn before the review: this one must not
                # vanish into that closed file. Back to the inbox, with a review deadline.
                reopens=step is OnReferral.REOPEN,
                review_due_on=due,
                previous_situation_id=latest["id"] if opens and latest is not None else None,
                new_key=new_key,
                master_kid=ctx.vault.master_kid,
            )
        )
        if opens:
            await uow.emit(
                SituationOpened(
                    situation_id=situation_id,
                    subject_id=subject_id,
                    referral_ids=[referral.referral_id],
                    opened_at=now,
                    review_due_on=due,
                ),
                subject=str(situation_id),
                sequence=version,
                tenant=tenant,
            )
            return situation_id
        assert latest is not None
        await uow.emit(
            SituationReferralAttached(
                situation_id=situation_id,
                subject_id=subject_id,
                referral_id=referral.referral_id,
                stage=wire_stage(latest["stage"]),
                attached_at=now,
            ),
            subject=str(situation_id),
            sequence=version,
            tenant=tenant,
        )
    return situation_id


async def drop_after_erasure(
    uow: ParcoursWork, tenant: str, situation: Row, referral: ReferralSubmitted, now: datetime
) -> uuid.UUID:
    """The child was erased while this referral was on its way (same ``subject_id``).

    It ends as if it had arrived a moment before the erasure (ADR 0006): its identity is
    never opened nor stored (no new key, nothing to resurrect), its facts join the erased
    situation like those of the earlier referrals, the situation stays ``erased``, and a
    ``subject.erased`` naming it tells every service to erase what it holds of it; the
    referral service tells the sender the referral was not kept.
    """
    situation_id: uuid.UUID = situation["id"]
    await uow.situations.attach_referral(
        referral_id=referral.referral_id,
        situation_id=situation_id,
        tenant=tenant,
        institution_id=referral.institution_id,
        facts=referral.facts.model_dump(mode="json"),
        identity_enc=None,
        received_at=now,
    )
    version = await uow.situations.bump_version(tenant, situation_id)
    reason = situation["erasure_reason"] or ErasureReason.OTHER.value
    await uow.emit(
        SubjectErased(
            subject_id=referral.subject_id,
            situation_ids=[situation_id],
            referral_ids=[referral.referral_id],
            reason=ErasureReason(reason),
            erased_at=situation["erased_at"] or now,
        ),
        subject=str(referral.subject_id),
        sequence=version,
        tenant=tenant,
    )
    log.info("referral_after_erasure_dropped", referral_id=str(referral.referral_id))
    return situation_id


async def backfill_identities(uows: Uows, ctx: Parcours) -> int:
    """Re-encrypt identities stored as JWE by earlier versions (then drop the JWE).

    Rows are claimed SKIP LOCKED, so every replica may run it at start-up. ``uows``: a
    sweep across PREs (``ctx.units.sweep()``).
    """
    done = 0
    async with uows() as uow:
        for row in await uow.situations.claim_sealed_referrals(100):
            try:
                identity_enc, interpreter = await store_identity(
                    uow, ctx, row["pre_id"], row["subject_id"], row["sealed"]
                )
            except (KeyNotFoundError, PermanentError) as exc:
                log.warning("identity_backfill_skipped", error=type(exc).__name__)
                continue
            await uow.situations.set_identity(
                row["pre_id"], row["referral_id"], identity_enc, interpreter
            )
            done += 1
    return done


async def backfill_interpreter_flags(uows: Uows, ctx: Parcours) -> int:
    """Read « interprète à prévoir » from identities stored before it was kept beside them
    (migration 0019); SKIP LOCKED, so every replica may run it at start-up. ``uows``: a
    sweep across PREs (ADR 0018)."""
    done = 0
    async with uows() as uow:
        for row in await uow.situations.claim_unflagged_referrals(100):
            identity = None
            if row["wrapped_key"] is not None:  # else erased: the key is gone
                with contextlib.suppress(IdentityUnreadableError):
                    identity = ctx.vault.decrypt(
                        row["wrapped_key"], row["subject_id"], row["identity_enc"]
                    )
            await uow.situations.set_interpreter_needed(
                row["pre_id"], row["referral_id"], family.interpreter_needed(identity)
            )
            done += 1
    return done
