"""A consumer's acks, coalesced: one ``basic.ack multiple`` for a run of settled deliveries
(docs/decisions/0025).

A message is *settled* once its outcome is safe (its transaction committed, or its copy
in a delay or parking queue was confirmed by the broker): only then may it be acked.
``settle`` does not send the ack at once: the acks of the messages settled in the same
round of the event loop (a batch that committed, messages handled side by side) leave
together in the next round, as one ``basic.ack`` with ``multiple`` on the highest tag of
the run of consecutive settled deliveries that follows the last tag acked.

Why that is safe: the broker numbers a channel's deliveries 1, 2, 3... and the consumer's
channel carries this one consumer only, so a run of consecutive tags that were all
settled holds every message the multiple ack covers; a delivery still in hand (being
handled, waiting for a retry, left unsettled after a failure) breaks the run, and no ack
ever covers it. A settled delivery behind such a gap waits for it at most ``hold_s``,
then is acked alone: a slow message holds the others' prefetch slots that long at most.
A multiple ack is always on a tag not acked yet (the broker closes the channel on an ack
of a tag it does not hold): a run ending with tags acked alone is acked on its highest
settled tag.

``settle`` returns once the ack is written to the socket (or raises if it could not be:
the channel closed, and the message will be delivered again), as ``message.ack()`` did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import aiormq.abc
import structlog
from aio_pika.abc import AbstractIncomingMessage

log = structlog.get_logger("relais.consumer")


class _Window:
    """Settled deliveries of one channel not acked yet, and the last tag acked in a run."""

    def __init__(self, channel: aiormq.abc.AbstractChannel) -> None:
        self.channel = channel
        #: Every tag up to this one is acked (by a multiple ack, or alone).
        self.base = 0
        #: Settled, not acked: tag -> the future its ``settle`` waits on.
        self.settled: dict[int, asyncio.Future[None]] = {}
        #: Tags above ``base`` acked alone (so a later run may pass over them).
        self.acked_alone: set[int] = set()
        self.hold_timer: asyncio.TimerHandle | None = None


class Acks:
    """Coalesces the acks of one consumer's deliveries (see the module's docstring)."""

    def __init__(self, *, hold_s: float = 0.005) -> None:
        self.hold_s = hold_s
        self._windows: dict[aiormq.abc.AbstractChannel, _Window] = {}
        self._flush_scheduled = False
        #: Acks being written (their tasks), so ``drain`` can wait for them.
        self._writing: set[asyncio.Task[None]] = set()

    async def settle(self, message: AbstractIncomingMessage) -> None:
        """Ack ``message`` with the others settled meanwhile; return once its ack is written."""
        tag = message.delivery_tag
        channel = message.channel  # raises if the channel is closed: nothing to ack on
        if tag is None:  # a message consumed without acks
            return
        window = self._windows.get(channel)
        if window is None:
            window = self._windows[channel] = _Window(channel)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        window.settled[tag] = done
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        await done

    async def drain(self) -> None:
        """Send every ack owed now (held ones alone) and wait until they are written."""
        self._flush_scheduled = False
        for window in list(self._windows.values()):
            self._flush_window(window, hold_expired=True)
        if self._writing:
            await asyncio.wait(set(self._writing))

    def _flush(self) -> None:
        self._flush_scheduled = False
        for window in list(self._windows.values()):
            self._flush_window(window, hold_expired=False)

    def _release_held(self, window: _Window) -> None:
        window.hold_timer = None
        self._flush_window(window, hold_expired=True)

    def _flush_window(self, window: _Window, *, hold_expired: bool) -> None:
        if window.channel.is_closed:
            # Gone with its unacked deliveries: the broker delivers them again.
            del self._windows[window.channel]
            if window.hold_timer is not None:
                window.hold_timer.cancel()
            error = aiormq.exceptions.ChannelInvalidStateError("the channel closed")
            _finish(window.settled.values(), error)
            return
        top = window.base
        # The multiple ack goes on the run's highest settled tag: the broker refuses (and
        # closes the channel for) an ack on a tag it no longer holds, one acked alone.
        highest = 0
        run: list[asyncio.Future[None]] = []
        while True:
            following = top + 1
            if following in window.settled:
                run.append(window.settled.pop(following))
                highest = following
            elif following in window.acked_alone:
                window.acked_alone.discard(following)
            else:
                break
            top = following
        window.base = top
        if run:
            self._write(window.channel, highest, True, run)
        if not window.settled:
            return
        if hold_expired:
            # Behind a delivery still in hand: each alone, since no run can cover them.
            for tag, done in sorted(window.settled.items()):
                window.acked_alone.add(tag)
                self._write(window.channel, tag, False, [done])
            window.settled.clear()
        elif window.hold_timer is None:
            window.hold_timer = asyncio.get_running_loop().call_later(
                self.hold_s, self._release_held, window
            )

    def _write(
        self,
        channel: aiormq.abc.AbstractChannel,
        tag: int,
        multiple: bool,
        settled: list[asyncio.Future[None]],
    ) -> None:
        async def write() -> None:
            try:
                await channel.basic_ack(tag, multiple=multiple)
            except Exception as exc:
                _finish(settled, exc)
            else:
                _finish(settled, None)

        task = asyncio.create_task(write())
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)


def _finish(futures: Iterable[asyncio.Future[None]], error: BaseException | None) -> None:
    for done in futures:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
