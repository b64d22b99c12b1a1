"""A référent's notifications reach the login it signs in with, not its référent id."""

from __future__ import annotations

import pytest

from relais_contracts.v1.parcours import HandoverAccepted, ReferentAssigned, ReferentRegistered

from .conftest import ServiceFactory, eventually
from .samples import example

pytestmark = pytest.mark.integration

REFERENT = "c4d9e2f1-6a3b-4c8d-9e0f-1a2b3c4d5e6f"  # the samples' référent
TEAM = "pre-76540-equipe"


async def test_a_referents_notifications_reach_the_login_it_signs_in_with(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    await service.publish(example(ReferentRegistered, user_sub="camille.idp-42"))

    async def known() -> bool:
        return bool(await service.fetch("SELECT 1 FROM referent_logins"))

    await eventually(known)
    await service.publish(example(ReferentAssigned))
    camille = service.token("referent", TEAM, sub="camille.idp-42")

    async def kinds(headers: dict[str, str]) -> list[str]:
        body = (await service.http.get("/v1/feed", headers=headers)).json()
        return [i["kind"] for i in body["items"]]

    async def arrived() -> bool:
        return "fr.relais.referent.assigned.v1" in await kinds(camille)

    await eventually(arrived)
    # Nobody signs in as the référent id: nothing waits there.
    assert await kinds(service.token("referent", TEAM, sub=REFERENT)) == []


async def test_what_a_referent_got_before_its_login_was_known_follows_its_login(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    # Before any referent.registered (or re-ordered after it): addressed by référent id.
    await service.publish(example(HandoverAccepted))
    by_id = service.token("referent", TEAM, sub=REFERENT)

    async def count(headers: dict[str, str]) -> int:
        return len((await service.http.get("/v1/feed", headers=headers)).json()["items"])

    async def one_by_id() -> bool:
        return await count(by_id) == 1

    await eventually(one_by_id)
    await service.publish(example(ReferentRegistered, user_sub="camille"), sequence=1)
    camille = service.token("referent", TEAM, sub="camille")

    async def moved_to(headers: dict[str, str]) -> bool:
        return await count(headers) == 1

    await eventually(lambda: moved_to(camille))
    assert await count(by_id) == 0
    # The login changes: the feed follows it; an older change arriving late is ignored.
    await service.publish(example(ReferentRegistered, user_sub="camille-2027"), sequence=3)
    renamed = service.token("referent", TEAM, sub="camille-2027")
    await eventually(lambda: moved_to(renamed))
    await service.publish(example(ReferentRegistered, user_sub="camille-old"), sequence=2)
    await service.publish(example(ReferentAssigned))

    async def assigned_to_new_login() -> bool:
        return await count(renamed) == 2

    await eventually(assigned_to_new_login)
    assert await count(camille) == 0
    assert await count(service.token("referent", TEAM, sub="camille-old")) == 0
