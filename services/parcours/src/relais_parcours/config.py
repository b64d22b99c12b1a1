"""Parcours service settings (env prefix ``PARCOURS_``; shared values ``RELAIS_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from relais_runtime.settings import RelaisSettings


class ParcoursSettings(RelaisSettings):
    model_config = SettingsConfigDict(env_prefix="PARCOURS_")

    service_name: str = "parcours"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/relais_parcours"
    http_port: int = 8002
    keys_dir: Path = Field(
        default=Path("var/keys"),
        validation_alias=AliasChoices("PARCOURS_KEYS_DIR", "RELAIS_KEYS_DIR"),
    )
    #: Days the team review has to decide on a new situation.
    review_within_days: int = Field(default=21, ge=1, le=365)
    timezone: str = "Europe/Paris"
