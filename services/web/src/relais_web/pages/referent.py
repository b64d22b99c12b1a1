"""Référent pages (coordinators see them too): « Mes situations » and the situation page,
the only page that shows a child's identity, with consent, plan and handovers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.api import ApiError
from relais_web.forms import situation as forms
from relais_web.forms.values import FormValues, text
from relais_web.pages.common import apis, field_errors, render, render_form, see_other, uuid_or_404
from relais_web.pages.family_staff import changes_by_family
from relais_web.session import Form, SignedIn, require_role

router = APIRouter(include_in_schema=False)
Team = require_role("referent", "coordinator")


@router.get("/situations")
async def my_situations(request: Request, etape: str = "", person: SignedIn = Team) -> Response:
    stage = etape or "in_parcours"
    page = await apis(request).get(
        person, "parcours", "/v1/situations", {"stage": stage, "limit": 200}
    )
    return render(
        request,
        "referent/list.html",
        person,
        active="situations",
        items=page["items"],
        stage=stage,
    )


async def situation_page(
    request: Request,
    person: SignedIn,
    situation_id: str,
    *,
    failed: str = "",
    values: FormValues | None = None,
    errors: dict[str, str] | None = None,
    error: ApiError | None = None,
) -> Response:
    """Everything the référent works with; ``failed`` names the form an API refused."""
    api = apis(request)
    situation = await api.get(person, "parcours", f"/v1/situations/{situation_id}")
    consents = await api.get(person, "parcours", f"/v1/situations/{situation_id}/consents")
    handovers = await api.get(
        person, "parcours", "/v1/handovers", {"situation_id": situation_id, "limit": 200}
    )
    plan: dict[str, Any] = {"objectives": []}
    if situation["stage"] == "in_parcours" or situation.get("closed_at"):
        plan = await api.get(person, "parcours", f"/v1/situations/{situation_id}/plan")
    partners = await api.get(person, "parcours", "/v1/partners")
    referents = await api.get(person, "parcours", "/v1/referents")
    identity = next(
        (r["identity"] for r in reversed(situation["referrals"]) if r.get("identity")), None
    )
    active = next((c for c in consents if c["status"] == "active"), None)
    return render_form(
        request,
        "referent/situation.html",
        person,
        error,
        active="situations",
        s=situation,
        identity=identity,
        consents=consents,
        consent=active,
        plan=plan,
        handovers={h["action_id"]: h for h in handovers["items"] if h.get("action_id")},
        all_handovers=handovers["items"],
        partners=partners,
        partner_options=[(p["id"], p["name"]) for p in partners],
        partner_names={p["id"]: p["name"] for p in partners},
        family_changes=changes_by_family(consents, partners),
        withdraw_options=[(g["label"], g["label"]) for g in (active or {}).get("guardians", [])],
        today=forms.today().isoformat(),
        referent_names={r["id"]: r["display_name"] for r in referents},
        failed=failed,
        values=values,
        errors=errors if errors is not None else field_errors(error),
    )


@router.get("/situations/{situation_id}")
async def situation(request: Request, situation_id: str, person: SignedIn = Team) -> Response:
    return await situation_page(request, person, uuid_or_404(situation_id))


async def post_form(
    request: Request,
    person: SignedIn,
    situation_id: str,
    failed: str,
    form: FormValues,
    *,
    path: str,
    body: dict[str, Any],
    anchor: str,
    map_errors: Callable[[dict[str, str]], dict[str, str]] = lambda e: e,
) -> Response:
    """POST ``body`` to parcours (with the form's Idempotency-Key, if any); on a refusal the
    situation page again, the ``failed`` form open with its errors and what was typed."""
    try:
        await apis(request).call(
            person,
            "POST",
            "parcours",
            path,
            json=body,
            idempotency_key=text(form, "idempotency_key") or None,
        )
    except ApiError as error:
        return await situation_page(
            request,
            person,
            situation_id,
            failed=failed,
            values=form,
            errors=map_errors(field_errors(error)),
            error=error,
        )
    return see_other(f"/situations/{situation_id}#{anchor}")


@router.post("/situations/{situation_id}/accord")
async def record_consent(
    request: Request, situation_id: str, form: Form, person: SignedIn = Team
) -> Response:
    situation_id = uuid_or_404(situation_id)
    partners = await apis(request).get(person, "parcours", "/v1/partners")
    body, order = forms.consent_body(form, [p["id"] for p in partners])
    return await post_form(
        request,
        person,
        situation_id,
        "consent",
        form,
        path=f"/v1/situations/{situation_id}/consents",
        body=body,
        anchor="accord",
        map_errors=lambda errors: forms.scope_errors(errors, order),
    )


@router.post("/situations/{situation_id}/accord/{consent_id}/retrait")
async def withdraw_consent(
    request: Request, situation_id: str, consent_id: str, form: Form, person: SignedIn = Team
) -> Response:
    situation_id, consent_id = uuid_or_404(situation_id), uuid_or_404(consent_id)
    return await post_form(
        request,
        person,
        situation_id,
        "withdrawal",
        form,
        path=f"/v1/situations/{situation_id}/consents/{consent_id}/withdrawal",
        body={"guardian": text(form, "guardian")},
        anchor="accord",
    )


@router.post("/situations/{situation_id}/objectifs")
async def add_objective(
    request: Request, situation_id: str, form: Form, person: SignedIn = Team
) -> Response:
    situation_id = uuid_or_404(situation_id)
    return await post_form(
        request,
        person,
        situation_id,
        f"objective-{text(form, 'axis')}",
        form,
        path=f"/v1/situations/{situation_id}/plan/objectives",
        body=forms.objective_body(form),
        anchor=f"axe-{text(form, 'axis')}",
    )


@router.post("/situations/{situation_id}/objectifs/{objective_id}/actions")
async def add_action(
    request: Request, situation_id: str, objective_id: str, form: Form, person: SignedIn = Team
) -> Response:
    situation_id, objective_id = uuid_or_404(situation_id), uuid_or_404(objective_id)
    return await post_form(
        request,
        person,
        situation_id,
        f"action-{objective_id}",
        form,
        path=f"/v1/situations/{situation_id}/plan/objectives/{objective_id}/actions",
        body=forms.action_body(form),
        anchor=f"objectif-{objective_id}",
    )


@router.post("/situations/{situation_id}/relais")
async def hand_over(
    request: Request, situation_id: str, form: Form, person: SignedIn = Team
) -> Response:
    situation_id = uuid_or_404(situation_id)
    return await post_form(
        request,
        person,
        situation_id,
        f"handover-{text(form, 'action_id')}",
        form,
        path=f"/v1/situations/{situation_id}/handovers",
        body=forms.handover_body(form),
        anchor="relais",
    )


@router.get("/situations/{situation_id}/communications")
async def disclosure_ledger(
    request: Request, situation_id: str, person: SignedIn = Team
) -> Response:
    """Who saw what, when: printable, to hand to the family."""
    situation_id = uuid_or_404(situation_id)
    api = apis(request)
    ledger = await api.get(person, "parcours", f"/v1/situations/{situation_id}/disclosures")
    consents = await api.get(person, "parcours", f"/v1/situations/{situation_id}/consents")
    partners = await api.get(person, "parcours", "/v1/partners")
    return render(
        request,
        "referent/ledger.html",
        person,
        partner_names={p["id"]: p["name"] for p in partners},
        active="situations",
        situation_id=situation_id,
        ledger=ledger,
        consents=consents,
    )
