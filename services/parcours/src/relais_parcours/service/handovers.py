"""Use cases of handovers: ask a partner to run one action, its answers, the handover sheet.

The sheet is built at each read from the consent in force at that instant: a withdrawn or
expired consent, or a narrower one, shows at once. Every read goes to the disclosure ledger.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from relais_contracts.base import Event
from relais_contracts.types import (
    DataCategory,
    DeadlineKind,
    HandoverCancelReason,
    HandoverDeclineReason,
    HandoverOutcome,
    PartnerCategory,
)
from relais_contracts.v1.parcours import (
    HandoverAccepted,
    HandoverCompleted,
    HandoverDeclined,
    HandoverRequested,
    HandoverWaitlisted,
)
from relais_parcours.context import Parcours
from relais_parcours.domain.consent import (
    REASONS_BY_CATEGORY,
    allowed_categories,
    in_force,
    labels,
    missing_categories,
    names_partner,
)
from relais_parcours.domain.handover import (
    OPEN,
    STATUS_LABELS,
    Handover,
    partner_accepted,
    partner_may,
)
from relais_parcours.domain.situation import Stage, review_due_on
from relais_parcours.service import (
    access,
    access_log,
    child_texts,
    family_notices,
    retries,
)
from relais_parcours.service.dates import FieldRefused, pre_day
from relais_parcours.service.identity import identity_in
from relais_parcours.service.plan import plan_updated
from relais_parcours.service.ports import ParcoursWork, Row, Uows
from relais_runtime.auth import Principal
from relais_runtime.errors import DomainError

NOT_FOUND = DomainError("handover_not_found", "Relais introuvable.", 404)


async def cancel_handovers(
    uow: ParcoursWork,
    handovers: Sequence[Handover],
    reason: HandoverCancelReason,
    now: datetime,
    *,
    who: Principal,
    purpose: str,
) -> list[str]:
    """Cancel open handovers (a consent withdrawn or narrowed, the parcours closed, the child
    erased), each change in the access log for ``purpose``; returns the partners whose
    access ended, in order."""
    partners: list[str] = []
    for h in handovers:
        if not h.is_open:
            continue
        event = h.cancel(reason, now)
        await uow.record_access(
            access_log.changed(
                who, "handover", h.id, h.situation_id, access_log.HANDOVER_CANCEL, purpose
            )
        )
        version = await uow.handovers.cancel(h.tenant, h.id, reason.value, now)
        await uow.deadlines.resolve(
            h.tenant, h.situation_id, DeadlineKind.HANDOVER_RESPONSE.value, h.id
        )
        await uow.emit(event, subject=str(h.id), tenant=h.tenant, sequence=version)
        if h.partner_id not in partners:
            partners.append(h.partner_id)
    return partners


def _consent_refusal(detail: str) -> DomainError:
    return DomainError("consent_scope_exceeded", detail, 403)


async def request(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    *,
    action_id: uuid.UUID,
    partner_id: str,
    data_categories: list[DataCategory],
    message: str | None,
    retry: retries.Keyed | None = None,
) -> uuid.UUID:
    now = datetime.now(UTC)
    handover_id = uuid.uuid4()
    async with uows() as uow:
        earlier = await retries.claim_in(uow, who, retry, handover_id)
        if earlier is not None:
            return earlier
        situation = await access.situation_in(uow, who, situation_id, lock=True)
        if situation["stage"] != Stage.IN_PARCOURS:
            raise DomainError(
                "situation_not_in_parcours",
                "Un relais ne se fait que pour une situation prise en charge et non clôturée.",
            )
        if situation["referent_id"] is None:
            raise DomainError(
                "referent_required", "Désignez d'abord un·e référent·e pour cette situation."
            )
        action = await uow.plans.action(who.tenant, situation_id, action_id)
        if action is None:
            raise DomainError("action_not_found", "Action introuvable dans ce plan.", 404)
        if action["status"] in ("done", "cancelled"):
            raise DomainError("action_closed", "Cette action est terminée ou annulée.")
        partner = await uow.directory.entry(who.tenant, partner_id)
        if partner is None:
            raise DomainError(
                "partner_not_found", "Ce partenaire n'est pas dans l'annuaire du PRE.", 404
            )
        if await uow.handovers.open_for(who.tenant, action_id, partner_id):
            raise DomainError(
                "handover_already_open", "Cette action est déjà confiée à ce partenaire."
            )
        consent = await uow.consents.active(who.tenant, situation_id)
        if not in_force(consent, pre_day(ctx, now)):
            raise _consent_refusal(
                "Aucun consentement de la famille n'est en vigueur : rien ne peut être "
                "transmis à un partenaire."
            )
        assert consent is not None
        if not names_partner(consent["scope"], partner_id, partner["category"]):
            raise _consent_refusal(
                f"Le consentement en vigueur ne prévoit aucun partage avec « {partner['name']} »."
            )
        wanted = sorted({c.value for c in data_categories})
        missing = missing_categories(consent["scope"], partner_id, partner["category"], wanted)
        if missing:
            raise _consent_refusal(
                f"Le consentement en vigueur ne permet pas de transmettre à "
                f"« {partner['name']} » : {labels(missing)}."
            )
        due = review_due_on(now, ctx.settings.handover_response_days, ctx.settings.timezone)
        await uow.record_access(
            access_log.changed(
                who,
                "handover",
                handover_id,
                situation_id,
                access_log.handover_request_groups(with_message=message is not None),
                access_log.PARTNER_HANDOVER,
            )
        )
        await uow.handovers.add(
            who.tenant,
            {
                "id": handover_id,
                "situation_id": situation_id,
                "action_id": action_id,
                "partner_id": partner_id,
                "referent_id": situation["referent_id"],
                "consent_id": consent["id"],
                "data_categories": wanted,
                "message_enc": await child_texts.seal_in(
                    uow, ctx, who.tenant, situation["subject_id"], message
                ),
                "status": "requested",
                "requested_at": now,
                "response_due_on": due,
                "version": 1,
            },
        )
        await uow.deadlines.add(
            who.tenant,
            situation_id,
            DeadlineKind.HANDOVER_RESPONSE.value,
            due,
            handover_id=handover_id,
        )
        await uow.emit(
            HandoverRequested(
                handover_id=handover_id,
                situation_id=situation_id,
                subject_id=situation["subject_id"],
                partner_id=partner_id,
                referent_id=situation["referent_id"],
                action_id=action_id,
                axis=action["axis"],
                partner_category=PartnerCategory(partner["category"]),
                consent_id=consent["id"],
                requested_at=now,
                response_due_on=due,
            ),
            subject=str(handover_id),
            tenant=who.tenant,
            sequence=1,
        )
        # The family hears of a partner it has not heard of yet (issue 14).
        await family_notices.notify_in(
            uow, ctx, situation, "new_partner", {"partner": partner["name"]}, partner_id
        )
        # with_partner changed
        await plan_updated(uow, who.tenant, situation, now)
    return handover_id


async def _partner_handover(uow: ParcoursWork, who: Principal, handover_id: uuid.UUID) -> Row:
    """The handover if it was sent to the caller's organisation (404 otherwise)."""
    handover = await uow.handovers.get(who.tenant, handover_id, lock=True)
    if handover is None or handover["partner_id"] != who.org:
        raise NOT_FOUND
    return handover


