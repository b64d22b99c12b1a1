"""Use cases of the family space: what a guardian sees and may do, and the coordinator's
answers to its requests.

Everything here is scoped by the guardian's session (one situation, one guardian); a
withdrawal goes through the same use cases as when staff record it, so partners are cut
off in the same transaction and hear it the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from relais_contracts.types import ConsentForm
from relais_parcours.adapters import (
    consents_repo,
    family_repository,
    handovers_repo,
    plans_repo,
    referents_repo,
)
from relais_parcours.adapters import directory as directory_repo
from relais_parcours.context import Parcours
from relais_parcours.domain import family
from relais_parcours.domain.consent import allowed_categories, in_force
from relais_parcours.service import (
    access,
    access_log,
    child_texts,
    consent,
    family_notices,
)
from relais_parcours.service.dates import pre_day
from relais_parcours.service.family_access import guardian_of, session_letter
from relais_parcours.service.identity import identity_in
from relais_parcours.service.ports import ParcoursWork, Row, Uows
from relais_runtime import audit
from relais_runtime.auth import GUARDIAN, Principal
from relais_runtime.errors import DomainError


class FieldRefusal(Exception):
    """A rule about one field of the family's request (the route answers 422 naming it)."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(code)
        self.field, self.code, self.message = field, code, message


@dataclass(slots=True)
class FamilyView:
    """What the family sees, in its language: no staff note, no other child."""

    language: str
    channel: str | None
    guardian: dict[str, Any]
    child_first_name: str | None
    pre_contact: dict[str, Any] | None
    referent_first_name: str | None
    consent: dict[str, Any] | None
    plan: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    followup_due_on: date | None
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: Reads by the PRE's staff (access log); partners' reads are in ``ledger``.
    staff_reads: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)


def consent_partners(
    consent_row: Any, directory: dict[str, asyncpg.Record]
) -> list[dict[str, Any]]:
    """Which partners may receive what under this consent, by name."""
    partners = []
    for partner in directory.values():
        categories = allowed_categories(consent_row["scope"], partner["id"], partner["category"])
        if categories:
            partners.append(
                {
                    "partner_id": partner["id"],
                    "name": partner["name"],
                    "data_categories": sorted(categories),
                }
            )
    return partners


async def read_view(
    uow: ParcoursWork, ctx: Parcours, situation: Row, guardian_index: int
) -> FamilyView:
    """The family's view of one situation (also what its letters and documents print)."""
    conn = uow.conn  # the family's tables have no store yet
    identity = await identity_in(uow, ctx, situation) or {}
    guardians = identity.get("guardians") or []
    if not 0 <= guardian_index < len(guardians):
        raise DomainError("guardian_not_found", "Responsable introuvable.", 404)
    guardian = guardians[guardian_index]
    prefs = await family_repository.preferences(
        conn, situation["pre_id"], situation["id"], guardian_index
    )
    language = family.pick_language(
        guardian.get("languages") or [], prefs["language"] if prefs else None
    )
    referent = (
        await referents_repo.get_referent(conn, situation["pre_id"], situation["referent_id"])
        if situation["referent_id"] is not None
        else None
    )
    directory = {p["id"]: p for p in await directory_repo.all_entries(conn, situation["pre_id"])}
    active = await family_repository.active_consent_read(conn, situation["pre_id"], situation["id"])
    today = pre_day(ctx)
    consent_view = None
    if active is not None and in_force(active, today):
        consent_view = {
            "id": active["id"],
            "given_at": active["given_at"],
            "valid_until": active["valid_until"],
            "partners": consent_partners(active, directory),
        }
    texts = await child_texts.texts_in(uow, ctx, situation["pre_id"], situation["subject_id"])
    objectives, actions = map(
        texts.titled, await plans_repo.plan(conn, situation["pre_id"], situation["id"])
    )
    plan = []
    for objective in objectives:
        plan.append(
            {
                "axis": objective["axis"],
                "title": objective["title"],
                "status": objective["status"],
                "actions": [
                    {
                        "title": a["title"],
                        "status": a["status"],
                        "starts_on": a["starts_on"],
                        "ends_on": a["ends_on"],
                    }
                    for a in actions
                    if a["objective_id"] == objective["id"]
                ],
            }
        )
    ledger = [
        {
            "read_at": r["read_at"],
            "partner_name": r["partner_name"] or r["partner_id"],
            "data_categories": list(r["data_categories"]),
        }
        for r in await handovers_repo.disclosures(
            conn, situation["pre_id"], situation["id"], 500, 0
        )
    ]
    requests = [
        {k: r[k] for k in ("id", "kind", "status", "made_at", "due_on", "answered_at")}
        | {"answer": texts.text(r, "answer")}
        for r in await family_repository.requests_of(
            conn, situation["pre_id"], situation["id"], guardian_index
        )
    ]
    staff_reads = [
        {
            "read_at": r["at"],
            "organisation": r["actor_org"],
            "role": r["actor_role"],
            "field_groups": list(r["field_groups"]),
        }
        for r in await audit.reads_of(
            conn,
            situation["pre_id"],
            situation["id"],
            exclude_roles=(GUARDIAN,),
            exclude_records=("handover_sheet",),
        )
    ]
    notices = [
        {
            "kind": n["kind"],
            "text": family_notices.text(n["kind"], language, n["facts"]),
            "created_at": n["created_at"],
        }
        for n in await family_repository.notices_of(
            conn, situation["pre_id"], situation["id"], guardian_index
        )
    ]
    child = identity.get("child") or {}
    return FamilyView(
        language=language,
        channel=prefs["channel"] if prefs else None,
        guardian={
            "first_name": guardian.get("first_name"),
            "last_name": guardian.get("last_name"),
            "relationship": guardian.get("relationship"),
        },
        child_first_name=child.get("first_name"),
        pre_contact=await family_repository.family_contact(conn, situation["pre_id"]),
        referent_first_name=family.first_name(referent["display_name"]) if referent else None,
        consent=consent_view,
        plan=plan,
        ledger=ledger,
        followup_due_on=situation["followup_due_on"],
        requests=requests,
        staff_reads=staff_reads,
        notices=notices,
    )


