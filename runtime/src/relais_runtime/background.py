"""A loop every replica runs beside its consumers (schedulers, maintenance)."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from typing import ClassVar


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
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @abstractmethod
    async def _run(self) -> None:
        """The loop itself; runs until the task is cancelled."""
