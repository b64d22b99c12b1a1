"""Use cases of the consent ledger: give (or change), withdraw, expire.

Withdrawal stops every sharing at once: in the same transaction, open handovers are
cancelled (the partners hear it through handover.cancelled) and the sheet is refused
from the next read on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from relais_contracts.types import ConsentForm, DeadlineKind, HandoverCancelReason
from relais_contracts.v1.parcours import (
    ConsentExpired,
    ConsentGiven,
    ConsentScope,
    ConsentWithdrawn,
    HandoverCancelled,
)
from relais_parcours.adapters import repository
from relais_parcours.context import Parcours
from relais_parcours.domain.consent import allowed_categories, names_partner
from relais_parcours.domain.handover import OPEN
from relais_parcours.service import access, idempotency, tenancy
from relais_parcours.service.dates import not_before_opening
from relais_runtime.auth import Principal
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError
from relais_runtime.runtime import ServiceRuntime

#: Writes an event to the outbox: (conn, event, subject, tenant, sequence).
Emit = Callable[..., Any]


class UnknownGuardianError(Exception):
    """The withdrawal names no guardian who gave the consent (the route answers 422)."""

    def __init__(self, labels: list[str]) -> None:
        super().__init__("guardian_unknown")
        self.labels = labels


def guardian_label(guardians: Sequence[dict[str, Any]], named: str) -> str | None:
    """The consent's own label for the guardian named (case and spacing aside), if any."""
    wanted = " ".join(named.split()).casefold()
    for guardian in guardians:
        if " ".join(str(guardian["label"]).split()).casefold() == wanted:
            return str(guardian["label"])
    return None


def today_in(ctx: Parcours, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(ctx.settings.timezone)).date()


async def cancel_handovers(
    runtime: ServiceRuntime,
    conn: Conn,
    handovers: Sequence[asyncpg.Record],
    reason: HandoverCancelReason,
    now: datetime,
) -> list[str]:
    """Cancel open handovers; returns the partners whose access ended."""
    partners: list[str] = []
    for h in handovers:
        if h["status"] not in OPEN:
            continue
        version = await repository.cancel_handover(conn, h["id"], reason.value, now)
        await repository.resolve_deadlines(
            conn, h["situation_id"], DeadlineKind.HANDOVER_RESPONSE.value, h["id"]
        )
        await runtime.emit(
            conn,
            HandoverCancelled(
                handover_id=h["id"],
                situation_id=h["situation_id"],
                subject_id=h["subject_id"],
                partner_id=h["partner_id"],
                referent_id=h["referent_id"],
                reason=reason,
                cancelled_at=now,
            ),
            subject=str(h["id"]),
            tenant=h["pre_id"],
            sequence=version,
        )
        if h["partner_id"] not in partners:
            partners.append(h["partner_id"])
    return partners


def _category(directory: dict[str, Any], partner_id: str) -> str:
    partner = directory.get(partner_id)
    return str(partner["category"]) if partner is not None else ""


