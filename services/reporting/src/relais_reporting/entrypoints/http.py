"""HTTP routes of the reporting service: suppressed aggregates only, never rows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from relais_reporting.config import ReportingSettings
from relais_reporting.domain.access import readable_regions, readable_tenants
from relais_reporting.domain.indicators import INDICATORS
from relais_reporting.domain.periods import PARIS, school_year_bounds
from relais_reporting.entrypoints import render
from relais_reporting.service.report import IndicatorReport, build_report
from relais_runtime.app import get_runtime
from relais_runtime.auth import MSG_PRE, MSG_ROLE, Principal, current_principal
from relais_runtime.http import CSVResponse
from relais_runtime.runtime import ServiceRuntime

router = APIRouter(prefix="/v1")

Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]
bearer = HTTPBearer(auto_error=False, scheme_name="bearer")


async def reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """An analyst or coordinator, from the bearer token (the web pages send the signed-in
    person's; there is no other way in)."""
    who = await current_principal(request, credentials)
    if not who.has_role("analyst", "coordinator"):
        raise HTTPException(403, detail={"code": "forbidden_role", "message": MSG_ROLE})
    return who


Reader = Annotated[Principal, Depends(reader)]
SchoolYear = Annotated[
    str,
    Query(
        # [0-9], not \d: the pattern engine's \d takes any script's digits ("٢٠٢٦"), which
        # then broke the CSV's Content-Disposition header (latin-1 only): a 500.
        pattern=r"^[0-9]{4}-[0-9]{4}$",
        examples=["2026-2027"],
        description="Année scolaire (1er septembre - 31 août).",
    ),
]
AsOf = Annotated[
    date | None,
    Query(description="Arrêter les chiffres à la fin de ce jour (dates des événements)."),
]
KnownOn = Annotated[
    date | None,
    Query(
        description="Ne tenir compte que de ce que le service savait à la fin de ce jour : "
        "la même demande donnera toujours les mêmes chiffres."
    ),
]
Separator = Annotated[
    Literal[",", ";"], Query(description="Séparateur ; pour les tableurs en français.")
]
Bom = Annotated[bool, Query(description="Ajouter un BOM UTF-8 (ouverture directe dans Excel).")]


class Cell(BaseModel):
    key: str = Field(description="Code de la case (catégorie, ou `ligne|colonne`).")
    label: str = Field(description="Intitulé de la case.")
    value: float | None = Field(description="Valeur ; vide si masquée.")
    suppressed: bool = Field(description="Masquée (trop peu d'enfants, ou recalculable).")
    count: int | None = Field(default=None, description="Durées : nombre de mesures.")


class IndicatorValue(BaseModel):
    key: str = Field(description="Code stable de l'indicateur.")
    label: str = Field(description="Intitulé de l'indicateur.")
    definition: str = Field(description="Ce qui est compté, et comment.")
    unit: str = Field(description="Unité de la valeur (enfants, jours, %…).")
    value: float | None = Field(description="Valeur ; vide si masquée.")
    suppressed: bool = Field(description="Masquée (trop peu d'enfants, ou recalculable).")
    count: int | None = Field(default=None, description="Nombre de mesures derrière la valeur.")
    cells: list[Cell] = Field(default=[], description="Détail par catégorie.")
    note: str | None = Field(default=None, description="Précision de lecture.")
    cell_unit: str | None = Field(
        default=None, description="Unité des cases, quand ce n'est pas celle de la valeur."
    )


class IndicatorSet(BaseModel):
    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)
    scope: str = Field(description="Le PRE ou la région des chiffres.")
    tenant: str | None = Field(description="Le PRE, pour les chiffres d'un PRE.", alias="pre_id")
    tenants: list[str] = Field(description="Les PRE comptés.", alias="pre_ids")
    school_year: str = Field(description="Année scolaire (1er septembre - 31 août).")
    as_of: date | None = Field(description="Chiffres arrêtés à la fin de ce jour, le cas échéant.")
    known_on: date = Field(description="Ce que le service savait à la fin de ce jour.")
    small_cell_threshold: int = Field(description="En dessous de ce nombre, une case est masquée.")
    indicators: list[IndicatorValue] = Field(description="Les indicateurs, dans l'ordre publié.")


def settings_of(runtime: ServiceRuntime) -> ReportingSettings:
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    return settings


def _bad_query(field: str, code: str, message: str, value: object) -> RequestValidationError:
    """The same 422 shape as FastAPI's own checks, so the reader sees which field is wrong."""
    return RequestValidationError(
        [{"type": code, "loc": ("query", field), "msg": message, "input": value}]
    )


def check_school_year(school_year: str) -> None:
    try:
        school_year_bounds(school_year)
    except ValueError:
        raise _bad_query(
            "school_year",
            "invalid_school_year",
            "Année scolaire invalide : attendu par exemple 2026-2027.",
            school_year,
        ) from None


def check_known_on(known_on: date | None) -> None:
    # Figures "known on" a day to come would still change: they would not be the stable
    # answer the parameter promises (docs/decisions/0005).
    if known_on is not None and known_on > datetime.now(PARIS).date():
        raise _bad_query(
            "known_on",
            "known_on_in_future",
            "Date à venir : les chiffres connus à une date future changeraient encore ; "
            "indiquez au plus la date du jour.",
            known_on.isoformat(),
        )


def tenant_scope(who: Principal, settings: ReportingSettings, asked: str | None) -> list[str]:
    tenant = asked or who.tenant
    allowed = readable_tenants(
        who.roles, who.tenant, who.org, settings.regions, settings.analyst_regions
    )
    if tenant not in allowed:
        raise HTTPException(403, detail={"code": "forbidden_pre", "message": MSG_PRE})
    return [tenant]


