"""Who is signed in, read from the signed session cookie, and the errors pages turn into.

The cookie (Starlette's SessionMiddleware, signed with itsdangerous) holds the person's
display name, organisation, PRE, roles, the API access token and a CSRF token. Each page
seen records the time and so re-signs it; a cookie signed longer ago than the idle timeout
is refused: the session ends after that much inactivity, and at the latest when the
access token expires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from relais_web.security import CSRF_FIELD, csrf_matches, new_csrf_token

#: The order in which a person holding several roles gets their home page.
ROLE_PRECEDENCE = ("coordinator", "referent", "institution", "partner", "analyst", "admin")


class SignInRequiredError(Exception):
    """No session, or it ended (idle, token expired or refused by an API)."""


class ForbiddenError(Exception):
    """Signed in, but this page is not for this person's role or organisation."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "forbidden")
        self.message = message


class CsrfError(Exception):
    """A form came without the session's CSRF token (forged, or the session changed)."""


class NotFoundError(Exception):
    """The API does not know this item, or does not show it to this person."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    sub: str
    name: str
    org: str
    org_label: str
    pre: str
    roles: tuple[str, ...]
    token: str
    csrf: str

    @property
    def role(self) -> str:
        return next((r for r in ROLE_PRECEDENCE if r in self.roles), self.roles[0])

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


def start_session(request: Request, *, claims: dict[str, Any], token: str, expires_at: int) -> None:
    """Replace whatever the cookie held (no fixation) by the new person's session."""
    request.session.clear()
    request.session.update(
        {
            "user": claims,
            "token": token,
            "token_exp": expires_at,
            "csrf": new_csrf_token(),
            "seen": int(time.time()),
        }
    )


def signed_in_or_none(request: Request) -> SignedIn | None:
    session = request.session
    user, token = session.get("user"), session.get("token")
    if not isinstance(user, dict) or not isinstance(token, str):
        return None
    now = time.time()
    idle_s = request.app.state.settings.session_idle_minutes * 60
    if int(session.get("token_exp", 0)) <= now or now - float(session.get("seen", now)) > idle_s:
        session.clear()
        return None
    session["seen"] = int(now)  # re-signs the cookie: the idle timeout starts again
    return SignedIn(
        sub=str(user.get("sub", "")),
        name=str(user.get("name", "")),
        org=str(user.get("org", "")),
        org_label=str(user.get("org_label", "")),
        pre=str(user.get("pre", "")),
        roles=tuple(user.get("roles", ())),
        token=token,
        csrf=str(session.get("csrf", "")),
    )


async def signed_in(request: Request) -> SignedIn:
    person = signed_in_or_none(request)
    if person is None:
        raise SignInRequiredError
    request.state.person = person
    return person


Person = Annotated[SignedIn, Depends(signed_in)]


def require_role(*roles: str) -> Any:
    """Dependency: the signed-in person holds one of ``roles``, else the French 403 page."""

    async def dependency(person: Person) -> SignedIn:
        if not person.has(*roles):
            raise ForbiddenError
        return person

    return Depends(dependency)


async def checked_form(request: Request, person: Person) -> dict[str, str | list[str]]:
    """The posted form once its CSRF token matches the session's; lists for repeated keys."""
    form = await request.form()
    if not csrf_matches(person.csrf, str(form.get(CSRF_FIELD, ""))):
        raise CsrfError
    values: dict[str, str | list[str]] = {}
    for key in form:
        if key == CSRF_FIELD:
            continue
        items = [v for v in form.getlist(key) if isinstance(v, str)]
        values[key] = items if len(items) > 1 else (items[0] if items else "")
    return values


Form = Annotated[dict[str, str | list[str]], Depends(checked_form)]