async def view(uows: Uows, ctx: Parcours, who: Principal) -> FamilyView:
    async with uows() as uow:
        letter = await session_letter(uow.conn, who)
        situation = await access.situation_in(uow, who, letter["situation_id"])
        view = await read_view(uow, ctx, situation, letter["guardian_index"])
        await uow.record_access(
            access_log.readout(
                who,
                "family_space",
                situation["id"],
                situation["id"],
                access_log.FAMILY_VIEW_GROUPS,
                access_log.FAMILY_INFORMATION,
            )
        )
        return view


async def _consent_and_label(
    uow: ParcoursWork, ctx: Parcours, who: Principal
) -> tuple[Row, asyncpg.Record, str]:
    conn = uow.conn
    letter = await session_letter(conn, who)
    situation = await access.situation_in(uow, who, letter["situation_id"])
    active = await consents_repo.active_consent(conn, who.tenant, situation["id"])
    if active is None or not in_force(active, pre_day(ctx)):
        raise DomainError(
            "consent_not_active", "Aucun accord n'est en cours : il n'y a rien à retirer."
        )
    guardian = await guardian_of(uow, ctx, situation, letter["guardian_index"])
    label = family.consent_label_for(active["guardians"], guardian)
    if label is None:
        raise DomainError(
            "guardian_not_in_consent",
            "Cet accord a été donné par un autre parent. Pour le changer, parlez-en à "
            "votre référent·e.",
            403,
        )
    return situation, active, label


async def withdraw(uows: Uows, ctx: Parcours, who: Principal, partner_id: str | None) -> list[str]:
    """Withdraw the whole consent, or only for one partner (a narrower consent replaces
    it). Returns the partners whose access ended."""
    async with uows() as uow:
        situation, active, label = await _consent_and_label(uow, ctx, who)
        directory = {p["id"]: p for p in await directory_repo.all_entries(uow.conn, who.tenant)}
        texts = await child_texts.texts_in(uow, ctx, who.tenant, situation["subject_id"])
    if partner_id is None:
        return await consent.withdraw(uows, who, situation["id"], active["id"], guardian=label)
    partner = directory.get(partner_id)
    if partner is None or not allowed_categories(active["scope"], partner_id, partner["category"]):
        raise FieldRefusal(
            "partner_id",
            "partner_not_in_consent",
            "Ce partenaire ne reçoit déjà aucune information sur votre enfant.",
        )
    narrowed = family.scope_without(active["scope"], partner_id, directory)
    if not narrowed:
        return await consent.withdraw(uows, who, situation["id"], active["id"], guardian=label)
    await consent.give(
        uows,
        ctx,
        who,
        situation["id"],
        form=ConsentForm(active["form"]),
        given_at=active["given_at"],
        valid_until=active["valid_until"],
        guardians=list(active["guardians"]),
        sole_guardian_reason=texts.text(active, "sole_guardian_reason"),
        witness=texts.text(active, "witness"),
        scope=narrowed,
    )
    return [partner_id]


