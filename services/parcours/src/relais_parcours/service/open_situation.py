"""Use case: a referral arrives; open a situation, or join the child's existing one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from relais_contracts.types import SituationStage
from relais_contracts.v1.parcours import SituationOpened, SituationReferralAttached
from relais_contracts.v1.referral import ReferralSubmitted
from relais_parcours.adapters import repository
from relais_parcours.domain.situation import review_due_on
from relais_runtime.consumer import Tx


async def receive_referral(
    tx: Tx, referral: ReferralSubmitted, *, review_within_days: int, timezone: str
) -> uuid.UUID:
    pre_id = tx.incoming.tenant
    now = datetime.now(UTC)
    existing = await repository.find_situation_for_subject(tx.conn, pre_id, referral.subject_id)
    if existing is None:
        situation_id = uuid.uuid4()
        due = review_due_on(now, review_within_days, timezone)
        await repository.insert_situation(
            tx.conn,
            situation_id=situation_id,
            pre_id=pre_id,
            subject_id=referral.subject_id,
            opened_at=now,
            review_due_on=due,
        )
    else:
        situation_id = existing["id"]
    await repository.attach_referral(
        tx.conn,
        referral_id=referral.referral_id,
        situation_id=situation_id,
        pre_id=pre_id,
        institution_id=referral.institution_id,
        facts=referral.facts.model_dump(mode="json"),
        sealed=referral.sealed,
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
        await tx.emit(
            SituationReferralAttached(
                situation_id=situation_id,
                subject_id=referral.subject_id,
                referral_id=referral.referral_id,
                stage=SituationStage(existing["stage"]),
                attached_at=now,
            ),
            subject=str(situation_id),
            sequence=version,
        )
    return situation_id
