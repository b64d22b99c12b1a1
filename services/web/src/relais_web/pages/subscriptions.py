"""Notices by e-mail: a person's and their organisation's subscriptions (notifications API),
each notice as it happens or gathered in a daily digest."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.api import ApiError
from relais_web.forms.values import FormValues, many, text
from relais_web.pages.common import apis, render_form, see_other, uuid_or_404
from relais_web.session import Form, SignedIn, require_role

router = APIRouter(prefix="/notifications/abonnements", include_in_schema=False)
#: Everyone who gets notices (the analyst's indicators are anonymous: no notice).
Subscriber = require_role("institution", "coordinator", "referent", "partner")

#: The notified event types (the notifications service's ``NOTIFIED_TYPES``), in plain words.
EVENT_TYPES: Final = (
    ("fr.relais.referral.status_changed.v1", "Une orientation change de statut"),
    ("fr.relais.referral.submit_rejected.v1", "Une fiche envoyée par un logiciel est refusée"),
    ("fr.relais.situation.opened.v1", "Une situation est ouverte"),
    ("fr.relais.situation.referral_attached.v1", "Une orientation rejoint une situation"),
    ("fr.relais.referent.assigned.v1", "Un·e référent·e est désigné·e"),
    ("fr.relais.handover.requested.v1", "Un relais est demandé à un partenaire"),
    ("fr.relais.handover.accepted.v1", "Un relais est accepté"),
    ("fr.relais.handover.waitlisted.v1", "Un relais est mis en liste d'attente"),
    ("fr.relais.handover.declined.v1", "Un relais est refusé"),
    ("fr.relais.handover.completed.v1", "Un relais est terminé"),
    ("fr.relais.handover.cancelled.v1", "Un relais est annulé"),
    ("fr.relais.deadline.overdue.v1", "Une échéance est dépassée"),
    ("fr.relais.followup.due.v1", "Un entretien de suivi à six mois est dû"),
)
CHANNEL: Final = {"email": "E-mail", "amqp": "File AMQP", "webhook": "Webhook"}
FOR_WHOM: Final = (("me", "Pour moi seulement"), ("org", "Pour toute mon organisation"))
RHYTHM: Final = (
    ("each", "À chaque notification"),
    ("digest", "Un récapitulatif par jour"),
)


def event_label(event_type: str) -> str:
    return dict(EVENT_TYPES).get(event_type, event_type)


def subscription_body(form: FormValues) -> dict[str, Any]:
    return {
        "channel": "email",
        "email": text(form, "email") or None,
        "personal": text(form, "for_whom") != "org",
        "digest": text(form, "rhythm") == "digest",
        "event_types": many(form, "event_types"),
        "language": "fr",
    }


async def _page(
    request: Request,
    person: SignedIn,
    *,
    values: FormValues | None = None,
    error: ApiError | None = None,
    done: str = "",
) -> Response:
    page = await apis(request).get(person, "notifications", "/v1/subscriptions", {"limit": 200})
    return render_form(
        request,
        "notices/subscriptions.html",
        person,
        error,
        active="notifications",
        subscriptions=page["items"],
        values=values or {"for_whom": "me", "rhythm": "each"},
        done=done,
        EVENT_TYPES=EVENT_TYPES,
        CHANNEL=CHANNEL,
        FOR_WHOM=FOR_WHOM,
        RHYTHM=RHYTHM,
        event_label=event_label,
    )


@router.get("")
async def subscriptions(
    request: Request, fait: str = "", person: SignedIn = Subscriber
) -> Response:
    return await _page(request, person, done=fait)


@router.post("")
async def subscribe(request: Request, form: Form, person: SignedIn = Subscriber) -> Response:
    try:
        await apis(request).call(
            person, "POST", "notifications", "/v1/subscriptions", json=subscription_body(form)
        )
    except ApiError as error:
        return await _page(request, person, values=form, error=error)
    return see_other("/notifications/abonnements?fait=ajoute")


@router.post("/{subscription_id}/suppression")
async def unsubscribe(
    request: Request, subscription_id: str, form: Form, person: SignedIn = Subscriber
) -> Response:
    subscription_id = uuid_or_404(subscription_id)
    try:
        await apis(request).call(
            person, "DELETE", "notifications", f"/v1/subscriptions/{subscription_id}"
        )
    except ApiError as error:
        return await _page(request, person, error=error)
    return see_other("/notifications/abonnements?fait=supprime")
