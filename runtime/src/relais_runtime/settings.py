"""Settings shared by every service. Each service subclasses with its own env prefix.

Shared values use the ``RELAIS_`` prefix (``RELAIS_AMQP_URL``); a service's own values use
its prefix (``PARCOURS_DATABASE_URL``). Defaults work on a developer machine with local
RabbitMQ (guest/guest on 5672) and PostgreSQL (trust auth on 5432).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Where each service listens on a developer machine.
DEV_PORTS = {"referral": 8001, "parcours": 8002, "notifications": 8003, "reporting": 8004}


def service_url(prefix: str, service: str) -> Any:
    """A field holding another service's base URL: ``<PREFIX><SERVICE>_URL`` (a caller's own
    address for it, such as a cluster's internal one), else the shared ``RELAIS_<SERVICE>_URL``,
    else the developer machine's."""
    name = f"{service.upper()}_URL"
    return Field(
        default=f"http://127.0.0.1:{DEV_PORTS[service]}",
        validation_alias=AliasChoices(f"{prefix}{name}", f"RELAIS_{name}"),
    )


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
    #: A child's data is erased this long after its last contact (relais_runtime.retention).
    retention_months: int = Field(
        default=24, ge=1, le=120, validation_alias=AliasChoices("RELAIS_RETENTION_MONTHS")
    )
    #: Per-PRE periods, JSON: {"pre-76540": 24, "pre-14118": 36}.
    retention_months_by_pre: dict[str, int] = Field(
        default_factory=dict, validation_alias=AliasChoices("RELAIS_RETENTION_MONTHS_BY_PRE")
    )
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
    #: While outbox rows fail to publish, one summary line this often (plus one line when
    #: it starts and one when every row went out), instead of a line per row and attempt.
    outbox_outage_summary_s: float = Field(default=60.0, gt=0)
    #: Intake refuses new work (HTTP 503 + Retry-After; AMQP intake stops taking commands)
    #: while the oldest outbox row the relay has not yet tried is older than this: work
    #: accepted then would reach the other services only that much later. 0 never refuses.
    #: Rows already tried (broker down, unroutable) do not count: absorbing a broker
    #: outage is what the outbox is for, and /ready reports the broker.
    outbox_max_lag_s: float = Field(default=5.0, ge=0)
    #: How often that lag is measured (also exported as relais_outbox_lag_seconds).
    outbox_lag_check_interval_s: float = Field(default=0.5, gt=0)
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
    #: A town's OpenID provider (``https://sso.ville.example/realms/relais``): when set,
    #: staff tokens are verified with its discovered keys instead of ``jwks_path``.
    oidc_issuer: str = Field(default="", validation_alias=AliasChoices("RELAIS_OIDC_ISSUER"))
    oidc_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "PS256", "ES256", "EdDSA", "Ed25519"],
        validation_alias=AliasChoices("RELAIS_OIDC_ALGORITHMS"),
    )
    #: At most one fetch of the provider's keys per this many seconds (unknown kids).
    oidc_jwks_min_refresh_s: float = Field(
        default=60.0, ge=0, validation_alias=AliasChoices("RELAIS_OIDC_JWKS_MIN_REFRESH_S")
    )
    #: Keys older than this are fetched again even if every kid is known.
    oidc_jwks_max_age_s: float = Field(
        default=3600.0, gt=0, validation_alias=AliasChoices("RELAIS_OIDC_JWKS_MAX_AGE_S")
    )
    oidc_http_timeout_s: float = Field(
        default=5.0, gt=0, validation_alias=AliasChoices("RELAIS_OIDC_HTTP_TIMEOUT_S")
    )
    #: Claims carrying organisation, PRE and roles; dotted paths reach nested claims
    #: (Keycloak: ``realm_access.roles``).
    claim_org: str = Field(default="org", validation_alias=AliasChoices("RELAIS_CLAIM_ORG"))
    claim_pre: str = Field(default="pre", validation_alias=AliasChoices("RELAIS_CLAIM_PRE"))
    claim_roles: str = Field(default="roles", validation_alias=AliasChoices("RELAIS_CLAIM_ROLES"))
    #: Provider role name -> Relais role (JSON). When set, only mapped names count.
    role_map: dict[str, str] = Field(
        default_factory=dict, validation_alias=AliasChoices("RELAIS_ROLE_MAP")
    )
    #: Parcours signs guardians' session tokens under this issuer (never a staff issuer).
    family_issuer: str = Field(
        default="relais-family", validation_alias=AliasChoices("RELAIS_FAMILY_ISSUER")
    )
    family_jwks_path: Path = Field(
        default=Path("var/keys/family/jwks.json"),
        validation_alias=AliasChoices("RELAIS_FAMILY_JWKS_PATH"),
    )
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("RELAIS_LOG_LEVEL"))
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    #: Larger request bodies are refused (413) before being read.
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: Seconds an HTTP request waits for a database connection before answering 503
    #: ``database_busy`` with Retry-After (0: no bound). Consumers are not bounded.
    http_db_wait_s: float = Field(default=5.0, ge=0)
    #: Public base URL of this service, used in links (notifications).
    public_url: str = ""
