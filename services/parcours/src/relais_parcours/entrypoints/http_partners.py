"""HTTP routes of the partner directory in Relais's own terms (slugs), and its settings."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from relais_parcours.context import Ctx
from relais_parcours.domain import hsds_import
from relais_parcours.domain.partner import PartnerBody, Problem
from relais_parcours.entrypoints.validation import Body, Offset, PartnerId
from relais_parcours.service import directory, directory_import
from relais_runtime.auth import Principal, require_roles
from relais_runtime.errors import DomainError, error_body

router = APIRouter(prefix="/v1")

Team = Annotated[Principal, Depends(require_roles("coordinator", "referent"))]
Admin = Annotated[Principal, Depends(require_roles("coordinator", "admin"))]
Reader = Annotated[Principal, Depends(require_roles(*directory.MEMBERS))]


def refused(found: list[Problem], prefix: tuple[str, ...] = ("body",)) -> RequestValidationError:
    """A 422 naming each field an entry's cross-field rules refuse."""
    return RequestValidationError(
        [{"type": p.code, "loc": (*prefix, *p.field.split(".")), "msg": p.message} for p in found]
    )


@router.put(
    "/partners/{partner_id}", response_model=PartnerBody, summary="Enregistrer un partenaire"
)
async def put_partner(
    partner_id: PartnerId, body: PartnerBody, who: Admin, ctx: Ctx
) -> PartnerBody:
    if body.id != partner_id:
        raise DomainError("id_mismatch", "L'identifiant du corps diffère de celui de l'URL.", 422)
    try:
        await directory.record(ctx.units.scoped(who.tenant), who, body)
    except directory.EntryRefusedError as exc:
        raise refused(exc.problems) from None
    return body


@router.get("/partners", response_model=list[PartnerBody], summary="Annuaire des partenaires")
async def get_partners(
    who: Team,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[PartnerBody]:
    rows = await directory.entries(ctx.units.scoped(who.tenant), who, limit, offset)
    return [directory.entry_of(r) for r in rows]


@router.get("/partners/{partner_id}", response_model=PartnerBody, summary="Un partenaire")
async def get_partner(partner_id: PartnerId, who: Reader, ctx: Ctx) -> PartnerBody:
    return directory.entry_of(
        await directory.entry_row(ctx.units.scoped(who.tenant), who, partner_id)
    )


@router.get(
    "/partners/{partner_id}/hsds",
    summary="Le partenaire au format Open Referral HSDS 3 (organization compilée)",
)
async def get_partner_hsds(partner_id: PartnerId, who: Reader, ctx: Ctx) -> dict[str, Any]:
    return directory.hsds_of(
        await directory.entry_row(ctx.units.scoped(who.tenant), who, partner_id)
    ).organization()


class DirectorySettings(Body):
    hsds_read: Literal["members", "public"] = "members"


@router.put(
    "/directory/settings",
    response_model=DirectorySettings,
    summary="Qui peut lire l'annuaire par l'API HSDS : membres du PRE ou public",
)
async def put_directory_settings(
    body: DirectorySettings, who: Admin, ctx: Ctx
) -> DirectorySettings:
    await directory.set_hsds_readers(ctx.units.scoped(who.tenant), who, body.hsds_read)
    return body


@router.get(
    "/directory/settings", response_model=DirectorySettings, summary="Réglages de l'annuaire"
)
async def get_directory_settings(who: Reader, ctx: Ctx) -> DirectorySettings:
    return DirectorySettings(
        hsds_read=await directory.hsds_readers(ctx.units.scoped(who.tenant), who)
    )


#: An HSDS directory of a PRE is a few megabytes at most.
MAX_IMPORT_BYTES = 10_000_000
IMPORT_TYPES = {
    "application/json": "JSON de l'API HSDS",
    "application/zip": "fichiers CSV HSDS en zip",
    "text/csv": "organizations.csv seul",
}


async def _upload(request: Request) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_IMPORT_BYTES:
            raise DomainError("payload_too_large", "Le fichier dépasse 10 Mo.", 413)
    return bytes(data)


def _organizations(kind: str, data: bytes) -> list[Any]:
    if kind == "application/json":
        try:
            return hsds_import.organizations_of(json.loads(data))
        except (ValueError, UnicodeDecodeError):
            raise DomainError("invalid_json", "Ce fichier n'est pas du JSON valide.", 400) from None
    if kind == "text/csv":
        try:
            return hsds_import.nest_tables({"organizations": data.decode("utf-8")})
        except UnicodeDecodeError:
            raise DomainError("not_utf8", "Le CSV doit être encodé en UTF-8.", 400) from None
    return hsds_import.nest_tables(hsds_import.tables_from_zip(data))


def _outcome(o: directory_import.Outcome) -> dict[str, Any]:
    return {
        "position": o.position,
        "name": o.name,
        "hsds_id": str(o.hsds_id) if o.hsds_id else None,
        "partner_id": o.partner_id,
        "action": o.action,
        "changes": o.changes,
        "errors": [
            {**e, "field": ".".join(p for p in (f"organizations.{o.position}", e["field"]) if p)}
            for e in o.errors
        ],
        "notes": o.notes,
    }


@router.post(
    "/directory/import",
    summary="Importer un annuaire HSDS 3 (JSON de l'API, ou CSV tabulaires en zip)",
    description="Content-Type application/json, application/zip ou text/csv. "
    "`dry_run=true` liste ce qui changerait sans rien écrire. Tout ou rien : un "
    "enregistrement invalide et rien n'est importé (422, une erreur par enregistrement).",
)
async def post_directory_import(
    request: Request, who: Admin, ctx: Ctx, dry_run: bool = False
) -> JSONResponse:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in IMPORT_TYPES:
        accepted = ", ".join(f"{k} ({v})" for k, v in IMPORT_TYPES.items())
        raise DomainError("unsupported_media_type", f"Formats acceptés : {accepted}.", 415)
    try:
        organizations = _organizations(kind, await _upload(request))
    except hsds_import.UnreadableError as exc:
        raise DomainError(exc.code, exc.message, 400) from None
    report = await directory_import.import_directory(
        ctx.units.scoped(who.tenant), who, organizations, dry_run=dry_run
    )
    records = [_outcome(o) for o in report.records]
    body = {"dry_run": report.dry_run, "applied": report.applied, "counts": report.counts()}
    if report.invalid and not dry_run:
        refused = len(report.invalid)
        message = (
            f"{refused} organisation(s) du fichier sont invalides : rien n'a été importé. "
            "Corrigez-les (voir errors) ou retirez-les du fichier."
        )
        errors = [e for r in records for e in r["errors"]]
        return JSONResponse(
            error_body("import_refused", message, errors=errors, **body, records=records), 422
        )
    return JSONResponse({**body, "records": records})
