"""Real peers on 127.0.0.1 for tests and local trials: a webhook receiver and an SMTP sink.

``WebhookReceiver`` is an HTTP server (uvicorn) that records every request and answers
``status``; ``SmtpSink`` is an in-process SMTP server (aiosmtpd, a development dependency)
that keeps every message it accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from relais_runtime.testing import free_port as free_port  # re-exported for the tests


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    status: int = 200
    #: Seconds to wait before answering (a slow or hanging receiver).
    delay_s: float = 0.0
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/relais"

    async def _handle(self, request: Request) -> Response:
        self.received.append(Received(dict(request.headers), await request.body()))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return Response(status_code=self.status)

    async def start(self) -> None:
        app = Starlette(routes=[Route("/hooks/relais", self._handle, methods=["POST"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, no event
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            with contextlib.suppress(Exception):
                await self._task
        self._server = None
        self._task = None

    async def __aenter__(self) -> WebhookReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def verified(self, secret: str) -> list[Any]:
        """Payloads whose Standard Webhooks signature checks out with ``secret``."""
        from standardwebhooks.webhooks import Webhook

        hook = Webhook(secret)
        return [hook.verify(r.body, r.headers) for r in self.received]


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps what it accepts (optionally with AUTH)."""

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
        rcpt_replies: list[str] | None = None,
        data_delays: list[float] | None = None,
    ) -> None:
        self.port = free_port()
        self.messages: list[Message] = []
        self.envelopes: list[Any] = []
        #: Replies to the next RCPT commands (e.g. ``450 greylisted``), then accept.
        self.rcpt_replies = list(rcpt_replies or [])
        #: Seconds to wait before answering the next DATA commands (a relay that hangs).
        self.data_delays = list(data_delays or [])
        #: DATA commands received, answered or not.
        self.data_received = 0
        self._auth = auth
        self._tls = tls
        self._controller: Any = None

    async def handle_RCPT(
        self, _server: Any, _session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.data_received += 1
        if self.data_delays:
            await asyncio.sleep(self.data_delays.pop(0))
        self.envelopes.append(envelope)
        raw = envelope.original_content or envelope.content
        self.messages.append(message_from_bytes(raw, policy=policy.default))
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        kwargs: dict[str, Any] = {}
        if self._auth is not None:
            user, password = self._auth

            def check(_server: Any, _session: Any, _envelope: Any, _mech: str, data: Any) -> Any:
                from aiosmtpd.smtp import AuthResult

                ok = data.login.decode() == user and data.password.decode() == password
                return AuthResult(success=ok)

            kwargs = {"authenticator": check, "auth_require_tls": self._tls is not None}
            kwargs["auth_required"] = True
        if self._tls is not None:
            # STARTTLS offered and required before MAIL.
            kwargs |= {"tls_context": self._tls, "require_starttls": True}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def receiver_main(argv: list[str] | None = None) -> int:
    """``relais-webhook-receiver``: print each webhook received and whether its signature holds.

    For trying Relais by hand: register ``http://127.0.0.1:<port>/hooks/relais`` with
    ``POST /v1/webhooks``, pass the secret it returns, change a referral's status.
    Answers ``--status`` (e.g. 503 to watch the retries).
    """
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="relais-webhook-receiver")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", default=None, help="whsec_… returned by POST /v1/webhooks")
    parser.add_argument("--status", type=int, default=200)
    args = parser.parse_args(argv)

    class Printing(WebhookReceiver):
        async def _handle(self, request: Request) -> Response:
            body = await request.body()
            headers = dict(request.headers)
            verdict = "signature non vérifiée (pas de --secret)"
            if args.secret:
                from standardwebhooks.webhooks import Webhook, WebhookVerificationError

                try:
                    Webhook(args.secret).verify(body, headers)
                    verdict = "signature valide"
                except WebhookVerificationError:
                    verdict = "SIGNATURE INVALIDE"
            print(f"webhook-id={headers.get('webhook-id')} — {verdict}", flush=True)
            print(json.dumps(json.loads(body), ensure_ascii=False, indent=2), flush=True)
            return Response(status_code=self.status)

    async def run() -> None:
        peer = Printing(status=args.status, port=args.port)
        await peer.start()
        print(f"En écoute sur {peer.url} (Ctrl-C pour arrêter)", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await peer.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0
