"""An organisation's webhooks and the log of what was sent to it (notifications API).

A webhook's signing secret is shown once, on the page that answers its creation or its
rotation (never in a URL, never stored here); the page is ``no-store`` like every other.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.api import ApiError
from relais_web.forms.values import FormValues, many, text
from relais_web.pages.common import apis, field_errors, render, render_form, see_other, uuid_or_404
from relais_web.pages.subscriptions import CHANNEL, EVENT_TYPES, event_label
from relais_web.session import Form, SignedIn, require_role

router = APIRouter(prefix="/notifications", include_in_schema=False)
#: Organisations that may plug their own software in: schools, partners, the PRE.
Owner = require_role("institution", "coordinator", "partner")

DELIVERY_STATUS: Final = {
    "pending": "En attente",
    "sending": "En cours d'envoi",
    "delivered": "Remis",
    "failed": "Échec",
    "digested": "Gardé pour le récapitulatif",
    "in_digest": "Envoyé dans un récapitulatif",
}
FAILURE: Final = {
    "timeout": "Pas de réponse à temps",
    "connection_error": "Connexion impossible",
    "http_error": "Réponse en erreur",
    "rejected": "Refusé par le destinataire",
    "invalid_endpoint": "Adresse qui n'existe plus (410)",
    "endpoint_disabled": "Abandonné : webhook désactivé après des échecs répétés",
    "endpoint_deleted": "Abandonné : webhook supprimé",
    "unroutable": "Aucune file AMQP pour l'organisation",
    "other": "Autre erreur",
}


def _labels() -> dict[str, Any]:
    return {
        "EVENT_TYPES": EVENT_TYPES,
        "DELIVERY_STATUS": DELIVERY_STATUS,
        "FAILURE": FAILURE,
        "CHANNEL": CHANNEL,
        "event_label": event_label,
    }


def _url_errors(error: ApiError | None) -> dict[str, str]:
    errors = field_errors(error)
    if error is not None and error.code.startswith("webhook_url"):
        errors.setdefault("url", error.message)  # refused without a field: it is the URL's
    return errors


async def _list_page(
    request: Request,
    person: SignedIn,
    *,
    values: FormValues | None = None,
    error: ApiError | None = None,
    done: str = "",
) -> Response:
    page = await apis(request).get(person, "notifications", "/v1/webhooks", {"limit": 200})
    return render_form(
        request,
        "notices/webhooks.html",
        person,
        error,
        active="notifications",
        webhooks=page["items"],
        values=values,
        errors=_url_errors(error),
        done=done,
        **_labels(),
    )


@router.get("/webhooks")
async def webhooks(request: Request, fait: str = "", person: SignedIn = Owner) -> Response:
    return await _list_page(request, person, done=fait)


@router.post("/webhooks")
async def add_webhook(request: Request, form: Form, person: SignedIn = Owner) -> Response:
    body = {"url": text(form, "url"), "event_types": many(form, "event_types"), "language": "fr"}
    try:
        created = await apis(request).call(
            person, "POST", "notifications", "/v1/webhooks", json=body
        )
    except ApiError as error:
        return await _list_page(request, person, values=form, error=error)
    return render(
        request,
        "notices/webhook_secret.html",
        person,
        status_code=201,
        active="notifications",
        hook_id=created["id"],
        url=created["url"],
        secret=created["secret"],
        previous_until=None,
        created=True,
    )


async def _detail_page(
    request: Request, person: SignedIn, hook_id: str, *, error: ApiError | None = None
) -> Response:
    api = apis(request)
    hook = await api.get(person, "notifications", f"/v1/webhooks/{hook_id}")
    attempts = await api.get(
        person, "notifications", f"/v1/webhooks/{hook_id}/attempts", {"limit": 100}
    )
    return render_form(
        request,
        "notices/webhook.html",
        person,
        error,
        active="notifications",
        hook=hook,
        attempts=attempts["items"],
        **_labels(),
    )


@router.get("/webhooks/{hook_id}")
async def webhook(request: Request, hook_id: str, person: SignedIn = Owner) -> Response:
    return await _detail_page(request, person, uuid_or_404(hook_id))


@router.post("/webhooks/{hook_id}/cle")
async def rotate_secret(
    request: Request, hook_id: str, form: Form, person: SignedIn = Owner
) -> Response:
    hook_id = uuid_or_404(hook_id)
    try:
        rotated = await apis(request).call(
            person, "POST", "notifications", f"/v1/webhooks/{hook_id}/secret"
        )
    except ApiError as error:
        return await _detail_page(request, person, hook_id, error=error)
    hook = await apis(request).get(person, "notifications", f"/v1/webhooks/{hook_id}")
    return render(
        request,
        "notices/webhook_secret.html",
        person,
        active="notifications",
        hook_id=hook_id,
        url=hook["url"],
        secret=rotated["secret"],
        previous_until=rotated["previous_secret_valid_until"],
        created=False,
    )


@router.post("/webhooks/{hook_id}/reactivation")
async def enable(request: Request, hook_id: str, form: Form, person: SignedIn = Owner) -> Response:
    hook_id = uuid_or_404(hook_id)
    try:
        await apis(request).call(person, "POST", "notifications", f"/v1/webhooks/{hook_id}/enable")
    except ApiError as error:
        return await _detail_page(request, person, hook_id, error=error)
    return see_other(f"/notifications/webhooks/{hook_id}")


@router.post("/webhooks/{hook_id}/suppression")
async def delete(request: Request, hook_id: str, form: Form, person: SignedIn = Owner) -> Response:
    hook_id = uuid_or_404(hook_id)
    try:
        await apis(request).call(person, "DELETE", "notifications", f"/v1/webhooks/{hook_id}")
    except ApiError as error:
        return await _detail_page(request, person, hook_id, error=error)
    return see_other("/notifications/webhooks?fait=supprime")


@router.get("/envois")
async def deliveries(request: Request, statut: str = "", person: SignedIn = Owner) -> Response:
    """What was sent to the organisation (e-mail, AMQP, webhooks), failures first to read."""
    status = statut if statut in DELIVERY_STATUS else ""
    page = await apis(request).get(
        person, "notifications", "/v1/deliveries", {"status": status, "limit": 200}
    )
    return render(
        request,
        "notices/deliveries.html",
        person,
        active="notifications",
        deliveries=page["items"],
        status=status,
        **_labels(),
    )
