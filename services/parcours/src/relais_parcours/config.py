"""Parcours service settings (env prefix ``PARCOURS_``; shared values ``RELAIS_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from relais_runtime.settings import RelaisSettings
from relais_runtime.smtp import SmtpSettings


class ParcoursSettings(SmtpSettings, RelaisSettings):
    model_config = SettingsConfigDict(env_prefix="PARCOURS_")

    service_name: str = "parcours"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/relais_parcours"
    http_port: int = 8002
    #: The role the service's queries run as (its pool SETs ROLE to it): row-level security
    #: applies to it, unlike to the login role that owns the tables (ADR 0018).
    db_role: str = "relais_parcours_app"
    #: The role of sweeps across PREs (schedulers, retention, a letter found by its link),
    #: for their transaction only; a policy of its own lets it through every PRE.
    db_sweep_role: str = "relais_parcours_sweep"
    keys_dir: Path = Field(
        default=Path("var/keys"),
        validation_alias=AliasChoices("PARCOURS_KEYS_DIR", "RELAIS_KEYS_DIR"),
    )
    #: The master key wrapping every subject's data key (base64url of 32 bytes). When
    #: empty, ``<keys_dir>/parcours-master.key`` is used.
    master_key: str = ""
    #: Create the master key file when missing (development); set false in production.
    master_key_create: bool = True
    #: Days the team review has to decide on a new situation.
    review_within_days: int = Field(default=21, ge=1, le=365)
    #: Days a partner has to answer a handover.
    handover_response_days: int = Field(default=14, ge=1, le=365)
    #: Months after exit when the follow-up with the family is due.
    followup_after_months: int = Field(default=6, ge=1, le=36)
    #: Default caseload limit of a référent (a PRE or a person may set their own).
    caseload_limit: int = Field(default=10, ge=1, le=500)
    #: Default maximum duration of a parcours in months (warnings past it).
    max_duration_months: int = Field(default=18, ge=1, le=120)
    #: Idempotency-Keys of the team's creations are kept this long (days), then pruned by
    #: every replica (every ``idempotency_prune_interval_s``, batches of
    #: ``idempotency_prune_batch``). A retry with a pruned key creates again.
    idempotency_retention_days: int = Field(default=30, ge=1)
    idempotency_prune_batch: int = Field(default=1000, ge=1, le=100_000)
    idempotency_prune_interval_s: float = Field(default=3600.0, gt=0)
    #: How often the deadline scheduler looks for due rows.
    scheduler_interval_s: float = Field(default=30.0, gt=0)
    timezone: str = "Europe/Paris"
    #: Days an access letter can be used (once) to open the family space.
    family_letter_days: int = Field(default=30, ge=1, le=365)
    #: Minutes a guardian's session lasts once opened with its letter.
    family_session_minutes: int = Field(default=30, ge=5, le=240)
    #: The family space's page (web service) the letter's link opens, followed by /<link>.
    family_link_base: str = "http://127.0.0.1:8000/famille/lettre"
    #: Create the key that signs guardians' sessions when missing (development).
    family_key_create: bool = True

    # -- notices to families by e-mail: parcours sends them itself (SMTP), so the family's
    # address never leaves the service that holds it (never on the broker); the server's
    # smtp_* settings come from SmtpSettings
    family_mail_from: str = "Relais PRE <ne-pas-repondre@relais.invalid>"
    #: Tries of an e-mail notice (1 min, 5 min, 30 min, 2 h, 6 h apart) before it is left
    #: to the référent, who sees it in the notices to send with why it failed.
    family_mail_attempts: int = Field(default=6, ge=1, le=20)