async def give(
    runtime: ServiceRuntime,
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
    idempotency_key: str | None = None,
) -> uuid.UUID:
    now = datetime.now(UTC)
    consent_id = uuid.uuid4()
    async with tenancy.scoped(runtime, who.pre) as conn:
        earlier = await idempotency.replayed(conn, who, idempotency_key, "consent")
        if earlier is not None:
            return earlier
        situation = await access.situation_for(conn, who, situation_id, lock=True)
        if situation["stage"] != "in_parcours":
            raise DomainError(
                "situation_not_in_parcours",
                "Le consentement se recueille pour une situation prise en charge.",
            )
        given_on = given_at.astimezone(ZoneInfo(ctx.settings.timezone)).date()
        not_before_opening(ctx, situation, {"given_at": (given_on, "La date du consentement")})
        directory = {p["id"]: p for p in await repository.list_partners(conn, who.pre)}
        for entry in scope:
            if entry.get("partner_id") and entry["partner_id"] not in directory:
                raise DomainError(
                    "partner_not_found",
                    f"Le partenaire « {entry['partner_id']} » n'est pas dans l'annuaire du PRE.",
                    422,
                )
        previous = await repository.active_consent(conn, situation_id)
        if previous is not None:
            await repository.end_consent(conn, previous["id"], "superseded", now, None)
        await repository.insert_consent(
            conn,
            {
                "id": consent_id,
                "situation_id": situation_id,
                "pre_id": who.pre,
                "form": form.value,
                "guardians": guardians,
                "sole_guardian_reason": sole_guardian_reason,
                "witness": witness,
                "scope": scope,
                "given_at": given_at,
                "valid_until": valid_until,
                "recorded_by": who.sub,
                "status": "active",
                "supersedes": previous["id"] if previous else None,
            },
        )
        # What the new scope no longer covers stops now.
        open_handovers = await repository.open_handovers(conn, situation_id)
        uncovered = [
            h
            for h in open_handovers
            if not names_partner(scope, h["partner_id"], _category(directory, h["partner_id"]))
            or not set(h["data_categories"])
            <= allowed_categories(scope, h["partner_id"], _category(directory, h["partner_id"]))
        ]
        await cancel_handovers(
            runtime, conn, uncovered, HandoverCancelReason.CONSENT_WITHDRAWN, now
        )
        wire_scope = []
        for partner in directory.values():
            categories = allowed_categories(scope, partner["id"], partner["category"])
            if categories:
                wire_scope.append(
                    ConsentScope(partner_id=partner["id"], data_categories=sorted(categories))
                )
        version = await repository.bump_version(conn, situation_id)
        await runtime.emit(
            conn,
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
            tenant=who.pre,
            sequence=version,
        )
        await idempotency.remember(conn, who, idempotency_key, "consent", consent_id)
    return consent_id


async def withdraw(
    runtime: ServiceRuntime,
    who: Principal,
    situation_id: uuid.UUID,
    consent_id: uuid.UUID,
    *,
    guardian: str,
) -> list[str]:
    """The family withdraws: open handovers are cancelled in the same transaction."""
    now = datetime.now(UTC)
    async with tenancy.scoped(runtime, who.pre) as conn:
        situation = await access.situation_for(conn, who, situation_id, lock=True)
        consent = await repository.get_consent(conn, who.pre, situation_id, consent_id)
        if consent is None:
            raise DomainError("consent_not_found", "Consentement introuvable.", 404)
        if consent["status"] != "active":
            raise DomainError(
                "consent_not_active", "Ce consentement n'est plus en vigueur : rien à retirer."
            )
        # Only a holder of parental authority who gave this consent can withdraw it.
        label = guardian_label(consent["guardians"], guardian)
        if label is None:
            raise UnknownGuardianError([str(g["label"]) for g in consent["guardians"]])
        await repository.end_consent(conn, consent_id, "withdrawn", now, label)
        partners = await cancel_handovers(
            runtime,
            conn,
            await repository.open_handovers(conn, situation_id),
            HandoverCancelReason.CONSENT_WITHDRAWN,
            now,
        )
        version = await repository.bump_version(conn, situation_id)
        await runtime.emit(
            conn,
            ConsentWithdrawn(
                consent_id=consent_id,
                situation_id=situation_id,
                subject_id=situation["subject_id"],
                partner_ids=partners,
                withdrawn_at=now,
            ),
            subject=str(situation_id),
            tenant=who.pre,
            sequence=version,
        )
    return partners


async def expire_consents(runtime: ServiceRuntime, ctx: Parcours, now: datetime) -> int:
    """Consents past their last valid day end (SKIP LOCKED, any replica)."""
    today = today_in(ctx, now)
    async with tenancy.sweep(runtime, ctx) as conn:
        rows = await repository.claim_expired_consents(conn, today, 100)
        for consent in rows:
            await repository.end_consent(conn, consent["id"], "expired", now, None)
            partners = await cancel_handovers(
                runtime,
                conn,
                await repository.open_handovers(conn, consent["situation_id"]),
                HandoverCancelReason.CONSENT_EXPIRED,
                now,
            )
            version = await repository.bump_version(conn, consent["situation_id"])
            await runtime.emit(
                conn,
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
