"""The family's pages: open the space with a letter, read it, withdraw, ask, choose.

No account: ``/famille/lettre/<random link>`` asks for the letter's code, then every page
is ``/famille/...`` with nothing identifying in it; the session is the guardian's token in
the signed cookie (see :mod:`relais_web.family.session`). Texts are in the family's
language (its choice, else parcours's pick from the guardian's ``languages``); any page
takes ``?langue=xx`` to switch.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import RedirectResponse, Response

from relais_runtime.logging import get_logger
from relais_web.api import ApiError
from relais_web.family import api, i18n
from relais_web.family import session as family_session
from relais_web.family.session import (
    FamilyCsrfError,
    FamilyForm,
    FamilySessionEndedError,
    GuardianSession,
    TooManyAttemptsError,
    language_of,
    letter_csrf,
    set_language,
)
from relais_web.security import CSRF_FIELD, csrf_matches

log = get_logger(__name__)
router = APIRouter(prefix="/famille", include_in_schema=False)

Langue = Query(default=None, max_length=5)
DOCUMENTS = ("consent_form", "ledger", "plan")


def render(
    request: Request, template: str, language: str, status_code: int = 200, **context: Any
) -> Response:
    return i18n.templates(language).TemplateResponse(
        request,
        f"family/{template}",
        {"path": request.url.path, **context},
        status_code=status_code,
    )


def _language(request: Request, langue: str | None, *fallbacks: str | None) -> str:
    if langue in i18n.LANGUAGES:
        set_language(request, str(langue))
    return i18n.pick([language_of(request), *fallbacks])


# --- opening the space with a letter ------------------------------------------------------


@router.get("/lettre/{link}")
async def letter(request: Request, link: str, langue: str | None = Langue) -> Response:
    language = _language(request, langue)
    return render(request, "letter.html", language, csrf=letter_csrf(request), refusal=None)


@router.post("/lettre/{link}")
async def open_space(request: Request, link: str) -> Response:
    form = await request.form()
    language = _language(request, None)
    if not csrf_matches(request.session.get("family_letter_csrf"), str(form.get(CSRF_FIELD, ""))):
        raise FamilyCsrfError
    client = request.client.host if request.client else "unknown"
    request.app.state.family_attempts.check(client)
    try:
        opened = await api.open_session(request, link, str(form.get("code", "")))
    except ApiError as refused:
        # The code form again (a typo) or, for a letter that opens nothing any more, the
        # French sentence saying to ask for a new one; never what the letter would open.
        return render(
            request,
            "letter.html",
            language,
            status_code=refused.status if refused.status in (401, 403, 422) else 400,
            csrf=letter_csrf(request),
            refusal=_refusal(refused),
        )
    family_session.start(request, opened["access_token"], int(opened["expires_in"]))
    return RedirectResponse("/famille", status_code=303)


def _refusal(refused: ApiError) -> dict[str, Any]:
    known = refused.code in i18n.REFUSALS
    return {
        "code": refused.code,
        "french": refused.message if refused.code != "validation_failed" else None,
        "msgid": i18n.REFUSALS.get(refused.code),
        "final": known and refused.code not in ("letter_unknown", "code_wrong"),
    }


@router.post("/sortie")
async def leave(request: Request, form: FamilyForm) -> Response:
    family_session.end(request)
    return render(request, "left.html", i18n.pick([language_of(request)]))


# --- the space ----------------------------------------------------------------------------


async def _space(request: Request, who: family_session.Guardian, langue: str | None) -> Any:
    space = await api.call(request, who, "GET", "/v1/family/space")
    return space, _language(request, langue, space.get("language"))


@router.get("")
async def home(
    request: Request, who: GuardianSession, langue: str | None = Langue, fait: str | None = None
) -> Response:
    space, language = await _space(request, who, langue)
    return render(request, "space.html", language, s=space, who=who, active="home", done=fait)


@router.get("/registre")
async def ledger(request: Request, who: GuardianSession, langue: str | None = Langue) -> Response:
    space, language = await _space(request, who, langue)
    return render(request, "ledger.html", language, s=space, who=who, active="ledger")


@router.get("/retrait")
async def confirm_withdrawal(
    request: Request,
    who: GuardianSession,
    partenaire: str | None = Query(default=None, max_length=100),
    langue: str | None = Langue,
) -> Response:
    space, language = await _space(request, who, langue)
    return _withdrawal_page(request, space, language, who, partenaire, None)


def _withdrawal_page(
    request: Request,
    space: Any,
    language: str,
    who: family_session.Guardian,
    partner_id: str | None,
    error: ApiError | None,
) -> Response:
    partners = (space.get("consent") or {}).get("partners") or []
    partner = next((p for p in partners if p["partner_id"] == partner_id), None)
    return render(
        request,
        "withdraw.html",
        language,
        status_code=error.status if error else 200,
        s=space,
        who=who,
        active="home",
        partner=partner,
        error=error,
    )


@router.post("/retrait")
async def withdraw(request: Request, who: GuardianSession, form: FamilyForm) -> Response:
    partner_id = form.get("partner_id") or None
    try:
        await api.call(
            request, who, "POST", "/v1/family/consent/withdrawal", {"partner_id": partner_id}
        )
    except ApiError as refused:
        space, language = await _space(request, who, None)
        return _withdrawal_page(request, space, language, who, partner_id, refused)
    return RedirectResponse("/famille?fait=retrait", status_code=303)


async def _form_page(
    request: Request,
    who: family_session.Guardian,
    page: str,
    *,
    langue: str | None = None,
    done: str | None = None,
    error: ApiError | None = None,
    **context: Any,
) -> Response:
    """A page of the space with a form (``<page>.html``, its tab active), sent back with a 422
    and the refusal when parcours refused what it sent."""
    space, language = await _space(request, who, langue)
    return render(
        request,
        f"{page}.html",
        language,
        status_code=422 if error else 200,
        s=space,
        who=who,
        active=page,
        done=done,
        error=error,
        **context,
    )


@router.get("/demandes")
async def requests_page(
    request: Request, who: GuardianSession, langue: str | None = Langue, fait: str | None = None
) -> Response:
    return await _form_page(request, who, "requests", langue=langue, done=fait, values={})


@router.post("/demandes")
async def make_request(request: Request, who: GuardianSession, form: FamilyForm) -> Response:
    body = {"kind": form.get("kind", ""), "details": form.get("details", "").strip()}
    try:
        await api.call(request, who, "POST", "/v1/family/requests", body)
    except ApiError as refused:
        return await _form_page(request, who, "requests", error=refused, values=body)
    return RedirectResponse("/famille/demandes?fait=demande", status_code=303)


@router.get("/preferences")
async def preferences_page(
    request: Request, who: GuardianSession, langue: str | None = Langue, fait: str | None = None
) -> Response:
    return await _form_page(request, who, "preferences", langue=langue, done=fait)


@router.post("/preferences")
async def save_preferences(request: Request, who: GuardianSession, form: FamilyForm) -> Response:
    language = form.get("language") if form.get("language") in i18n.LANGUAGES else None
    body = {"language": language, "channel": form.get("channel") or None}
    try:
        await api.call(request, who, "PUT", "/v1/family/preferences", body)
    except ApiError as refused:
        return await _form_page(request, who, "preferences", error=refused)
    if language:
        set_language(request, language)
    return RedirectResponse("/famille/preferences?fait=preferences", status_code=303)


@router.get("/documents/{kind}")
async def document(request: Request, kind: str, who: GuardianSession) -> Response:
    if kind not in DOCUMENTS:
        return render(request, "ended.html", "fr", status_code=404, reason=None)
    content = await api.document(request, who, kind)
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{kind}.pdf"'},
    )


# --- what goes wrong -----------------------------------------------------------------------


def install(app: FastAPI, *, attempts_per_address: int, window_s: float) -> None:
    app.state.family_attempts = family_session.AttemptLimiter(attempts_per_address, window_s)
    app.include_router(router)

    @app.exception_handler(FamilySessionEndedError)
    async def ended(request: Request, exc: FamilySessionEndedError) -> Response:
        family_session.end(request)
        return render(
            request,
            "ended.html",
            i18n.pick([language_of(request)]),
            status_code=401 if exc.code == "session_ended" else 403,
            reason={"french": exc.message, "msgid": i18n.REFUSALS.get(exc.code)},
        )

    @app.exception_handler(FamilyCsrfError)
    async def csrf(request: Request, exc: FamilyCsrfError) -> Response:
        log.info("family form refused: csrf token missing or wrong", path=request.url.path)
        return render(request, "csrf.html", i18n.pick([language_of(request)]), status_code=403)

    @app.exception_handler(TooManyAttemptsError)
    async def too_many(request: Request, exc: TooManyAttemptsError) -> Response:
        log.info("family letter attempts limited")
        response = render(
            request, "too_many.html", i18n.pick([language_of(request)]), status_code=429
        )
        response.headers["Retry-After"] = str(int(window_s))
        return response
