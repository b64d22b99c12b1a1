"""Référent forms → API bodies: the family's consent, the plan, a handover."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from relais_web.forms.values import FormValues, many, put, text

PARIS = ZoneInfo("Europe/Paris")


def today() -> date:
    return datetime.now(PARIS).date()


def given_at(day: str) -> str:
    """A consent given on ``day``: now if today, else noon that day (Paris time)."""
    try:
        chosen = date.fromisoformat(day)
    except ValueError:
        return day  # the API names the field and says what it expects
    now = datetime.now(PARIS)
    if chosen == now.date():
        return now.isoformat()
    return datetime(chosen.year, chosen.month, chosen.day, 12, tzinfo=PARIS).isoformat()


def consent_body(form: FormValues, partner_ids: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The consent's body, and which partner each ``scope.N`` of the API's errors is about."""
    body: dict[str, Any] = {"guardians": []}
    put(body, "form", text(form, "form"))
    put(body, "given_at", given_at(text(form, "given_at")) if text(form, "given_at") else "")
    put(body, "valid_until", text(form, "valid_until"))
    put(body, "sole_guardian_reason", text(form, "sole_guardian_reason"))
    put(body, "witness", text(form, "witness"))
    for index in range(2):
        label = text(form, f"guardians.{index}.label")
        if label:
            body["guardians"].append(
                {
                    "label": label,
                    "relationship": text(form, f"guardians.{index}.relationship") or "other",
                }
            )
    scope, order = [], []
    for partner_id in partner_ids:
        categories = many(form, f"scope.{partner_id}")
        if categories:
            scope.append({"partner_id": partner_id, "data_categories": categories})
            order.append(partner_id)
    body["scope"] = scope
    return body, order


def scope_errors(errors: dict[str, str], order: list[str]) -> dict[str, str]:
    """``scope.1.data_categories`` → ``scope.<partner>``: the error beside that partner."""
    out = dict(errors)
    for field, message in errors.items():
        parts = field.split(".")
        if parts[0] == "scope" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(order):
                out.setdefault(f"scope.{order[index]}", message)
    return out


def objective_body(form: FormValues) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key in ("axis", "title", "target_on"):
        put(body, key, text(form, key))
    return body


def action_body(form: FormValues) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key in ("title", "starts_on", "ends_on"):
        put(body, key, text(form, key))
    return body


def handover_body(form: FormValues) -> dict[str, Any]:
    body: dict[str, Any] = {"data_categories": many(form, "data_categories")}
    for key in ("action_id", "partner_id", "message"):
        put(body, key, text(form, key))
    return body
