"""A référent whose login differs from its référent id hears of its situations there."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.test_parcours_flow import COORDINATION, Flow

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

LOGIN = "camille.idp-42"


async def test_a_referent_signed_in_with_its_own_login_is_told_of_its_assignment(
    stack_factory: Any,
) -> None:
    stack = await stack_factory(services=["referral", "parcours", "notifications"])
    async with httpx.AsyncClient(timeout=10) as http:
        flow = Flow(stack, http)
        await flow.set_up()
        # The identity provider's subject is not the référent id.
        await flow.call(
            "PUT",
            f"/v1/referents/{flow.referent_id}",
            flow.coordinator,
            json={"display_name": "Camille, référente", "user_sub": LOGIN},
        )
        flow.referent = {
            "Authorization": "Bearer " + stack.token("referent", COORDINATION, sub=LOGIN)
        }
        _, situation_id = await flow.take_up()
        await flow.until_feed(flow.referent, "referent.assigned.v1")
        detail = await flow.call("GET", f"/v1/situations/{situation_id}", flow.referent)
        assert detail["referent_id"] == flow.referent_id
