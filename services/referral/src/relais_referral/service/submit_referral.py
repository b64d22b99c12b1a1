"""Use case: an institution submits a referral (over HTTP or the AMQP intake)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from relais_contracts.types import ReferralStatus, SourceCategory
from relais_contracts.v1.referral import ReferralFacts, ReferralStatusChanged, ReferralSubmitted
from relais_referral.adapters import fiches, repository
from relais_referral.adapters.keys import ReferralKeys
from relais_referral.domain.identity import blind_index
from relais_referral.domain.referral import age_on
from relais_referral.entrypoints.schemas import ReferralRequest
from relais_referral.service.emitter import Emitter
from relais_runtime import idempotency
from relais_runtime.errors import DomainError
from relais_runtime.idempotency import IdempotencyScope
from relais_runtime.sealing import KeyNotFoundError, seal

PARENTS_DISAGREE = DomainError(
    "parents_agreement_required",
    "Sans l'accord des parents, l'orientation ne peut pas être envoyée au PRE. "
    "Présentez le PRE à la famille et renvoyez la fiche une fois son accord obtenu.",
    status=422,
)
PRE_UNKNOWN = DomainError(
    "pre_unknown", "Ce PRE n'est pas ouvert aux orientations sur Relais.", status=404
)
PRE_NOT_READY = DomainError(
    "pre_not_configured",
    "Ce PRE n'est pas encore prêt à recevoir des orientations : réessayez plus tard "
    "ou contactez la coordination du PRE.",
    status=503,
)
NOT_REGISTERED = DomainError(
    "institution_not_registered",
    "Votre établissement n'est pas enregistré auprès de ce PRE : contactez la coordination du PRE.",
    status=403,
)
INACTIVE = DomainError(
    "institution_inactive",
    "Votre établissement n'est plus habilité à orienter vers ce PRE : "
    "contactez la coordination du PRE.",
    status=403,
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


async def submit_referral(
    emit: Emitter,
    keys: ReferralKeys,
    *,
    institution_id: str,
    request: ReferralRequest,
    channel: Literal["http", "amqp"] = "http",
    idempotency_key: str | None = None,
    external_ref: str | None = None,
    now: datetime | None = None,
) -> Submission:
    """Store the referral (identity encrypted), find the child's subject, emit the events.

    Runs inside the caller's transaction (``emit.conn``).
    """
    now = now or datetime.now(UTC)
    conn = emit.conn
    pre_id = request.pre_id
    if not request.parents_agree:
        raise PARENTS_DISAGREE
    try:
        public_key = keys.pre_public_key(pre_id)
    except KeyNotFoundError:
        raise PRE_UNKNOWN from None
    try:
        index_key = keys.index_key(pre_id)
    except KeyNotFoundError:
        raise PRE_NOT_READY from None

    institution = await repository.get_institution(conn, pre_id, institution_id)
    if institution is None:
        raise NOT_REGISTERED
    if not institution["active"]:
        raise INACTIVE

    referral_id = uuid.uuid4()
    if idempotency_key is not None:
        body = request.model_dump_json().encode()
        earlier = await idempotency.claim(
            conn,
            IdempotencyScope(pre_id, institution_id, SUBMIT_ROUTE),
            idempotency_key,
            # Keyed by the PRE's index key: the fiche holds the child's identity.
            idempotency.fingerprint(body, index_key),
            referral_id,
            reused=KEY_REUSED,
            # A retry from before an index-key rotation was fingerprinted with the old key.
            also_accepted=[
                idempotency.fingerprint(body, k) for k in keys.previous_index_keys(pre_id)
            ],
        )
        if earlier is not None:
            return Submission(earlier, replayed=True)

    child = request.child
    names = (child.first_name, child.last_name, child.birth_date)
    subject_id, known = await repository.find_or_create_subject(
        conn,
        pre_id,
        blind_index(index_key, *names),
        uuid.uuid4(),
        index_kid=keys.index_kid(pre_id),
        previous=[blind_index(k, *names) for k in keys.previous_index_keys(pre_id)],
    )
    content = request.model_dump(mode="json", exclude={"pre_id"})
    sealed = seal(
        {
            "child": content["child"],
            "guardians": content["guardians"],
            "referrer": content["referrer"],
            "description": request.reasons.description,
        },
        public_key,
    )
    facts = ReferralFacts(
        age_years=age_on(child.birth_date, now.date()),
        sex=child.sex,
        school_level=child.school_level,
        lives_in_qpv=child.lives_in_qpv,
        source_category=SourceCategory(institution["category"]),
        reason_categories=sorted(set(request.reasons.categories)),
        axes=sorted(set(request.axes)),
    )
    await repository.insert_referral(
        conn,
        referral_id=referral_id,
        pre_id=pre_id,
        institution_id=institution_id,
        subject_id=subject_id,
        known_subject=known,
        facts=facts.model_dump(mode="json"),
        fiche=await fiches.seal_fiche(
            conn,
            keys,
            pre_id=pre_id,
            subject_id=subject_id,
            referral_id=referral_id,
            content=content,
        ),
        channel=channel,
        external_ref=external_ref,
        submitted_at=now,
    )
    submitted = await emit(
        ReferralSubmitted(
            referral_id=referral_id,
            subject_id=subject_id,
            known_subject=known,
            institution_id=institution_id,
            submitted_at=now,
            parents_informed=request.parents_informed,
            parents_agree=True,
            facts=facts,
            sealed=sealed,
        ),
        subject=str(referral_id),
        tenant=pre_id,
        sequence=1,
    )
    await emit(
        ReferralStatusChanged(
            referral_id=referral_id,
            institution_id=institution_id,
            status=ReferralStatus.RECEIVED,
            changed_at=now,
        ),
        subject=str(referral_id),
        tenant=pre_id,
        sequence=1,
        caused_by=submitted,
    )
    return Submission(referral_id)