def region_scope(who: Principal, settings: ReportingSettings, region_id: str) -> list[str]:
    if region_id not in readable_regions(
        who.roles, who.org, settings.regions, settings.analyst_regions
    ):
        raise HTTPException(
            403,
            detail={
                "code": "forbidden_region",
                "message": "Vous n'avez pas accès aux indicateurs de cette région.",
            },
        )
    return list(settings.regions[region_id])


async def report_for(
    runtime: ServiceRuntime,
    tenants: list[str],
    school_year: str,
    as_of: date | None,
    known_on: date | None,
) -> IndicatorReport:
    check_school_year(school_year)
    check_known_on(known_on)
    async with runtime.pool.acquire() as conn:
        return await build_report(
            conn,
            tenants,
            school_year,
            threshold=settings_of(runtime).small_cell_threshold,
            as_of=as_of,
            known_on=known_on,
        )


def csv_response(report: IndicatorReport, scope: str, separator: str, bom: bool) -> CSVResponse:
    name = f"indicateurs-{scope}-{report.school_year}.csv"
    return CSVResponse(
        render.to_csv(report, scope, separator=separator, bom=bom),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/indicators",
    response_model=IndicatorSet,
    summary="Indicateurs d'un PRE",
    description="Les indicateurs anonymes d'un PRE pour une année scolaire, petites cases "
    "masquées. Sans `pre_id` : le PRE de la personne.",
)
async def get_indicators(
    who: Reader,
    runtime: Runtime,
    school_year: SchoolYear,
    tenant: Annotated[str | None, Query(alias="pre_id")] = None,
    as_of: AsOf = None,
    known_on: KnownOn = None,
) -> IndicatorSet:
    tenants = tenant_scope(who, settings_of(runtime), tenant)
    report = await report_for(runtime, tenants, school_year, as_of, known_on)
    return IndicatorSet.model_validate(render.to_json(report, tenants[0]))


@router.get(
    "/indicators.csv",
    summary="Indicateurs d'un PRE (CSV)",
    description="Les mêmes chiffres en CSV, une ligne par case.",
    response_class=CSVResponse,
)
async def get_indicators_csv(
    who: Reader,
    runtime: Runtime,
    school_year: SchoolYear,
    tenant: Annotated[str | None, Query(alias="pre_id")] = None,
    as_of: AsOf = None,
    known_on: KnownOn = None,
    separator: Separator = ",",
    bom: Bom = False,
) -> CSVResponse:
    tenants = tenant_scope(who, settings_of(runtime), tenant)
    report = await report_for(runtime, tenants, school_year, as_of, known_on)
    return csv_response(report, tenants[0], separator, bom)


@router.get(
    "/regions/{region_id}/indicators",
    response_model=IndicatorSet,
    summary="Indicateurs agrégés d'une région (ensemble de PRE)",
    description="Les indicateurs de plusieurs PRE ensemble ; une case qu'un PRE masque chez "
    "lui l'est aussi dans la région.",
)
async def get_region_indicators(
    who: Reader,
    runtime: Runtime,
    region_id: str,
    school_year: SchoolYear,
    as_of: AsOf = None,
    known_on: KnownOn = None,
) -> IndicatorSet:
    tenants = region_scope(who, settings_of(runtime), region_id)
    report = await report_for(runtime, tenants, school_year, as_of, known_on)
    return IndicatorSet.model_validate(render.to_json(report, region_id))


@router.get(
    "/regions/{region_id}/indicators.csv",
    summary="Indicateurs d'une région (CSV)",
    description="Les chiffres de la région en CSV, une ligne par case.",
    response_class=CSVResponse,
)
async def get_region_indicators_csv(
    who: Reader,
    runtime: Runtime,
    region_id: str,
    school_year: SchoolYear,
    as_of: AsOf = None,
    known_on: KnownOn = None,
    separator: Separator = ",",
    bom: Bom = False,
) -> CSVResponse:
    tenants = region_scope(who, settings_of(runtime), region_id)
    report = await report_for(runtime, tenants, school_year, as_of, known_on)
    return csv_response(report, region_id, separator, bom)


class ReadableScopes(BaseModel):
    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)
    tenants: list[str] = Field(
        description="Les PRE dont la personne peut lire les chiffres.", alias="pre_ids"
    )
    regions: list[str] = Field(description="Les régions dont elle peut lire les chiffres.")


@router.get(
    "/indicator-scopes",
    response_model=ReadableScopes,
    summary="Les PRE et régions dont la personne peut lire les indicateurs",
    description="Selon ses rôles et son organisation.",
)
async def get_scopes(who: Reader, runtime: Runtime) -> ReadableScopes:
    settings = settings_of(runtime)
    return ReadableScopes(
        tenants=sorted(
            readable_tenants(
                who.roles, who.tenant, who.org, settings.regions, settings.analyst_regions
            )
        ),
        regions=readable_regions(who.roles, who.org, settings.regions, settings.analyst_regions),
    )


class IndicatorDefinition(BaseModel):
    key: str = Field(description="Code stable de l'indicateur.")
    label: str = Field(description="Intitulé de l'indicateur.")
    definition: str = Field(description="Ce qui est compté, et comment.")
    unit: str = Field(description="Unité de la valeur.")
    note: str | None = Field(default=None, description="Précision de lecture.")


@router.get(
    "/indicator-definitions",
    response_model=list[IndicatorDefinition],
    summary="Définitions des indicateurs",
    description="Chaque indicateur publié : son code, son intitulé, sa définition, son unité.",
)
async def get_definitions(who: Reader) -> list[IndicatorDefinition]:
    return [
        IndicatorDefinition(
            key=i.key, label=i.label, definition=i.definition, unit=i.unit, note=i.note
        )
        for i in INDICATORS
    ]
