"""HTTP routes of the reporting service: aggregated indicators only, never rows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from relais_reporting.adapters import store
from relais_reporting.config import ReportingSettings
from relais_reporting.domain.indicators import NEW_REFERRALS, suppress
from relais_reporting.domain.periods import school_year_bounds
from relais_runtime.app import get_runtime
from relais_runtime.auth import Principal, require_roles
from relais_runtime.errors import DomainError
from relais_runtime.runtime import ServiceRuntime

router = APIRouter(prefix="/v1")

Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]
Reader = Annotated[Principal, Depends(require_roles("analyst", "coordinator"))]


class IndicatorValue(BaseModel):
    key: str
    label: str
    definition: str
    value: int | None
    suppressed: bool


class IndicatorSet(BaseModel):
    pre_id: str
    school_year: str
    indicators: list[IndicatorValue]


@router.get("/indicators", response_model=IndicatorSet, summary="Indicateurs du PRE")
async def get_indicators(
    who: Reader,
    runtime: Runtime,
    school_year: Annotated[str, Query(pattern=r"^\d{4}-\d{4}$", examples=["2026-2027"])],
) -> IndicatorSet:
    try:
        school_year_bounds(school_year)
    except ValueError:
        raise DomainError(
            "invalid_school_year", "Année scolaire invalide : attendu par exemple 2026-2027.", 422
        ) from None
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    async with runtime.pool.acquire() as conn:
        referrals = await store.referrals_in_year(conn, who.pre, school_year)
    value = suppress(referrals, settings.small_cell_threshold)
    return IndicatorSet(
        pre_id=who.pre,
        school_year=school_year,
        indicators=[
            IndicatorValue(
                key=NEW_REFERRALS.key,
                label=NEW_REFERRALS.label,
                definition=NEW_REFERRALS.definition,
                value=value,
                suppressed=value is None,
            )
        ],
    )
