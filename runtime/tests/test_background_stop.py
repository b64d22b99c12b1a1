"""Stopping a background task that swallowed its first cancellation."""

from __future__ import annotations

import asyncio

import pytest

from relais_runtime.background import cancel_and_wait, running


async def test_a_task_that_swallows_its_first_cancellation_is_still_stopped() -> None:
    # What aio-pika's connect did to the maintenance loop: the CancelledError is caught
    # inside a call, and the loop goes on to sleep; a plain `await task` waited for ever.
    swallowed = asyncio.Event()

    async def stubborn_loop() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed.is_set():
                    raise
                swallowed.set()

    task = asyncio.create_task(stubborn_loop())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task, every_s=0.05), timeout=5)
    assert swallowed.is_set()
    assert task.cancelled()


async def test_a_task_that_already_ended_is_left_as_it_is() -> None:
    task = asyncio.create_task(asyncio.sleep(0))
    await task
    await cancel_and_wait(task)
    assert task.done()
    assert not task.cancelled()


class _Loop:
    def __init__(self, name: str, journal: list[str], *, fails: bool = False) -> None:
        self.name, self.journal, self.fails = name, journal, fails

    def start(self) -> None:
        if self.fails:
            raise RuntimeError(self.name)
        self.journal.append(f"start {self.name}")

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")


async def test_loops_beside_a_service_stop_in_the_reverse_order_they_started() -> None:
    journal: list[str] = []
    async with running(_Loop("scheduler", journal), _Loop("pruner", journal)):
        journal.append("serving")
    assert journal == [
        "start scheduler",
        "start pruner",
        "serving",
        "stop pruner",
        "stop scheduler",
    ]


async def test_a_loop_that_cannot_start_stops_the_ones_started_before_it() -> None:
    journal: list[str] = []
    with pytest.raises(RuntimeError, match="pruner"):
        async with running(_Loop("scheduler", journal), _Loop("pruner", journal, fails=True)):
            journal.append("serving")  # never reached
    assert journal == ["start scheduler", "stop scheduler"]
