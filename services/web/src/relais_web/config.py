"""Settings of the web pages (``WEB_`` prefix; the API base URLs and ``RELAIS_ENV`` shared).

Outside ``dev``/``test`` the session secret and the OpenID client secret must be given:
the service refuses to start with a development default rather than sign cookies with it.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from relais_runtime.settings import RelaisSettings, service_url

Environment = Literal["dev", "test", "production"]

#: Where `npm ci` (scripts/lib.sh) puts the State design system, beside this package's sources.
_DSFR_DIST = Path(__file__).resolve().parents[2] / "node_modules" / "@gouvfr" / "dsfr" / "dist"


class WebSettings(RelaisSettings):
    model_config = SettingsConfigDict(env_prefix="WEB_", extra="ignore", populate_by_name=True)

    service_name: str = "web"
    http_port: int = 8000
    env: Environment = Field(default="production", validation_alias=AliasChoices("RELAIS_ENV"))

    # -- the four APIs the pages call with the signed-in person's token: WEB_<API>_URL (in a
    # cluster, the internal address) or else the shared RELAIS_<API>_URL
    referral_url: str = service_url("WEB_", "referral")
    parcours_url: str = service_url("WEB_", "parcours")
    notifications_url: str = service_url("WEB_", "notifications")
    reporting_url: str = service_url("WEB_", "reporting")
    api_timeout_s: float = Field(default=10.0, gt=0)

    # -- OpenID Connect (authorization code + PKCE)
    oidc_discovery_url: str = "http://127.0.0.1:8010/.well-known/openid-configuration"
    oidc_client_id: str = "relais-web"
    oidc_client_secret: str = ""
    #: Organisation, PRE and roles are read from the ID token with the same mapping the
    #: services apply to access tokens (RELAIS_CLAIM_ORG/_PRE/_ROLES, RELAIS_ROLE_MAP).
    oidc_scope: str = "openid profile"

    # -- session cookie (signed, HttpOnly, SameSite=Lax; Secure outside dev/test)
    session_secret: str = ""
    session_cookie: str = "relais_session"
    #: The session ends after this much inactivity (each page seen re-signs the cookie).
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)

    dsfr_dir: Path = _DSFR_DIST

    # -- the family's pages: letters tried per client address (parcours locks a letter
    # after five wrong codes; this bounds how many letters one address may try)
    family_attempts_per_address: int = Field(default=20, ge=1)
    family_attempts_window_s: float = Field(default=900.0, gt=0)

    @property
    def is_dev(self) -> bool:
        return self.env in ("dev", "test")

    @model_validator(mode="after")
    def _secrets_outside_dev(self) -> WebSettings:
        missing = [
            name
            for name, value in (
                ("WEB_SESSION_SECRET", self.session_secret),
                ("WEB_OIDC_CLIENT_SECRET", self.oidc_client_secret),
            )
            if not value
        ]
        if missing and not self.is_dev:
            raise ValueError(f"{', '.join(missing)} must be set outside RELAIS_ENV=dev/test")
        if not self.session_secret:
            # Dev only: sessions end when the process restarts, which is fine there.
            self.session_secret = secrets.token_urlsafe(32)
        if not self.oidc_client_secret:
            self.oidc_client_secret = DEV_CLIENT_SECRET
        return self


#: The dev provider's client secret for relais-web (never valid outside dev/test).
DEV_CLIENT_SECRET = "relais-web-dev-secret"  # noqa: S105
