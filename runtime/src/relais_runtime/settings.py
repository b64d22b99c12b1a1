"""Settings shared by every service. Each service subclasses with its own env prefix.

Shared values use the ``RELAIS_`` prefix (``RELAIS_AMQP_URL``); a service's own values use
its prefix (``PARCOURS_DATABASE_URL``). Defaults work on a developer machine with local
RabbitMQ (guest/guest on 5672) and PostgreSQL (trust auth on 5432).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RelaisSettings(BaseSettings):
    """Base settings; subclasses set ``model_config = SettingsConfigDict(env_prefix=...)``.

    Fields with a ``RELAIS_`` alias are shared by every service and read only from
    ``RELAIS_<NAME>``; the others from the service's prefix (``PARCOURS_DATABASE_URL``).
    """

    model_config = SettingsConfigDict(env_prefix="RELAIS_", extra="ignore", populate_by_name=True)

    service_name: str = "relais"
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        validation_alias=AliasChoices("RELAIS_AMQP_URL"),
    )
    database_url: str = "postgresql://postgres@127.0.0.1:5432/relais"
    db_pool_min: int = 1
    db_pool_max: int = 10
    prefetch: int = Field(
        default=16, ge=1, le=1000, description="Per-consumer prefetch = concurrency."
    )
    #: Backoff of delayed retries, in milliseconds; a message is parked after the last step.
    retry_delays_ms: list[int] = Field(default_factory=lambda: [1_000, 10_000, 60_000])
    #: Attempts made in-process before a message goes to the first delay step.
    immediate_attempts: int = Field(default=3, ge=1, le=10)
    #: Broker-side backstop (x-delivery-limit) against messages that crash the process.
    delivery_limit: int = Field(default=10, ge=1)
    #: Handled message ids are kept this long (well past any broker redelivery), then pruned.
    inbox_retention_days: int = Field(default=30, ge=1)
    #: How often the maintenance loop prunes the inbox and samples the outbox backlog.
    maintenance_interval_s: float = Field(default=60.0, gt=0)
    #: How often the watchdog checks that every consumer is live (and re-subscribes if not).
    consumer_watchdog_interval_s: float = Field(default=10.0, gt=0)
    outbox_batch_size: int = Field(default=200, ge=1, le=5000)
    outbox_poll_interval_s: float = Field(default=1.0, gt=0)
    jwks_path: Path = Field(
        default=Path("var/keys/jwks.json"),
        validation_alias=AliasChoices("RELAIS_JWKS_PATH"),
    )
    jwt_issuer: str = Field(
        default="relais-dev", validation_alias=AliasChoices("RELAIS_JWT_ISSUER")
    )
    jwt_audience: str = Field(
        default="relais", validation_alias=AliasChoices("RELAIS_JWT_AUDIENCE")
    )
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("RELAIS_LOG_LEVEL"))
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    #: Public base URL of this service, used in links (notifications).
    public_url: str = ""
