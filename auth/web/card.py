"""The virtual card page: ``/me/card`` shows the citizen's QR code for a chosen purpose.

It works with no JavaScript: the page reloads itself (``<meta http-equiv=refresh>``) a margin before
the code expires, and says how long the code shown is valid. With JavaScript, a small script (the
page's only one, allowed by its nonce) counts the seconds down and swaps in a fresh code from
``/me/card/credential`` in place. Each code issued is written to the citizen's access log.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from auth import audit
from auth.audit import Decision, Outcome
from auth.card.errors import CardCredentialError, CardNotActive
from auth.card.issuer import IssuedCredential, ShowCard, audit_section
from auth.web import i18n
from auth.web.pages import CHINA_TIME, SECURITY_HEADERS, render
from auth.web.session import current_citizen
from cardverify.format import Purpose

log = logging.getLogger("cardhub.web")

WEB_CLIENT = "cardhub-web"  # the access log's name for the hub's own citizen pages
PAGE = "/me/card"
CREDENTIAL = "/me/card/credential"

MESSAGES: dict[str, dict[str, str]] = {
    i18n.ZH: {
        "card_title": "虚拟市民卡",
        "card_intro": "在闸机、图书馆或医院窗口出示此二维码。每种用途只包含该窗口需要的信息。",
        "card_purposes": "出示用途",
        "card_purpose_TRANSIT": "乘车",
        "card_purpose_LIBRARY": "图书馆",
        "card_purpose_CLINIC": "看病",
        "card_purpose_IDENTITY": "身份核验",
        "card_valid_for": "此码有效期还剩 {seconds} 秒（至 {until}），到期前页面会自动更新。",
        "card_qr_label": "{purpose}用途的虚拟市民卡二维码",
        "card_not_active": "您的市民卡已挂失或注销，无法生成虚拟卡。",
        "card_unavailable": "暂时无法生成虚拟卡，请稍后再试。",
        "card_back": "返回我的数据",
    },
    i18n.EN: {
        "card_title": "Virtual citizen card",
        "card_intro": "Show this code at a gate, the library desk or a clinic counter. Each purpose carries only "
        "what that counter needs.",
        "card_purposes": "Show it for",
        "card_purpose_TRANSIT": "Transit",
        "card_purpose_LIBRARY": "Library",
        "card_purpose_CLINIC": "Clinic",
        "card_purpose_IDENTITY": "Identity",
        "card_valid_for": "This code is valid for {seconds} more seconds (until {until}); the page renews it "
        "before then.",
        "card_qr_label": "Virtual citizen card QR code for {purpose}",
        "card_not_active": "Your citizen card is reported lost or cancelled: no virtual card can be shown.",
        "card_unavailable": "The virtual card cannot be shown just now. Please try again shortly.",
        "card_back": "Back to my data",
    },
}


def refresh_in(issued: IssuedCredential, now: float | None = None) -> int:
    """Seconds until the page should fetch a new code: a margin before expiry for a slow network."""
    lifetime = int((issued.expires_at - issued.issued_at).total_seconds())
    return max(1, issued.seconds_left(now) - min(60, lifetime // 3))


def routes(show: ShowCard) -> list[Route]:
    """``show(citizen, purpose)``: a fresh credential (the hub's schema/card_credential.py)."""

    async def card_page(request: Request) -> Response:
        citizen = current_citizen(request)
        purpose = _purpose(request)
        if citizen is None:
            return RedirectResponse(f"/login?next={PAGE}?purpose={purpose.label}", status_code=303)
        lang = i18n.choose_language(request)
        words = _translator(lang)
        try:
            issued = await _issue(show, citizen, purpose)
        except CardCredentialError as exc:
            status = 409 if isinstance(exc, CardNotActive) else 503
            message = words("card_not_active" if status == 409 else "card_unavailable")
            return render(request, "card.html", status, ct=words, **_choices(purpose), issued=None, error=message)
        nonce = secrets.token_urlsafe(16)
        wait = refresh_in(issued)
        page = render(
            request,
            "card.html",
            ct=words,
            **_choices(purpose),
            issued=issued,
            error=None,
            svg=issued.svg(),
            seconds=issued.seconds_left(),
            until=issued.expires_at.astimezone(CHINA_TIME).strftime("%H:%M:%S"),
            refresh_in=wait,
            refresh_url=f"{PAGE}?purpose={purpose.label}",
            credential_url=f"{CREDENTIAL}?purpose={purpose.label}",
            nonce=nonce,
        )
        page.headers["Content-Security-Policy"] = SECURITY_HEADERS["Content-Security-Policy"].replace(
            "default-src 'none';", f"default-src 'none'; script-src 'nonce-{nonce}'; connect-src 'self';"
        )
        return page

    async def credential(request: Request) -> Response:
        citizen = current_citizen(request)
        if citizen is None:
            return _json({"error": "UNAUTHENTICATED"}, 401)
        try:
            issued = await _issue(show, citizen, _purpose(request))
        except CardCredentialError as exc:
            return _json({"error": exc.code}, 409 if isinstance(exc, CardNotActive) else 503)
        return _json(
            {
                "purpose": issued.purpose.name,
                "text": issued.text,
                "svg": issued.svg(),
                "expires_at": issued.expires_at.isoformat(),
                "until": issued.expires_at.astimezone(CHINA_TIME).strftime("%H:%M:%S"),
                "valid_for_seconds": issued.seconds_left(),
                "refresh_in_seconds": refresh_in(issued),
            }
        )

    return [Route(PAGE, card_page, methods=["GET"]), Route(CREDENTIAL, credential, methods=["GET"])]


async def _issue(show: ShowCard, citizen: str, purpose: Purpose) -> IssuedCredential:
    """Issue and record; a code that cannot be recorded is not shown (the log fails closed)."""
    section = audit_section(purpose)
    request_id = uuid.uuid4().hex
    try:
        issued = await show(citizen, purpose)
    except CardCredentialError as exc:
        await audit.append(request_id, WEB_CLIENT, [Decision(citizen, section, Outcome.DENIED, exc.code)])
        raise
    await audit.append(request_id, WEB_CLIENT, [Decision(citizen, section, Outcome.ALLOWED)])
    return issued


def _purpose(request: Request) -> Purpose:
    try:
        return Purpose.named(request.query_params.get("purpose", "transit"))
    except KeyError:
        return Purpose.TRANSIT


def _choices(current: Purpose) -> dict[str, Any]:
    return {"purposes": [(p.name, p.label, p is current) for p in Purpose], "purpose": current.name}


def _translator(lang: str) -> Callable[..., str]:
    def words(message_id: str, **params: object) -> Markup:
        return Markup(MESSAGES[lang][message_id]).format(**params)  # escapes every parameter not Markup

    return words


def _json(data: dict[str, object], status: int = 200) -> Response:
    return JSONResponse(
        data, status_code=status, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    )
