"""Another service's URL in a service's settings: its own name first, then the shared one."""

from __future__ import annotations

import pytest
from pydantic_settings import SettingsConfigDict

from relais_runtime.settings import RelaisSettings, service_url


class CallerSettings(RelaisSettings):
    model_config = SettingsConfigDict(env_prefix="CALLER_")

    parcours_url: str = service_url("CALLER_", "parcours")
    reporting_url: str = service_url("CALLER_", "reporting")


def test_a_service_url_is_the_callers_own_then_the_shared_one_then_the_developers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELAIS_PARCOURS_URL", "http://parcours.shared")
    monkeypatch.setenv("RELAIS_REPORTING_URL", "http://reporting.shared")
    monkeypatch.setenv("CALLER_REPORTING_URL", "http://reporting.internal")

    settings = CallerSettings()

    assert settings.parcours_url == "http://parcours.shared"
    assert settings.reporting_url == "http://reporting.internal"
    monkeypatch.delenv("RELAIS_PARCOURS_URL")
    assert CallerSettings().parcours_url == "http://127.0.0.1:8002"
