"""Citizen login at the city's identity provider: ``/login/upstream`` sends the browser there,
``/login/callback`` takes it back (``auth/oidc/relying_party.py`` does the protocol).

Any failure (the provider down, slow, answering garbage or a bad signature; a replayed or foreign
response; a subject linked to no card) gives the citizen ``login_refused.html`` with a link to try
again, logs ``oidc login refused: CODE``, and leaves the browser logged out: no session is created.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from auth.oidc import links
from auth.oidc.errors import SubjectUnlinked, UpstreamLoginError
from auth.oidc.relying_party import RelyingParty
from auth.web.pages import render, safe_next
from auth.web.session import current_citizen, login

log = logging.getLogger("cardhub.web.oidc")

START = "/login/upstream"
CALLBACK = "/login/callback"


def routes(party: RelyingParty, card_claim: str = "") -> list[Route]:
    """``card_claim``: the claim carrying the card number; "": the operator's links (``cardhub citizens``)."""

    async def start(request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        if current_citizen(request) is not None:
            return RedirectResponse(next_path, status_code=303)
        try:
            url = await party.begin(request, next_path)
        except UpstreamLoginError as exc:
            return refused(request, exc, next_path)
        return RedirectResponse(url, status_code=303)

    async def callback(request: Request) -> Response:
        next_path = "/me"
        try:
            identity, wanted = await party.finish(request)
            next_path = safe_next(wanted)
            card = await links.card_for(identity.issuer, identity.subject, identity.claims, card_claim)
            if card is None:
                raise SubjectUnlinked("the provider's subject holds no card in the registry")
        except UpstreamLoginError as exc:
            return refused(request, exc, next_path)
        login(request, card, upstream={"id_token": identity.id_token})
        log.info("oidc login: a subject of %s logged in", identity.issuer)
        return RedirectResponse(next_path, status_code=303)

    return [Route(START, start, methods=["GET"]), Route(CALLBACK, callback, methods=["GET"])]


def refused(request: Request, exc: UpstreamLoginError, next_path: str) -> HTMLResponse:
    log.warning("oidc login refused: %s (%s)", exc.code, exc.detail or "-")
    retry = request.url.replace(path=START, query="").include_query_params(next=next_path)
    return render(
        request,
        "login_refused.html",
        exc.status,
        message_id=exc.message_id,
        reason=exc.code,
        retry=retry.path + "?" + retry.query,
    )
