"""The guardian's session: a short parcours token kept in the signed cookie, nothing else.

A letter's link and code open it (parcours checks them and signs a ``guardian`` token for
one situation); the cookie then holds that token, its expiry, a CSRF token and the chosen
language — no name, no situation id. Opening it clears whatever the cookie held (a staff
session on a shared computer included); it ends when the token expires, after the idle
timeout, on « Quitter », or as soon as parcours refuses the token (letter revoked).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from relais_web.family import i18n
from relais_web.security import CSRF_FIELD, csrf_matches, new_csrf_token

KEY = "family"


class FamilySessionEndedError(Exception):
    """No guardian session, or it ended; ``code`` is parcours's reason when it gave one."""

    def __init__(self, code: str = "session_ended", message: str | None = None) -> None:
        super().__init__(code)
        self.code, self.message = code, message


class FamilyCsrfError(Exception):
    """A family form came without the session's CSRF token."""


class TooManyAttemptsError(Exception):
    """Too many letters tried from this address lately."""


@dataclass(frozen=True, slots=True)
class Guardian:
    token: str
    csrf: str
    language: str | None


def language_of(request: Request) -> str | None:
    """The language the person chose on these pages (before and after opening a session)."""
    chosen = request.session.get("family_lang")
    return chosen if chosen in i18n.LANGUAGES else None


def set_language(request: Request, language: str) -> None:
    if language in i18n.LANGUAGES:
        request.session["family_lang"] = language


def letter_csrf(request: Request) -> str:
    """The CSRF token of the code form, before any session exists (no login CSRF)."""
    token = request.session.get("family_letter_csrf")
    if not isinstance(token, str):
        token = new_csrf_token()
        request.session["family_letter_csrf"] = token
    return token


def start(request: Request, token: str, expires_in: int) -> None:
    """Replace whatever the cookie held (no fixation) by the guardian's session."""
    language = language_of(request)
    request.session.clear()
    request.session[KEY] = {
        "token": token,
        "exp": int(time.time()) + expires_in,
        "csrf": new_csrf_token(),
        "seen": int(time.time()),
    }
    if language:
        request.session["family_lang"] = language


def end(request: Request) -> None:
    language = language_of(request)
    request.session.clear()
    if language:
        request.session["family_lang"] = language


def current(request: Request) -> Guardian:
    data = request.session.get(KEY)
    if not isinstance(data, dict) or not isinstance(data.get("token"), str):
        raise FamilySessionEndedError
    now = time.time()
    idle_s = request.app.state.settings.session_idle_minutes * 60
    if int(data.get("exp", 0)) <= now or now - float(data.get("seen", now)) > idle_s:
        end(request)
        raise FamilySessionEndedError
    data["seen"] = int(now)
    request.session[KEY] = data  # re-signs the cookie: the idle timeout starts again
    return Guardian(
        token=data["token"], csrf=str(data.get("csrf", "")), language=language_of(request)
    )


async def guardian(request: Request) -> Guardian:
    return current(request)


GuardianSession = Annotated[Guardian, Depends(guardian)]


async def checked_form(request: Request, who: GuardianSession) -> dict[str, str]:
    form = await request.form()
    if not csrf_matches(who.csrf, str(form.get(CSRF_FIELD, ""))):
        raise FamilyCsrfError
    return {k: str(v) for k, v in form.items() if k != CSRF_FIELD and isinstance(v, str)}


FamilyForm = Annotated[dict[str, str], Depends(checked_form)]


class AttemptLimiter:
    """At most ``limit`` letters tried per client address in ``window_s`` seconds.

    Parcours locks a letter after five wrong codes; this stops one address from trying
    many letters' links. In memory, per process: a restart forgets, a replica counts alone.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._seen: dict[str, deque[float]] = {}

    def check(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        recent = self._seen.setdefault(client, deque())
        while recent and recent[0] <= now - self.window_s:
            recent.popleft()
        if len(recent) >= self.limit:
            raise TooManyAttemptsError
        recent.append(now)
        if len(self._seen) > 10_000:  # forget the quiet ones rather than grow for ever
            for key in [k for k, v in self._seen.items() if not v or v[-1] <= now - self.window_s]:
                del self._seen[key]
