"""Use cases of the consent ledger: give (or change), withdraw, expire.

Withdrawal stops every sharing at once: in the same transaction, open handovers are
cancelled (the partners hear it through handover.cancelled) and the sheet is refused
from the next read on.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from relais_contracts.types import ConsentForm, HandoverCancelReason
from relais_contracts.v1.parcours import (
    ConsentExpired,
    ConsentGiven,
    ConsentScope,
    ConsentWithdrawn,
)
from relais_parcours.context import Parcours
from relais_parcours.domain.consent import (
    Consent,
    ConsentEndedError,
    ConsentStatus,
    allowed_categories,
    refuse_ended,
)
from relais_parcours.domain.situation import Stage
from relais_parcours.service import access, access_log, child_texts, retries
from relais_parcours.service.dates import not_before_opening, pre_day
from relais_parcours.service.handovers import cancel_handovers
from relais_parcours.service.ports import ParcoursWork, Row, Uows
from relais_runtime import audit
from relais_runtime.auth import Principal
from relais_runtime.errors import DomainError


def _category(directory: dict[str, Any], partner_id: str) -> str:
    partner = directory.get(partner_id)
    return str(partner["category"]) if partner is not None else ""


def _sharing(scope: Any, directory: dict[str, Any]) -> dict[str, set[str]]:
    """What each partner of the directory may receive under ``scope`` (none: absent)."""
    sharing = {}
    for partner in directory.values():
        categories = allowed_categories(scope, partner["id"], partner["category"])
        if categories:
            sharing[partner["id"]] = categories
    return sharing


async def _log_sharing_changes(
    uow: ParcoursWork,
    who: Principal,
    consent_id: uuid.UUID,
    situation_id: uuid.UUID,
    before: dict[str, set[str]],
    after: dict[str, set[str]],
    purpose: str,
) -> None:
    """One access-log line per partner whose sharing the change opens, widens, narrows or
    ends, naming the categories of data that changed for it (never their content)."""
    for partner_id in sorted(before.keys() | after.keys()):
        changed = before.get(partner_id, set()) ^ after.get(partner_id, set())
        if changed:
            await _log(
                uow,
                who,
                "consent_scope",
                f"{consent_id}/{partner_id}",
                situation_id,
                [f"category.{c}" for c in sorted(changed)],
                purpose,
            )


async def _log(uow: ParcoursWork, *line: Any) -> None:
    await uow.record_access(access_log.changed(*line))


async def _log_ended(
    uow: ParcoursWork, who: Principal, consent: Row, groups: tuple[str, ...], purpose: str
) -> None:
    """A consent withdrawn or expired: its line, and one per partner it cut off."""
    await _log(
        uow,
        who,
        "consent",
        consent["id"],
        consent["situation_id"],
        (*access_log.CONSENT_END, *groups),
        purpose,
    )
    directory = {p["id"]: p for p in await uow.directory.all(consent["pre_id"])}
    await _log_sharing_changes(
        uow,
        who,
        consent["id"],
        consent["situation_id"],
        _sharing(consent["scope"], directory),
        {},
        purpose,
    )


async def give(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    *,
    form: ConsentForm,
    given_at: datetime,
    valid_until: date | None,
    guardians: list[dict[str, Any]],
    sole_guardian_reason: str | None,
    witness: str | None,
    scope: list[dict[str, Any]],
    retry: retries.Keyed | None = None,
) -> uuid.UUID:
    now = datetime.now(UTC)
    refuse_ended(valid_until, pre_day(ctx, now))
    consent_id = uuid.uuid4()
    async with uows() as uow:
        earlier = await retries.claim_in(uow, who, retry, consent_id)
        if earlier is not None:
            return earlier
        situation = await access.situation_in(uow, who, situation_id, lock=True)
        if situation["stage"] != Stage.IN_PARCOURS:
            raise DomainError(
                "situation_not_in_parcours",
                "Le consentement se recueille pour une situation prise en charge.",
            )
        given_on = pre_day(ctx, given_at)
        not_before_opening(ctx, situation, {"given_at": (given_on, "La date du consentement")})
        directory = {p["id"]: p for p in await uow.directory.all(who.tenant)}
        for entry in scope:
            if entry.get("partner_id") and entry["partner_id"] not in directory:
                raise DomainError(
                    "partner_not_found",
                    f"Le partenaire « {entry['partner_id']} » n'est pas dans l'annuaire du PRE.",
                    422,
                )
        previous = await uow.consents.active(who.tenant, situation_id)
        await _log(
            uow,
            who,
            "consent",
            consent_id,
            situation_id,
            access_log.consent_groups(
                sole_guardian_reason=sole_guardian_reason is not None, witness=witness is not None
            ),
            access_log.CONSENT,
        )
        await _log_sharing_changes(
            uow,
            who,
            consent_id,
            situation_id,
            _sharing(previous["scope"], directory) if previous is not None else {},
            _sharing(scope, directory),
            access_log.CONSENT,
        )
        if previous is not None:
            await _log(
                uow,
                who,
                "consent",
                previous["id"],
                situation_id,
                access_log.CONSENT_END,
                access_log.CONSENT,
            )
            await uow.consents.end(who.tenant, previous["id"], ConsentStatus.SUPERSEDED, now, None)
        await uow.consents.add(
            who.tenant,
            {
                "id": consent_id,
                "situation_id": situation_id,
                "form": form.value,
                "guardians": guardians,
                "sole_guardian_reason_enc": await child_texts.seal_in(
                    uow, ctx, who.tenant, situation["subject_id"], sole_guardian_reason
                ),
                "witness_enc": await child_texts.seal_in(
                    uow, ctx, who.tenant, situation["subject_id"], witness
                ),
                "scope": scope,
                "given_at": given_at,
                "valid_until": valid_until,
                "recorded_by": who.sub,
                "status": ConsentStatus.ACTIVE.value,
                "supersedes": previous["id"] if previous else None,
            },
        )
        # What the new scope no longer covers stops now.
        given = Consent(consent_id, situation_id, ConsentStatus.ACTIVE, tuple(scope), valid_until)
        uncovered = given.uncovered(
            await uow.handovers.open(who.tenant, situation_id),
            lambda partner_id: _category(directory, partner_id),
        )
        await cancel_handovers(
            uow,
            uncovered,
            HandoverCancelReason.CONSENT_WITHDRAWN,
            now,
            who=who,
            purpose=access_log.CONSENT,
        )
        wire_scope = [
            ConsentScope(partner_id=partner_id, data_categories=sorted(categories))
            for partner_id, categories in _sharing(scope, directory).items()
        ]
        version = await uow.situations.bump_version(who.tenant, situation_id)
        await uow.emit(
            ConsentGiven(
                consent_id=consent_id,
                situation_id=situation_id,
                subject_id=situation["subject_id"],
                form=form,
                scope=wire_scope,
                given_at=given_at,
                valid_until=valid_until,
                supersedes_consent_id=previous["id"] if previous else None,
            ),
            subject=str(situation_id),
            tenant=who.tenant,
            sequence=version,
        )
    return consent_id


async def ledger(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    *,
    record_read: bool = True,
) -> list[dict[str, Any]]:
    """The situation's consents, oldest first, if the caller may see the situation; their
    texts opened with the child's key (``None`` once erased). The read is in the access log
    (no line, no ledger) unless the caller shows back only the consent it just gave."""
    async with uows() as uow:
        situation = await access.situation_in(uow, who, situation_id)
        rows = await uow.consents.ledger(who.tenant, situation_id)
        if record_read and rows:
            await uow.record_access(
                audit.Access.by(
                    who,
                    "read",
                    "consent_ledger",
                    situation_id,
                    situation_id=situation_id,
                    field_groups=access_log.consent_ledger_groups(rows),
                    purpose=access_log.TEAM_FOLLOW_UP,
                )
            )
        return await child_texts.with_texts_in(
            uow,
            ctx,
            who.tenant,
            [dict(r) | {"subject_id": situation["subject_id"]} for r in rows],
            child_texts.CONSENT_TEXTS,
        )


async def withdraw(
    uows: Uows,
    who: Principal,
    situation_id: uuid.UUID,
    consent_id: uuid.UUID,
    *,
    guardian: str,
) -> list[str]:
    """The family withdraws: open handovers are cancelled in the same transaction."""
    now = datetime.now(UTC)
    async with uows() as uow:
        situation = await access.situation_in(uow, who, situation_id, lock=True)
        row = await uow.consents.get(who.tenant, situation_id, consent_id)
        if row is None:
            raise DomainError("consent_not_found", "Consentement introuvable.", 404)
        try:
            # Only a holder of parental authority who gave this consent can withdraw it;
            # every sharing stops with it.
            label, cancelled = Consent.of(row).withdrawn_by(
                guardian, await uow.handovers.open(who.tenant, situation_id)
            )
        except ConsentEndedError:
            raise DomainError(
                "consent_not_active", "Ce consentement n'est plus en vigueur : rien à retirer."
            ) from None
        await _log_ended(uow, who, row, ("consent.withdrawn_by",), access_log.CONSENT)
        await uow.consents.end(who.tenant, consent_id, ConsentStatus.WITHDRAWN, now, label)
        partners = await cancel_handovers(
            uow,
            cancelled,
            HandoverCancelReason.CONSENT_WITHDRAWN,
            now,
            who=who,
            purpose=access_log.CONSENT,
        )
        version = await uow.situations.bump_version(who.tenant, situation_id)
        await uow.emit(
            ConsentWithdrawn(
                consent_id=consent_id,
                situation_id=situation_id,
                subject_id=situation["subject_id"],
                partner_ids=partners,
                withdrawn_at=now,
            ),
            subject=str(situation_id),
            tenant=who.tenant,
            sequence=version,
        )
    return partners


async def expire_consents(sweeps: Uows, ctx: Parcours, now: datetime) -> int:
    """Consents past their last valid day end (SKIP LOCKED, any replica): ``sweeps`` are
    units across PREs (``ctx.units.sweep()``)."""
    today = pre_day(ctx, now)
    async with sweeps() as uow:
        rows = await uow.consents.claim_expired(today, 100)
        for consent in rows:
            relais = audit.system_actor("parcours", consent["pre_id"])
            await _log_ended(uow, relais, consent, (), access_log.CONSENT_ENDED)
            await uow.consents.end(
                consent["pre_id"], consent["id"], ConsentStatus.EXPIRED, now, None
            )
            ended = await uow.handovers.open(consent["pre_id"], consent["situation_id"])
            partners = await cancel_handovers(
                uow,
                ended,
                HandoverCancelReason.CONSENT_EXPIRED,
                now,
                who=relais,
                purpose=access_log.CONSENT_ENDED,
            )
            version = await uow.situations.bump_version(consent["pre_id"], consent["situation_id"])
            await uow.emit(
                ConsentExpired(
                    consent_id=consent["id"],
                    situation_id=consent["situation_id"],
                    subject_id=consent["subject_id"],
                    partner_ids=partners,
                    expired_on=consent["valid_until"],
                ),
                subject=str(consent["situation_id"]),
                tenant=consent["pre_id"],
                sequence=version,
            )
    return len(rows)
