"""The citizen pages: login, logout, the consent screen (for /oauth/authorize) and "My data" (/me).

Server-rendered, no JavaScript. Names the tests and any automation rely on: login fields
``username`` and ``password``; consent checkboxes ``scope`` (value: the scope name); buttons
``decision`` = ``allow`` / ``deny``; a hidden ``csrf_token`` in every form.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.datastructures import URL, FormData, QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from auth import consent, registry
from auth import export as data_export
from auth.audit import access_log
from auth.clients import Client
from auth.consent import Consent, ConsentError, ConsentEvent, ConsentStatus
from auth.login import CitizenAuthenticator
from auth.scopes import CATALOGUE
from auth.throttle import LoginLimits, LoginThrottle, TooManyAttempts
from auth.web import i18n
from auth.web.csrf import FIELD as CSRF_FIELD
from auth.web.csrf import check_csrf, csrf_token
from auth.web.errors import WebError
from auth.web.session import current_citizen, login, logout
from telemetry import metrics

if TYPE_CHECKING:
    from auth.oidc.relying_party import RelyingParty

log = logging.getLogger("cardhub.web")

TEMPLATES = Path(__file__).parent / "templates"
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# China has one time zone and no daylight saving time.
CHINA_TIME = timezone(timedelta(hours=8))
DEFAULT_NEXT = "/me"
ACCESS_LOG_LENGTH = 100
NOTICE_KEY = "notice"
MAX_FORM_FIELDS = 20
# A path on this site: one leading slash, then printable ASCII without a backslash. Rules out
# "//evil.example" and "/\evil.example" (both mean another host to a browser), "https://...",
# and tabs or newlines, which browsers strip before resolving ("/\t/evil.example").
_SAFE_NEXT = re.compile(r"/(?![/\\])[!-\[\]-~]*")

# Every page: no scripts at all, no framing (a consent screen in a hidden frame is clickjacking),
# nothing cached (pages show personal data), no referrer to other sites. No form-action directive:
# Chrome applies it to the redirect after the consent form too, which must reach the app.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_RESERVED_FIELDS = frozenset({CSRF_FIELD, "scope", "decision"})


def safe_next(value: object, default: str = DEFAULT_NEXT) -> str:
    """``value`` if it is a path on this site (starts with one ``/``), else ``default``: no open redirect."""
    if isinstance(value, str) and len(value) <= 2048 and _SAFE_NEXT.fullmatch(value):
        return value
    return default


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page in the citizen's language, with the session's CSRF token and the security headers."""
    lang = i18n.choose_language(request)
    t = i18n.Translator(lang)
    citizen = current_citizen(request)
    notice = request.session.pop(NOTICE_KEY, None)
    # The switch links reload this page in the other language; a page answering a POST (an error, a
    # failed login) cannot be reloaded by a link, so they go to a page that can.
    base = context.pop("lang_base", None) or (
        request.url if request.method in ("GET", "HEAD") else URL("/me" if citizen else "/login")
    )
    html = _env.get_template(template).render(
        t=t,
        lang=lang,
        csrf_token=csrf_token(request),
        signed_in=citizen is not None,
        masked_card=_masked(citizen),
        lang_links=[
            {"code": code, "name": i18n.NATIVE_NAMES[code], "current": code == lang, "href": _relative(base, lang=code)}
            for code in i18n.LANGUAGES
        ],
        notice=_notice_view(t, notice),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def render_consent(
    request: Request,
    *,
    client: Client,
    requested: frozenset[str],
    already: frozenset[str],
    hidden: Mapping[str, str],
    action: str,
) -> HTMLResponse:
    """The consent screen, for /oauth/authorize to return.

    Lists the requested scopes in catalogue order: ordinary ones checked, sensitive ones (health,
    housing_fund) in their own marked group and unchecked, those in ``already`` shown as granted
    and not asked again. The form POSTs to ``action``: ``hidden`` (the OAuth request parameters),
    ``csrf_token``, each checked ``scope``, and ``decision`` = ``allow`` or ``deny``. Scopes not in
    the catalogue are not shown, so they cannot be granted from this form.
    """
    clash = _RESERVED_FIELDS & hidden.keys()
    if clash:
        raise ValueError(f"hidden fields {sorted(clash)} would be confused with the consent form's own")
    shown = [s for s in CATALOGUE if s.name in requested]
    asking = [s for s in shown if s.name not in already]
    return render(
        request,
        "consent.html",
        client_name=client.name,
        client_id=client.client_id,
        purpose=client.purpose,
        regular=[s for s in asking if not s.sensitive],
        sensitive=[s for s in asking if s.sensitive],
        granted=[s for s in shown if s.name in already],
        hidden=dict(hidden),
        action=action,
        lifetime_days=consent.DEFAULT_LIFETIME.days,
    )


async def web_error_handler(request: Request, exc: Exception) -> Response:
    """error.html for a WebError: the status, a message in the citizen's language, no traceback."""
    if not isinstance(exc, WebError):  # pragma: no cover - registered for WebError only
        raise exc
    t = i18n.Translator(i18n.choose_language(request))
    params = {k: t.coded("status", v) if k == "state" else t.scope(v) if k == "scope" else v
              for k, v in exc.params.items()}  # fmt: skip
    return render(request, "error.html", status=exc.status_code, message=t(exc.message_id, **params))


EXCEPTION_HANDLERS: Mapping[Any, Callable[[Request, Exception], Any]] = {WebError: web_error_handler}


def routes(
    authenticator: CitizenAuthenticator | None,
    throttle: LoginThrottle | None = None,
    *,
    upstream: RelyingParty | None = None,
    card_claim: str = "",
    on_withdrawn: Callable[[str, frozenset[str]], Awaitable[None]] | None = None,
) -> list[Route]:
    """The citizen pages. ``authenticator`` None: citizen login is off (the login page says so, 503).

    ``throttle``: the login attempt limits (the hub's, shared across instances); None: the defaults,
    counted in this process. ``upstream``: citizens log in at the city's identity provider instead
    (``auth/web/upstream.py``); ``card_claim`` as there. ``on_withdrawn``: called with the citizen and
    the consent's withdrawn scopes after a withdrawal (the hub drops the cached copies: auth knows no cache).
    """
    guard = throttle or LoginThrottle(LoginLimits())

    async def login_page(request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            next_path = safe_next(request.query_params.get("next"))
            if current_citizen(request) is not None:
                return RedirectResponse(next_path, status_code=303)
            if upstream is not None:
                start = URL("/login/upstream").include_query_params(next=next_path)
                return render(request, "login_upstream.html", start=f"{start.path}?{start.query}")
            return _login_form(request, next_path, authenticator is None)
        form = await _form(request)
        check_csrf(request, form)
        next_path = safe_next(form.get("next"))
        if upstream is not None:  # no passwords here: the provider's pages take them
            return RedirectResponse(str(URL("/login").include_query_params(next=next_path)), status_code=303)
        if authenticator is None:
            return _login_form(request, next_path, unavailable=True)
        username, password = _text(form, "username").strip(), _text(form, "password")
        card = None
        if username and password:
            check, address = authenticator.authenticate, request.client.host if request.client else ""
            try:
                card = await guard.attempt(username, address, lambda: check(username, password))
            except TooManyAttempts as exc:
                metrics.login_failure("throttled")
                # The same answer for every username, known or not.
                page = _login_form(request, next_path, False, error=exc.code, username=username, status=429)
                page.headers["Retry-After"] = str(exc.retry_after)
                return page
        if card is None:
            metrics.login_failure("password")
            # One message for an unknown user and a wrong password: the page must not tell which.
            return _login_form(request, next_path, False, error="login_failed", username=username, status=401)
        login(request, card)
        return RedirectResponse(next_path, status_code=303)

    async def logout_page(request: Request) -> Response:
        check_csrf(request, await _form(request))
        ended = logout(request)
        request.session[NOTICE_KEY] = {"id": "logged_out"}
        # RP-initiated logout: the provider's session ends too, where it offers that; it sends the
        # browser back to /login (the hub's post_logout_redirect_uri).
        hint = ended.get("id_token", "") if ended else ""
        if upstream is not None and ended is not None and (end := await upstream.end_session_url(hint)):
            return RedirectResponse(end, status_code=303)
        return RedirectResponse("/login", status_code=303)

    async def me_page(request: Request) -> Response:
        citizen = current_citizen(request)
        if citizen is None:
            return RedirectResponse("/login?next=/me", status_code=303)
        return render(request, "me.html", **await _me_context(citizen, request.query_params))

    async def revoke_page(request: Request) -> Response:
        citizen = current_citizen(request)
        if citizen is None:
            return RedirectResponse("/login?next=/me", status_code=303)
        form = await _form(request)
        check_csrf(request, form)
        consent_id: int = request.path_params["consent_id"]
        scope = _text(form, "scope").strip()
        # Only the citizen's own: another citizen's consent looks exactly like a missing one. (An id
        # past the column's 32 bits would make the database driver raise, so it is not asked.)
        existing = await Consent.get_or_none(id=consent_id, citizen=citizen) if consent_id < 2**31 else None
        if existing is None:
            raise WebError(404, "error_consent_not_found")
        try:
            revoked = await consent.revoke(citizen, consent_id, frozenset({scope}) if scope else None)
        except ConsentError:
            current = await Consent.get_or_none(id=consent_id, citizen=citizen)
            if current is None:
                raise WebError(404, "error_consent_not_found") from None
            if current.status is not ConsentStatus.ACTIVE:
                raise WebError(409, "error_consent_not_active", state=current.status.value) from None
            raise WebError(409, "error_scope_not_granted", scope=scope) from None
        if on_withdrawn is not None:
            await on_withdrawn(citizen, revoked.revoked_scopes)
        client = await Client.get_or_none(client_id=revoked.client_id)
        name = client.name if client else revoked.client_id
        whole = not scope or revoked.status is ConsentStatus.REVOKED
        request.session[NOTICE_KEY] = {"id": "revoked_all" if whole else "revoked_one", "client": name, "scope": scope}
        log.info("citizen revoked consent %d (%r)", consent_id, "all" if whole else scope)
        return RedirectResponse("/me", status_code=303)

    extra: list[Route] = []
    if upstream is not None:
        from auth.web import upstream as upstream_pages  # it renders with this module's render()

        extra = upstream_pages.routes(upstream, card_claim)
    return [
        Route("/login", login_page, methods=["GET", "POST"]),
        Route("/logout", logout_page, methods=["POST"]),
        Route("/me", me_page, methods=["GET"]),
        Route("/me/consents/{consent_id:int}/revoke", revoke_page, methods=["POST"]),
        *extra,
    ]


def _login_form(
    request: Request, next_path: str, unavailable: bool, *, error: str | None = None, username: str = "",
    status: int = 200,
) -> HTMLResponse:  # fmt: skip
    if unavailable:
        error, status = "login_unavailable", 503
    # The switch links keep ?next=, also on the page a failed POST re-renders.
    base = request.url.replace(query="").include_query_params(next=next_path)
    return render(request, "login.html", status, error=error, username=username, next=next_path, lang_base=base)


@dataclass(frozen=True, slots=True)
class _EventView:
    at: str
    action: str
    scopes: list[str]
    id: int = 0  # the history entry: its receipt is /me/receipts/{id}


@dataclass(frozen=True, slots=True)
class _ConsentView:
    id: int
    client_id: str
    client_name: str
    purpose: str
    status: str
    active: bool
    granted_at: str
    expires_at: str
    updated_at: str
    scopes: list[str]
    revoked: list[str]
    history: list[_EventView]
    paused: bool = False


@dataclass(frozen=True, slots=True)
class _LogView:
    at: str
    client_id: str
    client_name: str
    sections: list[str]
    outcome: str
    reason: str
    request_id: str


@dataclass(frozen=True, slots=True)
class _LogFilter:
    """The access log's filters, from /me's query string: ``outcome`` (ALLOWED or DENIED), ``client``
    and ``before`` (an entry id: the next page). Anything else is ignored."""

    outcome: str = ""
    client: str = ""
    before: int | None = None

    @classmethod
    def parse(cls, params: QueryParams) -> _LogFilter:
        outcome = params.get("outcome", "")
        client = params.get("client", "").strip()[:64]
        before = params.get("before", "")
        return cls(
            outcome if outcome in ("ALLOWED", "DENIED") else "",
            client,
            int(before) if before.isdigit() and len(before) < 19 else None,
        )


@dataclass(frozen=True, slots=True)
class _ProbesView:
    client_id: str
    client_name: str
    attempts: int
    last_at: str


async def _me_context(citizen: str, params: QueryParams | None = None) -> dict[str, Any]:
    person = await registry.find_citizen(citizen)
    consents = await consent.for_citizen(citizen)
    shown = _LogFilter.parse(params or QueryParams())
    entries = await access_log.page(
        citizen, ACCESS_LOG_LENGTH, before=shown.before, outcome=shown.outcome or None, client_id=shown.client or None
    )
    probes = await access_log.refused_probes(citizen)
    events: dict[int, list[_EventView]] = {}
    if consents:
        for e in await ConsentEvent.filter(consent_id__in=[c.id for c in consents]).order_by("-at", "-id"):
            events.setdefault(e.consent_id, []).append(  # type: ignore[attr-defined]
                _EventView(_when(e.at), e.action, _in_catalogue_order(e.scope.split()), e.id)
            )
    client_ids = {c.client_id for c in consents} | {e.client_id for e in entries} | {p.client_id for p in probes}
    names = {c.client_id: c.name for c in await Client.filter(client_id__in=client_ids)} if client_ids else {}
    views = [
        _ConsentView(
            id=c.id,
            client_id=c.client_id,
            client_name=names.get(c.client_id, c.client_id),
            purpose=c.purpose,
            status=c.status.value,
            active=c.status is ConsentStatus.ACTIVE,
            granted_at=_when(c.granted_at),
            expires_at=_when(c.expires_at),
            updated_at=_when(c.updated_at),
            scopes=_in_catalogue_order(c.scopes),
            revoked=_in_catalogue_order(c.revoked_scopes),
            history=events.get(c.id, []),
            paused=c.status is ConsentStatus.PAUSED,
        )
        for c in consents
    ]
    log_views = [
        _LogView(
            _when(e.at),
            e.client_id,
            names.get(e.client_id, e.client_id),
            e.sections.split(","),
            e.outcome,
            e.reason,
            e.request_id,
        )
        for e in entries
    ]
    return {
        "name": person.name if person else citizen,
        "card": citizen,
        "active": [v for v in views if v.active or v.paused],
        "past": [v for v in views if not (v.active or v.paused)],
        "export_job": await data_export.latest(citizen),
        "log": log_views,
        "log_filter": shown,
        "log_clients": sorted({c.client_id for c in consents} | {p.client_id for p in probes}),
        "log_names": names,
        "log_older": str(entries[-1].id) if len(entries) == ACCESS_LOG_LENGTH else "",
        "probes": [
            _ProbesView(p.client_id, names.get(p.client_id, p.client_id), p.attempts, _when(_from_ms(p.last_at_ms)))
            for p in probes
        ],
    }


def _from_ms(at_ms: int) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC)


def _in_catalogue_order(names: frozenset[str] | list[str]) -> list[str]:
    order = {s.name: i for i, s in enumerate(CATALOGUE)}
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


def _when(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")


def _relative(url: URL, **params: str) -> str:
    """The path and query of ``url`` with ``params`` set: a link that stays on this site."""
    changed = url.include_query_params(**params)
    return changed.path + ("?" + changed.query if changed.query else "")


def _masked(card: str | None) -> str:
    # Enough for the citizen to recognise their card; not the whole number on every page's header.
    return "" if card is None else card[:4] + "•" * max(len(card) - 8, 0) + card[-4:]


async def _form(request: Request) -> FormData:
    # The pages' forms have a handful of fields and no files; anything bigger is refused (400).
    return await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _notice_view(t: i18n.Translator, notice: object) -> dict[str, str] | None:
    if not isinstance(notice, dict) or not t.has(str(notice.get("id"))):
        return None
    message_id = str(notice["id"])
    text = t(message_id, client=notice.get("client", ""), scope=t.scope(str(notice.get("scope", ""))))
    return {"kind": "ok", "text": text}
