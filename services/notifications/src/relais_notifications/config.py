"""Notifications service settings (env prefix ``NOTIFICATIONS_``; shared ``RELAIS_``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from relais_runtime.settings import RelaisSettings


class NotificationsSettings(RelaisSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_")

    service_name: str = "notifications"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/relais_notifications"
    http_port: int = 8003
    #: Public URLs of the services that links in messages point to.
    referral_url: str = Field(
        default="http://127.0.0.1:8001",
        validation_alias=AliasChoices("NOTIFICATIONS_REFERRAL_URL", "RELAIS_REFERRAL_URL"),
    )
    parcours_url: str = Field(
        default="http://127.0.0.1:8002",
        validation_alias=AliasChoices("NOTIFICATIONS_PARCOURS_URL", "RELAIS_PARCOURS_URL"),
    )
