"""A loop every replica runs beside its consumers (schedulers, maintenance)."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar, Protocol


async def cancel_and_wait(task: asyncio.Task[Any], *, every_s: float = 0.5) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling again while it runs on.

    One cancellation is not always enough: a library that catches ``CancelledError`` while
    connecting (seen with aio-pika's connect in the maintenance loop) lets the task carry on
    to its next ``sleep`` and loop for ever, and a plain ``await task`` then never returns.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=every_s)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()


class Startable(Protocol):
    """Something a service runs beside its consumers: started at once, stopped awaited."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


@asynccontextmanager
async def running(*loops: Startable) -> AsyncIterator[None]:
    """Start ``loops`` in order and stop the started ones in reverse, however the block ends
    (a loop that depends on an earlier one never outlives it)."""
    started: list[Startable] = []
    try:
        for loop in loops:
            loop.start()
            started.append(loop)
        yield
    finally:
        for loop in reversed(started):
            await loop.stop()


class BackgroundLoop(ABC):
    """``start`` runs ``_run`` as a task; ``stop`` cancels it and waits for it to end.

    Subclasses name the task and write ``_run`` (which loops until cancelled); work that
    several replicas share claims its rows with ``SKIP LOCKED``.
    """

    task_name: ClassVar[str]

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    @abstractmethod
    async def _run(self) -> None:
        """The loop itself; runs until the task is cancelled."""