async def respond(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    handover_id: uuid.UUID,
    target: str,
    *,
    starts_on: date | None = None,
    reason: HandoverDeclineReason | None = None,
    expected_start_on: date | None = None,
    outcome: HandoverOutcome | None = None,
) -> None:
    """The partner accepts, declines, waitlists or completes."""
    now = datetime.now(UTC)
    async with uows() as uow:
        h = await _partner_handover(uow, who, handover_id)
        if not partner_may(h["status"], target):
            raise DomainError(
                "handover_transition",
                f"Ce relais est {STATUS_LABELS[h['status']]} : cette réponse n'est plus possible.",
            )
        requested_on = pre_day(ctx, h["requested_at"])
        for field, day, what in (
            ("starts_on", starts_on, "La date de début"),
            ("expected_start_on", expected_start_on, "La date de début prévue"),
        ):
            if day is not None and day < requested_on:
                raise FieldRefused(
                    field,
                    "date_before_request",
                    f"{what} ne peut pas précéder la demande de relais "
                    f"(le {requested_on:%d/%m/%Y}).",
                )
        changes: dict[str, Any] = {"status": target}
        common = {
            "handover_id": h["id"],
            "situation_id": h["situation_id"],
            "subject_id": h["subject_id"],
            "partner_id": h["partner_id"],
            "referent_id": h["referent_id"],
        }
        event: Event
        if target == "accepted":
            changes |= {"responded_at": now, "starts_on": starts_on}
            event = HandoverAccepted(**common, accepted_at=now, starts_on=starts_on)
        elif target == "declined":
            assert reason is not None
            changes |= {"responded_at": now, "decline_reason": reason.value, "ended_at": now}
            event = HandoverDeclined(**common, reason=reason, declined_at=now)
        elif target == "waitlisted":
            changes |= {"responded_at": now, "expected_start_on": expected_start_on}
            event = HandoverWaitlisted(
                **common, waitlisted_at=now, expected_start_on=expected_start_on
            )
        else:
            assert outcome is not None
            changes |= {"outcome": outcome.value, "ended_at": now}
            event = HandoverCompleted(**common, outcome=outcome, completed_at=now)
        await uow.record_access(
            access_log.changed(
                who,
                "handover",
                handover_id,
                h["situation_id"],
                access_log.HANDOVER_ANSWER[target],
                access_log.PARTNER_HANDOVER,
            )
        )
        version = await uow.handovers.update(who.tenant, handover_id, changes)
        await uow.deadlines.resolve(
            who.tenant, h["situation_id"], DeadlineKind.HANDOVER_RESPONSE.value, handover_id
        )
        await uow.emit(event, subject=str(handover_id), tenant=who.tenant, sequence=version)
        # The plan follows the partner: an accepted action is under way, a completed one done.
        action_status = {"accepted": "in_progress", "completed": "done"}.get(target)
        if action_status is not None:
            situation = await uow.situations.get(who.tenant, h["situation_id"], lock=True)
            action = await uow.plans.action(who.tenant, h["situation_id"], h["action_id"])
            if (
                situation is not None
                and situation["stage"] == Stage.IN_PARCOURS
                and action is not None
                and action["status"] not in (action_status, "done", "cancelled")
            ):
                await uow.record_access(
                    access_log.changed(
                        who,
                        "plan_action",
                        action["id"],
                        h["situation_id"],
                        access_log.plan_groups(["status"]),
                        access_log.PARTNER_HANDOVER,
                    )
                )
                await uow.plans.update_item(
                    who.tenant,
                    "plan_actions",
                    action["id"],
                    h["situation_id"],
                    {"status": action_status},
                    now,
                )
                await plan_updated(uow, who.tenant, situation, now)


