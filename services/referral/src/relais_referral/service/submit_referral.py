"""Use case: an institution submits a referral (over HTTP or the AMQP intake)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from relais_contracts.types import ReferralStatus
from relais_contracts.v1.referral import ReferralStatusChanged, ReferralSubmitted
from relais_referral.adapters.keys import ReferralKeys
from relais_referral.domain import referral as rules
from relais_referral.domain.content import ReferralRequest
from relais_referral.domain.identity import blind_index
from relais_referral.domain.timeline import StatusChange
from relais_referral.service.ports import NewReferral, ReferralWork, StoredReferral, Uows
from relais_referral.service.read_referrals import read_own
from relais_runtime import idempotency
from relais_runtime.auth import Principal
from relais_runtime.errors import DomainError
from relais_runtime.idempotency import IdempotencyScope
from relais_runtime.sealing import KeyNotFoundError, seal

PRE_UNKNOWN = DomainError(
    "pre_unknown", "Ce PRE n'est pas ouvert aux orientations sur Relais.", status=404
)
PRE_NOT_READY = DomainError(
    "pre_not_configured",
    "Ce PRE n'est pas encore prêt à recevoir des orientations : réessayez plus tard "
    "ou contactez la coordination du PRE.",
    status=503,
)
KEY_REUSED = DomainError(
    "idempotency_key_reused",
    "Cette clé d'idempotence (Idempotency-Key) a déjà servi pour une autre fiche : "
    "utilisez une nouvelle clé pour une nouvelle orientation.",
    status=409,
)

#: The idempotency route of a submission: HTTP keys and the intake's external refs share it.
SUBMIT_ROUTE = "referrals.submit"


@dataclass(frozen=True)
class Submission:
    referral_id: uuid.UUID
    #: True when an earlier request with the same Idempotency-Key already created it.
    replayed: bool = False
    #: The referral as this submission wrote it (its sender's view); None when replayed.
    written: StoredReferral | None = None


async def submit_referral(
    uows: Uows,
    keys: ReferralKeys,
    *,
    institution_id: str,
    request: ReferralRequest,
    idempotency_key: str | None = None,
    reader: Principal | None = None,
) -> tuple[Submission, StoredReferral]:
    """HTTP: submit, and the answer in the same unit of work, so that once it commits the
    answer stands even if the database goes away before it is written out.

    A new referral is answered with what was just written (no read back: two statements
    and a decryption less per referral); a replay reads the earlier one, a read of the
    stored fiche recorded in the access log for ``reader``.
    """
    async with uows() as uow:
        submission = await submit(
            uow,
            keys,
            institution_id=institution_id,
            request=request,
            idempotency_key=idempotency_key,
        )
        stored = submission.written or await read_own(
            uow,
            tenant=request.tenant,
            institution_id=institution_id,
            referral_id=submission.referral_id,
            reader=reader,
        )
    return submission, stored


async def submit(
    uow: ReferralWork,
    keys: ReferralKeys,
    *,
    institution_id: str,
    request: ReferralRequest,
    channel: Literal["http", "amqp"] = "http",
    idempotency_key: str | None = None,
    external_ref: str | None = None,
    now: datetime | None = None,
) -> Submission:
    """Store the referral (fiche encrypted), find the child's subject, emit the events,
    in ``uow``."""
    now = now or datetime.now(UTC)
    tenant = request.tenant
    rules.check_parents_agree(request.parents_agree)
    try:
        public_key = keys.pre_public_key(tenant)
    except KeyNotFoundError:
        raise PRE_UNKNOWN from None
    try:
        index_key = keys.index_key(tenant)
    except KeyNotFoundError:
        raise PRE_NOT_READY from None

    store = uow.referrals
    institution = await store.institution(tenant, institution_id)
    rules.check_sender(None if institution is None else institution["active"])
    assert institution is not None  # check_sender refused it otherwise

    referral_id = uuid.uuid4()
    if idempotency_key is not None:
        body = request.model_dump_json().encode()
        earlier = await store.claim_key(
            IdempotencyScope(tenant, institution_id, SUBMIT_ROUTE),
            idempotency_key,
            # Keyed by the PRE's index key: the fiche holds the child's identity.
            idempotency.fingerprint(body, index_key),
            referral_id,
            KEY_REUSED,
            # A retry from before an index-key rotation was fingerprinted with the old key.
            also_accepted=[
                idempotency.fingerprint(body, k) for k in keys.previous_index_keys(tenant)
            ],
        )
        if earlier is not None:
            return Submission(earlier, replayed=True)

    child = request.child
    names = (child.first_name, child.last_name, child.birth_date)
    subject_id, known = await store.subject_for(
        tenant,
        blind_index(index_key, *names),
        uuid.uuid4(),
        index_kid=keys.index_kid(tenant),
        previous=[blind_index(k, *names) for k in keys.previous_index_keys(tenant)],
    )
    content = request.model_dump(mode="json", exclude={"tenant"})
    facts = rules.facts_of(request, institution["category"], now.date())
    await store.add(
        NewReferral(
            referral_id=referral_id,
            tenant=tenant,
            institution_id=institution_id,
            subject_id=subject_id,
            known_subject=known,
            facts=facts.model_dump(mode="json"),
            content=content,
            channel=channel,
            external_ref=external_ref,
            submitted_at=now,
        )
    )
    submitted = await uow.emit(
        ReferralSubmitted(
            referral_id=referral_id,
            subject_id=subject_id,
            known_subject=known,
            institution_id=institution_id,
            submitted_at=now,
            parents_informed=request.parents_informed,
            parents_agree=True,
            facts=facts,
            sealed=seal(rules.sealed_part(content), public_key),
        ),
        subject=str(referral_id),
        tenant=tenant,
        sequence=1,
    )
    await uow.emit(
        ReferralStatusChanged(
            referral_id=referral_id,
            institution_id=institution_id,
            status=ReferralStatus.RECEIVED,
            changed_at=now,
        ),
        subject=str(referral_id),
        tenant=tenant,
        sequence=1,
        caused_by=submitted,
    )
    written = StoredReferral(
        id=referral_id,
        tenant=tenant,
        institution_id=institution_id,
        status=ReferralStatus.RECEIVED,
        submitted_at=now,
        updated_at=now,
        channel=channel,
        external_ref=external_ref,
        holds_fiche=True,
        content=content,
        timeline=[StatusChange(ReferralStatus.RECEIVED, now)],
    )
    return Submission(referral_id, written=written)
