"""Use cases of the family's door: print a letter, revoke it, open a session with it.

A letter is a one-time link and a short code for one guardian of one situation. Both
together open a short session (a guardian token signed by parcours under the family
issuer, ADR 0010); the link alone, or a wrong code, opens nothing, and five wrong codes
lock the letter.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from relais_parcours.adapters import family_repository
from relais_parcours.context import Parcours
from relais_parcours.domain import family
from relais_parcours.domain.situation import NO_FAMILY_SPACE, Stage
from relais_parcours.service import access
from relais_parcours.service.identity import identity_in
from relais_parcours.service.ports import Row, Stores, Uows
from relais_runtime.auth import (
    GUARDIAN,
    SIGNING_KEY_FILENAME,
    Principal,
    SigningKey,
    generate_signing_key,
    load_signing_key,
    mint_token,
)
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError
from relais_runtime.logging import get_logger

log = get_logger(__name__)

GUARDIAN_ORG = "famille"

#: French messages for a letter that opens nothing (a person reads them on the page).
REFUSALS: dict[family.LetterRefusal, tuple[int, str]] = {
    family.LetterRefusal.UNKNOWN: (
        401,
        "Ce lien ou ce code n'est pas reconnu. Vérifiez le code imprimé sur votre lettre.",
    ),
    family.LetterRefusal.WRONG_CODE: (
        401,
        "Ce lien ou ce code n'est pas reconnu. Vérifiez le code imprimé sur votre lettre.",
    ),
    family.LetterRefusal.LOCKED: (
        403,
        "Trop d'essais avec un code faux : cette lettre est bloquée. "
        "Demandez une nouvelle lettre à votre référent·e.",
    ),
    family.LetterRefusal.EXPIRED: (
        403,
        "Cette lettre a expiré. Demandez une nouvelle lettre à votre référent·e.",
    ),
    family.LetterRefusal.USED: (
        403,
        "Cette lettre a déjà servi une fois. Demandez une nouvelle lettre à votre référent·e.",
    ),
    family.LetterRefusal.REVOKED: (
        403,
        "Cette lettre a été annulée. Demandez une nouvelle lettre à votre référent·e.",
    ),
}


def refusal(reason: family.LetterRefusal) -> DomainError:
    status, message = REFUSALS[reason]
    return DomainError(reason.value, message, status)


@dataclass(frozen=True, slots=True)
class IssuedLetter:
    """What is printed once: the link and code exist nowhere else in clear."""

    id: uuid.UUID
    situation_id: uuid.UUID
    guardian_index: int
    link: str
    code: str
    expires_at: datetime
    guardian: dict[str, Any]
    language: str


def family_signing_key(ctx: Parcours) -> SigningKey:
    """Parcours's key for guardians' sessions (its public half: RELAIS_FAMILY_JWKS_PATH)."""
    directory = Path(ctx.settings.family_jwks_path).parent
    path = directory / SIGNING_KEY_FILENAME
    if not path.exists():
        if not ctx.settings.family_key_create:
            raise RuntimeError(f"the family signing key is missing: {path}")
        generate_signing_key(directory)
        log.info("family signing key created", directory=str(directory))
    return load_signing_key(path)


async def guardian_of(
    uow: Stores, ctx: Parcours, situation: Row, guardian_index: int
) -> dict[str, Any]:
    identity = await identity_in(uow, ctx, situation)
    guardians = (identity or {}).get("guardians") or []
    if not 0 <= guardian_index < len(guardians):
        raise DomainError(
            "guardian_not_found",
            "Ce responsable n'existe pas dans la fiche de l'enfant.",
            404,
        )
    guardian: dict[str, Any] = guardians[guardian_index]
    return guardian


async def issue_letter(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    guardian_index: int,
) -> IssuedLetter:
    """A new letter for one guardian; its earlier letters (and sessions) stop working."""
    now = datetime.now(UTC)
    link_token, code = family.new_link_token(), family.new_code()
    letter_id = uuid.uuid4()
    expires_at = family.letter_expiry(now, ctx.settings.family_letter_days)
    async with uows() as uow:
        situation = await access.situation_in(uow, who, situation_id, lock=True)
        if situation["stage"] in NO_FAMILY_SPACE:
            raise DomainError(
                "situation_not_open_to_family",
                "Cette situation n'est plus suivie : pas de lettre d'accès.",
            )
        guardian = await guardian_of(uow, ctx, situation, guardian_index)
        await family_repository.revoke_guardian_letters(
            uow.conn, who.tenant, situation_id, guardian_index, now, who.sub
        )
        await family_repository.insert_letter(
            uow.conn,
            {
                "id": letter_id,
                "pre_id": who.tenant,
                "situation_id": situation_id,
                "guardian_index": guardian_index,
                "link_hash": family.link_hash(link_token),
                "code_hash": family.code_hash(link_token, code),
                "created_by": who.sub,
                "created_at": now,
                "expires_at": expires_at,
            },
        )
        prefs = await family_repository.preferences(
            uow.conn, who.tenant, situation_id, guardian_index
        )
    language = family.pick_language(
        guardian.get("languages") or [], prefs["language"] if prefs else None
    )
    log.info("family letter issued", letter_id=str(letter_id), situation_id=str(situation_id))
    return IssuedLetter(
        id=letter_id,
        situation_id=situation_id,
        guardian_index=guardian_index,
        link=f"{ctx.settings.family_link_base.rstrip('/')}/{link_token}",
        code=code,
        expires_at=expires_at,
        guardian=guardian,
        language=language,
    )


async def revoke_letter(
    uows: Uows, who: Principal, situation_id: uuid.UUID, letter_id: uuid.UUID
) -> None:
    now = datetime.now(UTC)
    async with uows() as uow:
        await access.situation_in(uow, who, situation_id)
        letter = await family_repository.get_letter(uow.conn, who.tenant, letter_id)
        if letter is None or letter["situation_id"] != situation_id:
            raise DomainError("letter_not_found", "Lettre d'accès introuvable.", 404)
        await family_repository.revoke_letter(uow.conn, who.tenant, letter_id, now, who.sub)


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    expires_in: int


async def open_session(ctx: Parcours, link_token: str, code: str) -> Session:
    """Exchange a letter's link and code for a guardian session (once), in two units of
    work of ``ctx.units``: a sweep finds the letter's PRE, then one scoped to it."""
    now = datetime.now(UTC)
    link_hash = family.link_hash(link_token)
    # The link is the only thing the guardian brings: its PRE is learnt across PREs (a sweep
    # reading one column), then everything else happens scoped to that PRE.
    async with ctx.units.sweep()() as uow:
        tenant = await family_repository.letter_tenant(uow.conn, link_hash)
    async with ctx.units.scoped(tenant or "")() as uow:
        letter = await family_repository.letter_by_link(uow.conn, tenant or "", link_hash)
        refused = family.letter_refusal(letter, now)
        if refused is None and letter is not None and letter["stage"] == Stage.ERASED:
            refused = family.LetterRefusal.REVOKED
        if refused is not None:
            log.info("family letter refused", reason=refused.value)
            raise refusal(refused)
        assert letter is not None
        if not family.code_matches(link_token, code, letter["code_hash"]):
            attempts = await family_repository.count_failed_attempt(
                uow.conn, letter["pre_id"], letter["id"]
            )
            if attempts >= family.MAX_FAILED_ATTEMPTS:
                await family_repository.revoke_letter(
                    uow.conn, letter["pre_id"], letter["id"], now, "too_many_codes"
                )
            log.info("family letter wrong code", letter_id=str(letter["id"]), attempts=attempts)
            # The failed attempt must be counted even though the request is refused.
            wrong = refusal(
                family.LetterRefusal.LOCKED
                if attempts >= family.MAX_FAILED_ATTEMPTS
                else family.LetterRefusal.WRONG_CODE
            )
        else:
            wrong = None
            await family_repository.mark_letter_used(uow.conn, letter["pre_id"], letter["id"], now)
    if wrong is not None:
        raise wrong
    ttl = timedelta(minutes=ctx.settings.family_session_minutes)
    token = mint_token(
        family_signing_key(ctx),
        sub=f"letter:{letter['id']}",
        org=GUARDIAN_ORG,
        tenant=letter["pre_id"],
        roles=[GUARDIAN],
        issuer=ctx.settings.family_issuer,
        audience=ctx.settings.jwt_audience,
        ttl=ttl,
        extra_claims={"situation": str(letter["situation_id"])},
    )
    log.info("family session opened", letter_id=str(letter["id"]))
    return Session(token=token, expires_in=int(ttl.total_seconds()))


async def session_letter(conn: Conn, who: Principal) -> asyncpg.Record:
    """The letter behind a guardian's session, still valid (a revocation ends sessions)."""
    letter_id = who.sub.removeprefix("letter:")
    try:
        parsed = uuid.UUID(letter_id)
    except ValueError:
        raise refusal(family.LetterRefusal.UNKNOWN) from None
    letter = await family_repository.get_letter(conn, who.tenant, parsed)
    if letter is None or str(letter["situation_id"]) != who.situation:
        raise refusal(family.LetterRefusal.UNKNOWN)
    if letter["revoked_at"] is not None:
        raise refusal(family.LetterRefusal.REVOKED)
    return letter
