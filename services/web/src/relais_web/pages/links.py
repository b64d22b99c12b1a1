"""The links notices carry (feed, e-mail, webhook ``link``) open the matching page.

Notifications builds each link as ``<base>/v1/referrals/<id>``, ``/v1/situations/<id>`` or
``/v1/handovers/<id>``; with its bases set to this site (NOTIFICATIONS_REFERRAL_URL and
NOTIFICATIONS_PARCOURS_URL), those paths land here, after sign-in when needed, and go on
to the page of the person's role. The link format, which erasure also relies on, is kept.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.pages.common import apis, see_other, uuid_or_404
from relais_web.session import ForbiddenError, Person

router = APIRouter(prefix="/v1", include_in_schema=False)


@router.get("/referrals/{referral_id}")
async def referral_link(referral_id: str, person: Person) -> Response:
    return see_other(f"/orientations/{uuid_or_404(referral_id)}")


@router.get("/situations/{situation_id}")
async def situation_link(situation_id: str, person: Person) -> Response:
    return see_other(f"/situations/{uuid_or_404(situation_id)}")


@router.get("/handovers/{handover_id}")
async def handover_link(request: Request, handover_id: str, person: Person) -> Response:
    handover_id = uuid_or_404(handover_id)
    if person.has("partner"):
        return see_other(f"/relais/{handover_id}")
    if not person.has("referent", "coordinator"):
        raise ForbiddenError
    # The PRE's staff follow a handover on its situation's page.
    handover = await apis(request).get(person, "parcours", f"/v1/handovers/{handover_id}")
    return see_other(f"/situations/{handover['situation_id']}#relais")