async def make_request(
    uows: Uows, ctx: Parcours, who: Principal, kind: family.RequestKind, details: str
) -> dict[str, Any]:
    """A correction or erasure request: the coordinators have a month to answer."""
    now = datetime.now(UTC)
    request_id = uuid.uuid4()
    due_on = family.request_due_on(pre_day(ctx, now))
    async with uows() as uow:
        letter = await session_letter(uow.conn, who)
        situation = await access.situation_in(uow, who, letter["situation_id"])
        await uow.record_access(
            access_log.changed(
                who,
                "family_request",
                request_id,
                situation["id"],
                access_log.REQUEST_MADE,
                access_log.FAMILY_REQUEST,
            )
        )
        await family_repository.insert_request(
            uow.conn,
            {
                "id": request_id,
                "pre_id": who.tenant,
                "situation_id": letter["situation_id"],
                "guardian_index": letter["guardian_index"],
                "kind": kind.value,
                "details_enc": await child_texts.seal_in(
                    uow, ctx, who.tenant, situation["subject_id"], details
                ),
                "made_at": now,
                "due_on": due_on,
            },
        )
    return {
        "id": request_id,
        "kind": kind.value,
        "status": "open",
        "made_at": now,
        "due_on": due_on,
    }


async def set_preferences(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    language: str | None,
    channel: family.Channel | None,
) -> None:
    async with uows() as uow:
        letter = await session_letter(uow.conn, who)
        situation = await access.situation_in(uow, who, letter["situation_id"])
        guardian = await guardian_of(uow, ctx, situation, letter["guardian_index"])
        if channel is not None and not reachable(guardian, channel):
            raise FieldRefusal("channel", "channel_unreachable", UNREACHABLE[channel])
        await family_repository.upsert_preferences(
            uow.conn,
            {
                "situation_id": situation["id"],
                "guardian_index": letter["guardian_index"],
                "pre_id": who.tenant,
                "language": language,
                "channel": channel.value if channel else None,
                "updated_at": datetime.now(UTC),
            },
        )


UNREACHABLE = {
    family.Channel.EMAIL: "Nous n'avons pas votre adresse e-mail : donnez-la à votre référent·e.",
    family.Channel.PHONE: "Nous n'avons pas votre numéro de téléphone : donnez-le à votre "
    "référent·e.",
    family.Channel.SMS: "Nous n'avons pas votre numéro de téléphone : donnez-le à votre "
    "référent·e.",
    family.Channel.POST: "Nous n'avons pas votre adresse postale : donnez-la à votre référent·e.",
}


def reachable(guardian: dict[str, Any], channel: family.Channel) -> bool:
    needed = {
        family.Channel.EMAIL: "email",
        family.Channel.PHONE: "phone",
        family.Channel.SMS: "phone",
        family.Channel.POST: "address",
    }[channel]
    return bool(guardian.get(needed))


async def answer_request(
    uows: Uows, ctx: Parcours, who: Principal, request_id: uuid.UUID, answer: str
) -> None:
    now = datetime.now(UTC)
    async with uows() as uow:
        request = await family_repository.get_request(uow.conn, who.tenant, request_id)
        if request is None:
            raise DomainError("request_not_found", "Demande introuvable.", 404)
        if request["status"] == "answered":
            raise DomainError("request_already_answered", "Cette demande a déjà une réponse.")
        await uow.record_access(
            access_log.changed(
                who,
                "family_request",
                request_id,
                request["situation_id"],
                access_log.REQUEST_ANSWERED,
                access_log.FAMILY_REQUEST,
            )
        )
        sealed = await child_texts.seal_in(uow, ctx, who.tenant, request["subject_id"], answer)
        assert sealed is not None  # an answer is never empty
        await family_repository.answer_request(
            uow.conn, who.tenant, request_id, sealed, who.sub, now
        )
