"""Use case: an institution submits a referral (HTTP today, AMQP intake later)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from relais_contracts.types import ReferralStatus, SourceCategory
from relais_contracts.v1.referral import ReferralFacts, ReferralStatusChanged, ReferralSubmitted
from relais_referral.adapters import repository
from relais_referral.domain.referral import age_on
from relais_referral.entrypoints.schemas import ReferralRequest
from relais_runtime.errors import DomainError
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.sealing import KeyNotFoundError, PreKeys, seal


async def submit_referral(
    runtime: ServiceRuntime,
    keys: PreKeys,
    *,
    institution_id: str,
    request: ReferralRequest,
    now: datetime | None = None,
) -> uuid.UUID:
    """Store the referral, seal its identity to the PRE, and emit ``referral.submitted``."""
    now = now or datetime.now(UTC)
    if not request.parents_agree:
        raise DomainError(
            "parents_agreement_required",
            "Sans l'accord des parents, l'orientation ne peut pas être envoyée au PRE. "
            "Présentez le PRE à la famille et renvoyez la fiche une fois son accord obtenu.",
            status=422,
        )
    try:
        public_key = keys.public_key(request.pre_id)
    except KeyNotFoundError:
        raise DomainError(
            "pre_unknown", "Ce PRE n'est pas ouvert aux orientations sur Relais.", status=404
        ) from None
    referral_id = uuid.uuid4()
    subject_id = uuid.uuid4()
    sealed = seal(
        {
            "child": request.child.model_dump(mode="json"),
            "guardians": [g.model_dump(mode="json") for g in request.guardians],
            "referrer": request.referrer.model_dump(mode="json"),
            "description": request.reasons.description,
        },
        public_key,
    )
    async with runtime.pool.acquire() as conn, conn.transaction():
        institution = await repository.get_institution(conn, request.pre_id, institution_id)
        if institution is None:
            raise DomainError(
                "institution_not_registered",
                "Votre établissement n'est pas enregistré auprès de ce PRE : "
                "contactez la coordination du PRE.",
                status=403,
            )
        facts = ReferralFacts(
            age_years=age_on(request.child.birth_date, now.date()),
            sex=request.child.sex,
            school_level=request.child.school_level,
            lives_in_qpv=request.child.lives_in_qpv,
            source_category=SourceCategory(institution["category"]),
            reason_categories=sorted(set(request.reasons.categories)),
            axes=sorted(set(request.axes)),
        )
        await repository.insert_referral(
            conn,
            referral_id=referral_id,
            pre_id=request.pre_id,
            institution_id=institution_id,
            subject_id=subject_id,
            facts=facts.model_dump(mode="json"),
            sealed=sealed,
            submitted_at=now,
        )
        submitted = await runtime.emit(
            conn,
            ReferralSubmitted(
                referral_id=referral_id,
                subject_id=subject_id,
                known_subject=False,
                institution_id=institution_id,
                submitted_at=now,
                parents_informed=request.parents_informed,
                parents_agree=True,
                facts=facts,
                sealed=sealed,
            ),
            subject=str(referral_id),
            tenant=request.pre_id,
            sequence=1,
        )
        await runtime.emit(
            conn,
            ReferralStatusChanged(
                referral_id=referral_id,
                institution_id=institution_id,
                status=ReferralStatus.RECEIVED,
                changed_at=now,
            ),
            subject=str(referral_id),
            tenant=request.pre_id,
            sequence=1,
            correlationid=submitted.correlationid,
            causationid=str(submitted.id),
        )
    return referral_id