async def cancel(
    uows: Uows,
    who: Principal,
    handover_id: uuid.UUID,
    reason: HandoverCancelReason,
) -> None:
    async with uows() as uow:
        h = await uow.handovers.get(who.tenant, handover_id, lock=True)
        if h is None:
            raise NOT_FOUND
        await access.situation_in(uow, who, h["situation_id"])
        if h["status"] not in OPEN:
            raise DomainError(
                "handover_closed", f"Ce relais est {STATUS_LABELS[h['status']]} : rien à annuler."
            )
        await cancel_handovers(
            uow,
            [Handover.of(h)],
            reason,
            datetime.now(UTC),
            who=who,
            purpose=access_log.TEAM_FOLLOW_UP,
        )


async def read_sheet(
    uows: Uows, ctx: Parcours, who: Principal, handover_id: uuid.UUID
) -> dict[str, Any]:
    """The partner's sheet, limited to the consent in force now; the read is recorded."""
    now = datetime.now(UTC)
    async with uows() as uow:
        h = await _partner_handover(uow, who, handover_id)
        if h["status"] not in OPEN:
            raise DomainError(
                "handover_closed",
                f"Ce relais est {STATUS_LABELS[h['status']]} : sa fiche n'est plus accessible.",
                403,
            )
        consent = await uow.consents.active(who.tenant, h["situation_id"])
        partner = await uow.directory.entry(who.tenant, h["partner_id"])
        if not in_force(consent, pre_day(ctx, now)) or partner is None:
            raise _consent_refusal(
                "Le consentement de la famille n'est plus en vigueur : la fiche n'est plus "
                "accessible."
            )
        assert consent is not None
        if not names_partner(consent["scope"], h["partner_id"], partner["category"]):
            raise _consent_refusal(
                "Le consentement en vigueur ne prévoit plus aucun partage avec votre "
                "organisation : la fiche n'est plus accessible."
            )
        action = await uow.plans.action(who.tenant, h["situation_id"], h["action_id"])
        assert action is not None
        texts = await child_texts.texts_in(uow, ctx, who.tenant, h["subject_id"])
        if not partner_accepted(h["status"]):
            # Nothing consent-scoped is disclosed yet, so nothing goes to the ledger.
            return {
                "handover_id": str(h["id"]),
                "status": h["status"],
                "complete": False,
                "notice": "La fiche complète s'ouvre quand votre organisation accepte le relais.",
                "action": {"axis": action["axis"], "title": texts.text(action, "title")},
            }
        shown = sorted(
            set(h["data_categories"])
            & allowed_categories(consent["scope"], h["partner_id"], partner["category"])
        )
        situation = await uow.situations.get(who.tenant, h["situation_id"])
        assert situation is not None
        referent = await uow.referents.get(who.tenant, h["referent_id"])
        sheet: dict[str, Any] = {
            "handover_id": str(h["id"]),
            "status": h["status"],
            "complete": True,
            "action": {
                "axis": action["axis"],
                "title": texts.text(action, "title"),
                "starts_on": action["starts_on"],
            },
            "message": texts.text(h, "message"),
            "referent": referent["display_name"] if referent else None,
            "data_categories": shown,
        }
        reasons = {r for facts in situation["facts"] for r in facts["reason_categories"]}
        if DataCategory.IDENTITY_AND_CONTACT.value in shown:
            sheet["identity"] = await identity_in(uow, ctx, situation)
        for category, among in REASONS_BY_CATEGORY.items():
            if category.value in shown:
                sheet[category.value] = {
                    "reason_categories": sorted(r for r in reasons if r in among)
                }
        if DataCategory.SCHOOLING.value in shown:
            sheet[DataCategory.SCHOOLING.value]["school_level"] = situation["facts"][-1][
                "school_level"
            ]
        if DataCategory.PLAN_AND_PROGRESS.value in shown:
            objectives, actions = map(
                texts.titled, await uow.plans.rows(who.tenant, h["situation_id"])
            )
            sheet["plan_and_progress"] = [
                {
                    "title": o["title"],
                    "status": o["status"],
                    "actions": [
                        {"title": a["title"], "status": a["status"]}
                        for a in actions
                        if a["objective_id"] == o["id"]
                    ],
                }
                for o in objectives
                if o["axis"] == action["axis"]
            ]
        await uow.handovers.record_disclosure(
            situation_id=h["situation_id"],
            tenant=who.tenant,
            handover_id=h["id"],
            partner_id=h["partner_id"],
            reader_sub=who.sub,
            data_categories=shown,
            read_at=now,
        )
        await uow.record_access(
            access_log.readout(
                who,
                "handover_sheet",
                h["id"],
                h["situation_id"],
                [f"category.{c}" for c in shown],
                access_log.PARTNER_HANDOVER,
            )
        )
    return sheet


def situation_tenant(situation: Any) -> str:
    return str(situation["pre_id"])
