"""Who is signed in, read from the signed session cookie, and the errors pages turn into.

The cookie (Starlette's SessionMiddleware, signed with itsdangerous) holds the person's
display name, organisation, PRE, roles, the API access token, the provider's refresh
token when it gives one, and a CSRF token. Each page seen records the time and so
re-signs it; a cookie signed longer ago than the idle timeout is refused: the session ends
after that much inactivity, whatever the tokens. An access token near its end is renewed
with the refresh token before a page uses it; without one (or when the provider refuses
it) the session ends with the access token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from authlib.integrations.base_client import OAuthError
from fastapi import Depends, Request
from httpx import HTTPError

from relais_runtime.logging import get_logger
from relais_web.security import CSRF_FIELD, csrf_matches, new_csrf_token

log = get_logger(__name__)

#: The name the OpenID provider is registered under in the app's Authlib registry.
PROVIDER = "relais"
#: An access token this close to its end is renewed before a page calls an API with it.
REFRESH_MARGIN_S = 30

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
    tenant: str
    roles: tuple[str, ...]
    token: str
    csrf: str

    @property
    def role(self) -> str:
        return next((r for r in ROLE_PRECEDENCE if r in self.roles), self.roles[0])

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


def start_session(
    request: Request,
    *,
    claims: dict[str, Any],
    token: str,
    expires_at: int,
    refresh_token: str | None = None,
) -> None:
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
    if refresh_token:
        request.session["refresh"] = refresh_token


def _live(request: Request, now: float) -> bool:
    """A session is there and was used within the idle timeout (its tokens aside)."""
    session = request.session
    if not isinstance(session.get("user"), dict) or not isinstance(session.get("token"), str):
        return False
    idle_s: float = request.app.state.settings.session_idle_minutes * 60
    return now - float(session.get("seen", now)) <= idle_s


def _token_fresh(request: Request, now: float, margin_s: float = 0) -> bool:
    return int(request.session.get("token_exp", 0)) - margin_s > now


def signed_in_or_none(request: Request) -> SignedIn | None:
    """The person, if their session is live and its access token valid (no network).

    A live session whose token has expired is left as it is: :func:`signed_in`, on the next
    page that needs the person, renews the token with the refresh token.
    """
    now = time.time()
    if not _live(request, now):
        request.session.clear()
        return None
    if not _token_fresh(request, now):
        return None
    return _person(request, now)


async def renew_access_token(request: Request) -> bool:
    """Exchange the session's refresh token for a new access token (Authlib), in place."""
    refresh = request.session.get("refresh")
    if not isinstance(refresh, str):
        return False
    provider = request.app.state.oauth.create_client(PROVIDER)
    try:
        token = await provider.fetch_access_token(grant_type="refresh_token", refresh_token=refresh)
    except OAuthError as exc:
        log.info("session not renewed: the provider refused the refresh token", error=exc.error)
        return False
    except HTTPError as exc:
        log.warning("session not renewed: provider unreachable", error=type(exc).__name__)
        return False
    request.session["token"] = token["access_token"]
    request.session["token_exp"] = expiry_of(token)
    if token.get("refresh_token"):  # a provider that rotates them hands a new one
        request.session["refresh"] = token["refresh_token"]
    log.info("session renewed")
    return True


def expiry_of(token: dict[str, Any]) -> int:
    """When a token response's access token ends (``expires_at``, else now + ``expires_in``)."""
    return int(token.get("expires_at") or time.time() + int(token.get("expires_in", 0)))


def _person(request: Request, now: float) -> SignedIn:
    session = request.session
    user, token = session["user"], session["token"]
    session["seen"] = int(now)  # re-signs the cookie: the idle timeout starts again
    return SignedIn(
        sub=str(user.get("sub", "")),
        name=str(user.get("name", "")),
        org=str(user.get("org", "")),
        org_label=str(user.get("org_label", "")),
        tenant=str(user.get("pre", "")),
        roles=tuple(user.get("roles", ())),
        token=token,
        csrf=str(session.get("csrf", "")),
    )


async def signed_in(request: Request) -> SignedIn:
    now = time.time()
    if not _live(request, now):
        request.session.clear()
        raise SignInRequiredError
    renewed = _token_fresh(request, now, REFRESH_MARGIN_S) or await renew_access_token(request)
    if not renewed and not _token_fresh(request, time.time()):
        # Not renewed: a token still valid serves until its end, an expired one ends it.
        request.session.clear()
        raise SignInRequiredError
    person = _person(request, now)
    request.state.person = person
    return person


async def signed_in_if_any(request: Request) -> SignedIn | None:
    """For pages open to all (the home page): the person, their token renewed if need be."""
    try:
        return await signed_in(request)
    except SignInRequiredError:
        return None


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
