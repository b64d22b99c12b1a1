"""Notifications service settings (env prefix ``NOTIFICATIONS_``; shared ``RELAIS_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from relais_runtime.settings import RelaisSettings, service_url
from relais_runtime.smtp import SmtpSettings


class NotificationsSettings(SmtpSettings, RelaisSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_")

    service_name: str = "notifications"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/relais_notifications"
    http_port: int = 8003
    #: Public URLs of the services that links in messages point to.
    referral_url: str = service_url("NOTIFICATIONS_", "referral")
    parcours_url: str = service_url("NOTIFICATIONS_", "parcours")

    # --- e-mail (SMTP): the smtp_* fields come from SmtpSettings -------------------------
    mail_from: str = "Relais <ne-pas-repondre@relais.invalid>"

    # --- webhooks ---------------------------------------------------------------------------
    webhook_timeout_s: float = 10.0
    #: Consecutive failed attempts after which an endpoint is disabled and its owner told.
    webhook_disable_after: int = Field(default=10, ge=1)
    #: Allow http:// and private addresses for webhook URLs (development and tests only).
    webhook_allow_insecure: bool = False
    #: After a secret rotation, deliveries are signed with the previous secret too for
    #: this long, so receivers can switch without refusing anything; 0: switch at once.
    webhook_secret_grace_hours: float = Field(default=24.0, ge=0)

    # --- dispatcher -------------------------------------------------------------------------
    #: Seconds between attempts after each failure; given up after the last one.
    delivery_backoff_s: list[float] = Field(
        default_factory=lambda: [10.0, 60.0, 300.0, 1800.0, 7200.0, 21600.0]
    )
    dispatch_interval_s: float = Field(default=1.0, gt=0)
    dispatch_batch: int = Field(default=50, ge=1, le=1000)
    #: How long a claimed delivery stays ours; a process dying mid-send frees it after this.
    delivery_lease_s: float = Field(default=60.0, gt=0)

    # --- reminders --------------------------------------------------------------------------
    #: How long a deadline may stay overdue after the first reminder before the
    #: coordinators are told.
    escalate_after_hours: float = Field(default=72.0, gt=0)
    #: Hour (PRE time zone) at which daily e-mail digests go out.
    digest_hour: int = Field(default=7, ge=0, le=23)
    timezone: str = "Europe/Paris"
