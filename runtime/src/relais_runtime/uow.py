"""One unit of work: a transaction and the events it writes, the same over HTTP and AMQP.

A use case takes a *factory* of units of work and opens one::

    async def withdraw(uows: UnitOfWorkFactory[Work], ...) -> None:
        async with uows() as uow:
            ...  # reads and writes through uow, then
            await uow.emit(ReferralWithdrawn(...), subject=..., tenant=..., sequence=...)

Over HTTP the factory is ``runtime.unit_of_work``: a pooled connection and a transaction
that commits when the block ends (before the route answers). A unit of work may be scoped
to one tenant (row-level security, ADR 0018: ``tenant=``, its first statement) or run as a
role (``role=``, e.g. a scheduler's sweep across tenants). For a consumed message the
consumer has already opened the transaction (the inbox claim is in it) and
:func:`already_open` hands the handler's :class:`~relais_runtime.consumer.Tx`, itself a
unit of work, to the same use case: the effect and the inbox record commit together.

Causation (ADR 0018, DESIGN.md's ``correlationid`` / ``causationid``): an event emitted
``caused_by`` another continues that event's flow (same correlation id, causation id =
that event's id). Without ``caused_by`` it is caused by the unit's ``cause``, the message
being handled, if there is one; over HTTP there is none and the event starts a new flow
(its correlation id is its own id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TypeVar

import asyncpg

from relais_contracts.base import Message
from relais_contracts.envelope import CloudEvent, new_event
from relais_runtime import outbox
from relais_runtime.db import Conn, run_as, scope_to_tenant

__all__ = ["Emitter", "UnitOfWork", "UnitOfWorkFactory", "already_open", "open_unit_of_work"]

W_co = TypeVar("W_co", covariant=True)
W = TypeVar("W")


class Emitter(Protocol):
    """What a use case needs to write events: the part of a unit of work fakes imitate."""

    async def emit(
        self,
        data: Message,
        *,
        subject: str,
        sequence: int,
        tenant: str | None = None,
        caused_by: CloudEvent[Any] | None = None,
    ) -> CloudEvent[Any]: ...


class UnitOfWorkFactory(Protocol[W_co]):
    """Opens a unit of work: ``async with uows() as uow``."""

    def __call__(self) -> AbstractAsyncContextManager[W_co]: ...


class UnitOfWork:
    """An open transaction (``conn``) and the outbox writer of its events.

    ``held``: a list to hold the events in instead of writing each at once, for an owner
    that writes them all in one statement of its own before (or with) the ``COMMIT``
    (a consumer's ``Tx``, ADR 0026; referral's submission, with its row). They are held
    with the trace context of the moment they were emitted, as ``outbox.add`` writes them.
    """

    def __init__(
        self,
        conn: Conn,
        *,
        source: str,
        cause: CloudEvent[Any] | None = None,
        held: list[CloudEvent[Any]] | None = None,
    ) -> None:
        self.conn = conn
        self.source = source
        #: The message being handled, when the unit runs for one (a consumer).
        self.cause = cause
        #: Events emitted so far, in order (written, or held).
        self.emitted: list[CloudEvent[Any]] = []
        #: Events emitted and not written yet (``None``: each is written when emitted).
        self.held = held

    async def emit(
        self,
        data: Message,
        *,
        subject: str,
        sequence: int,
        tenant: str | None = None,
        caused_by: CloudEvent[Any] | None = None,
    ) -> CloudEvent[Any]:
        """Write an event to the outbox in this transaction (published once it commits),
        or hold it for its owner to write (``held``).

        ``tenant`` defaults to the cause's; an event with neither is refused.
        """
        event = self.event(
            data, subject=subject, sequence=sequence, tenant=tenant, caused_by=caused_by
        )
        if self.held is None:
            await outbox.add(self.conn, event)
        else:
            self.held.extend(outbox.traced(event))
        self.emitted.append(event)
        return event

    def take_held(self) -> list[CloudEvent[Any]]:
        """The events held so far, in the order emitted; the unit holds none after."""
        if self.held is None:
            raise RuntimeError("this unit of work writes its events, it holds none")
        taken, self.held[:] = list(self.held), []
        return taken

    def event(
        self,
        data: Message,
        *,
        subject: str,
        sequence: int,
        tenant: str | None = None,
        caused_by: CloudEvent[Any] | None = None,
    ) -> CloudEvent[Any]:
        """The envelope ``emit`` writes: its causation, correlation and tenant."""
        cause = caused_by or self.cause
        tenant = tenant or (cause.tenant if cause else None)
        if tenant is None:
            raise ValueError("an event needs its tenant (the PRE)")
        return new_event(
            data,
            source=self.source,
            subject=subject,
            tenant=tenant,
            sequence=sequence,
            correlationid=cause.correlationid if cause else None,
            causationid=str(cause.id) if cause else None,
        )


@asynccontextmanager
async def open_unit_of_work(
    pool: asyncpg.Pool,
    *,
    source: str,
    cause: CloudEvent[Any] | None = None,
    tenant: str | None = None,
    role: str | None = None,
) -> AsyncIterator[UnitOfWork]:
    """A connection from ``pool`` and a transaction, committed when the block ends without
    an exception and rolled back otherwise (``ServiceRuntime.unit_of_work``).

    ``tenant`` scopes the transaction to that tenant from its first statement (it sees and
    changes that tenant's rows only); ``role`` runs it as that role (``SET LOCAL ROLE``).
    """
    if tenant is not None and role is not None:
        raise ValueError("a unit of work is scoped to a tenant or runs as a role, not both")
    async with pool.acquire() as conn, conn.transaction():
        if tenant is not None:
            await scope_to_tenant(conn, tenant)
        elif role is not None:
            await run_as(conn, role)
        yield UnitOfWork(conn, source=source, cause=cause)


def already_open(uow: W) -> Callable[[], AbstractAsyncContextManager[W]]:
    """A factory handing out ``uow``, already open: its owner (a consumer, with the inbox
    claim in the same transaction) commits or rolls it back, not the use case."""

    @asynccontextmanager
    async def the_same() -> AsyncIterator[W]:
        yield uow

    return the_same
