"""Coalesced acks (acks.py): one multiple ack per run of settled deliveries, never past one
still in hand, never on a tag already acked."""

from __future__ import annotations

import asyncio

import aiormq
import pytest

from relais_runtime.acks import Acks


class FakeChannel:
    """Records the acks written; ``is_closed`` as the test sets it."""

    def __init__(self) -> None:
        self.acks: list[tuple[int, bool]] = []
        self.is_closed = False

    async def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        if self.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError("closed")
        self.acks.append((delivery_tag, multiple))


class FakeMessage:
    def __init__(self, channel: FakeChannel, tag: int) -> None:
        self.channel = channel
        self.delivery_tag = tag


def acked(channel: FakeChannel) -> set[int]:
    """Every tag the acks written so far cover (as the broker counts them)."""
    covered: set[int] = set()
    for tag, multiple in channel.acks:
        assert tag not in covered, f"tag {tag} acked twice: the broker would close the channel"
        covered |= set(range(1, tag + 1)) if multiple else {tag}
    return covered


def settle(acks: Acks, channel: FakeChannel, *tags: int) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(acks.settle(FakeMessage(channel, t))) for t in tags]  # type: ignore[arg-type]


async def test_deliveries_settled_together_leave_in_one_multiple_ack() -> None:
    acks, channel = Acks(), FakeChannel()
    await asyncio.gather(*settle(acks, channel, 3, 1, 2, 4))
    assert channel.acks == [(4, True)]


async def test_no_ack_covers_a_delivery_still_in_hand() -> None:
    acks, channel = Acks(hold_s=60), FakeChannel()
    done = settle(acks, channel, 1, 2, 4, 5)  # 3 is still being handled
    await asyncio.gather(*done[:2])
    assert channel.acks == [(2, True)]
    assert [t.done() for t in done] == [True, True, False, False]  # held behind 3
    await acks.drain()  # (as when the consumer stops: each alone)
    await asyncio.gather(*done)
    assert channel.acks == [(2, True), (4, False), (5, False)]
    assert acked(channel) == {1, 2, 4, 5}
    await asyncio.gather(*settle(acks, channel, 3, 6))
    # The run 3..6 passes over 4 and 5 (acked alone): its ack is on 6, never on a tag the
    # broker no longer holds.
    assert channel.acks[-1] == (6, True)
    assert acked(channel) == {1, 2, 3, 4, 5, 6}


async def test_deliveries_held_behind_one_in_hand_are_acked_alone_after_a_moment() -> None:
    acks, channel = Acks(hold_s=0.01), FakeChannel()
    await asyncio.gather(*settle(acks, channel, 2, 3))  # held behind 1, then acked alone
    await asyncio.gather(*settle(acks, channel, 1))
    assert channel.acks == [(2, False), (3, False), (1, True)]
    assert acked(channel) == {1, 2, 3}


async def test_drain_sends_every_ack_owed_at_once() -> None:
    acks, channel = Acks(hold_s=60), FakeChannel()
    done = settle(acks, channel, 1, 3)
    await asyncio.sleep(0)
    await acks.drain()
    assert acked(channel) == {1, 3}
    await asyncio.gather(*done)


async def test_a_settled_delivery_on_a_closed_channel_is_told_it_was_not_acked() -> None:
    acks, channel = Acks(), FakeChannel()
    channel.is_closed = True
    [task] = settle(acks, channel, 1)
    with pytest.raises(aiormq.exceptions.ChannelInvalidStateError):
        await task
    assert channel.acks == []


async def test_each_channel_has_its_own_tags() -> None:
    """After a reconnect the new channel numbers its deliveries from 1 again."""
    acks, old, new = Acks(), FakeChannel(), FakeChannel()
    await asyncio.gather(*settle(acks, old, 1, 2), *settle(acks, new, 1))
    assert (old.acks, new.acks) == ([(2, True)], [(1, True)])
