"""Referral service settings (env prefix ``REFERRAL_``; shared values ``RELAIS_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from relais_runtime.settings import RelaisSettings


class ReferralSettings(RelaisSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_")

    service_name: str = "referral"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/relais_referral"
    http_port: int = 8001
    #: Where PRE public keys (``<pre_id>.public.jwk.json``) are found, to seal identities.
    keys_dir: Path = Field(
        default=Path("var/keys"),
        validation_alias=AliasChoices("REFERRAL_KEYS_DIR", "RELAIS_KEYS_DIR"),
    )
    #: This service's own secrets (store and blind-index keys per PRE, the intake key);
    #: ``<keys_dir>/referral`` when unset. See ``adapters/keys.py``.
    secrets_dir: Path | None = None
    #: Idempotency-Keys of ``POST /v1/referrals`` are kept this long (days), then pruned by
    #: every replica's maintenance loop (every ``maintenance_interval_s``). A retry with a
    #: pruned key makes a new referral, which the blind index still marks ``known_subject``.
    idempotency_retention_days: int = Field(default=30, ge=1)
    #: Keys deleted per transaction by that pruning (bounded batches, SKIP LOCKED).
    idempotency_prune_batch: int = Field(default=1000, ge=1, le=100_000)

    @property
    def effective_secrets_dir(self) -> Path:
        return self.secrets_dir or self.keys_dir / "referral"
