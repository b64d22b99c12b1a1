"""One way for use cases to write events, whether called over HTTP or from a consumer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from relais_contracts.base import Message
from relais_contracts.envelope import CloudEvent
from relais_runtime.consumer import Tx
from relais_runtime.db import Conn
from relais_runtime.runtime import ServiceRuntime


class Emitter(Protocol):
    @property
    def conn(self) -> Conn: ...

    async def __call__(
        self,
        data: Message,
        *,
        subject: str,
        tenant: str,
        sequence: int,
        caused_by: CloudEvent[Any] | None = None,
    ) -> CloudEvent[Any]: ...


@dataclass
class RuntimeEmitter:
    """HTTP use cases: events start a new flow (or follow one emitted just before)."""

    runtime: ServiceRuntime
    conn: Conn

    async def __call__(
        self,
        data: Message,
        *,
        subject: str,
        tenant: str,
        sequence: int,
        caused_by: CloudEvent[Any] | None = None,
    ) -> CloudEvent[Any]:
        return await self.runtime.emit(
            self.conn,
            data,
            subject=subject,
            tenant=tenant,
            sequence=sequence,
            correlationid=caused_by.correlationid if caused_by else None,
            causationid=str(caused_by.id) if caused_by else None,
        )


@dataclass
class TxEmitter:
    """Consumers: events are caused by the incoming message (correlation carried over)."""

    tx: Tx

    @property
    def conn(self) -> Conn:
        return self.tx.conn

    async def __call__(
        self,
        data: Message,
        *,
        subject: str,
        tenant: str,
        sequence: int,
        caused_by: CloudEvent[Any] | None = None,
    ) -> CloudEvent[Any]:
        return await self.tx.emit(data, subject=subject, sequence=sequence, tenant=tenant)
