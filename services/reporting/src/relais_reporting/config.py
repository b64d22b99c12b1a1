"""Reporting service settings (env prefix ``REPORTING_``; shared ``RELAIS_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from relais_runtime.settings import RelaisSettings


class ReportingSettings(RelaisSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_")

    service_name: str = "reporting"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/relais_reporting"
    http_port: int = 8004
    #: Counts below this are suppressed so no figure can single out a child.
    small_cell_threshold: int = Field(default=5, ge=1)
    #: Regions (networks of PRE): ``{"normandie": ["pre-76540", "pre-14118"]}`` as JSON.
    regions: dict[str, list[str]] = Field(default_factory=dict)
    #: Which regions each analyst organisation (the token's ``org``) may read, as JSON:
    #: ``{"reseau-pre-normandie": ["normandie"]}``. See docs/decisions/0005.
    analyst_regions: dict[str, list[str]] = Field(default_factory=dict)
