"""The citizen pages' share of citizens' rights: pause and resume, receipts, "Download my data".

Routes (forms POST with ``csrf_token``, like every form of the pages):

- ``POST /me/consents/{id}/pause`` and ``/resume``: back to /me with a notice;
- ``GET /me/receipts/{entry}``: one history entry's signed receipt, as a file to keep;
- ``POST /me/export``: start an export (or see the running one), then ``GET /me/export/{job}``: its
  progress (the page refreshes itself, no script), and once done a fresh single-use download link
  ``GET /me/export/{job}/download?token=...`` (``auth/export.py``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth import consent, export
from auth.clients import Client
from auth.consent import Consent, ConsentError
from auth.receipts import ReceiptIssuer
from auth.web import i18n
from auth.web.csrf import check_csrf
from auth.web.errors import WebError
from auth.web.pages import NOTICE_KEY, SECURITY_HEADERS, _form, render
from auth.web.session import current_citizen

PAGES_CLIENT = "cardhub-pages"  # who asked, in the job and the access log, when the citizen asked on /me
REFRESH_SECONDS = 2


def routes(receipts: ReceiptIssuer | None, exports: export.ExportPolicy | None) -> list[Route]:
    async def switch(request: Request) -> Response:
        citizen = current_citizen(request)
        if citizen is None:
            return RedirectResponse("/login?next=/me", status_code=303)
        check_csrf(request, await _form(request))
        consent_id: int = request.path_params["consent_id"]
        resume = request.url.path.endswith("/resume")
        existing = await Consent.get_or_none(id=consent_id, citizen=citizen) if consent_id < 2**31 else None
        if existing is None:
            raise WebError(404, "error_consent_not_found")
        try:
            changed = await (consent.resume if resume else consent.pause)(citizen, consent_id)
        except ConsentError:
            current = await Consent.get(id=consent_id)
            raise WebError(409, "error_consent_not_active", state=current.status.value) from None
        client = await Client.get_or_none(client_id=changed.client_id)
        notice = "resumed_done" if resume else "paused_done"
        request.session[NOTICE_KEY] = {"id": notice, "client": client.name if client else changed.client_id}
        return RedirectResponse("/me", status_code=303)

    async def receipt(request: Request) -> Response:
        citizen = current_citizen(request)
        if citizen is None:
            return RedirectResponse("/login?next=/me", status_code=303)
        entry: int = request.path_params["entry"]
        names = {c.client_id: c.name for c in await Client.all()}
        found = await receipts.find(citizen, entry, names) if receipts and entry < 2**62 else None
        if found is None:
            raise WebError(404, "error_not_found")
        headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="consent-receipt-{entry}.jwt"'}
        return Response(found.token + "\n", media_type="application/jose", headers=headers)

    async def start_export(request: Request) -> Response:
        citizen = current_citizen(request)
        if citizen is None:
            return RedirectResponse("/login?next=/me", status_code=303)
        check_csrf(request, await _form(request))
        if exports is None:
            raise WebError(404, "error_not_found")
        try:
            job = await export.request(citizen, PAGES_CLIENT, exports.per_day)
        except export.ExportRateLimited as exc:
            page = render(request, "error.html", 429, message=_limited(request, exc.retry_after))
            page.headers["Retry-After"] = str(exc.retry_after)
            return page
        return RedirectResponse(f"/me/export/{job.id}", status_code=303)

    async def show_export(request: Request) -> Response:
        citizen = current_citizen(request)
        if citizen is None:
            return RedirectResponse("/login?next=/me", status_code=303)
        job = await export.find(citizen, request.path_params["job_id"])
        if job is None or exports is None:
            raise WebError(404, "error_not_found")
        minted = await export.link(job, exports.link_lifetime)
        page = render(request, "export.html", job=job, download=minted[0] if minted else "")
        if job.active:
            page.headers["Refresh"] = str(REFRESH_SECONDS)  # progress without a script
        return page

    async def download(request: Request) -> Response:
        try:
            job, archive = await export.claim(request.path_params["job_id"], request.query_params.get("token", ""))
        except export.ExportLinkInvalid:
            raise WebError(410, "error_not_found") from None
        name = f"cardhub-export-{job.created_at:%Y%m%d}.zip"
        headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
        return Response(archive, media_type="application/zip", headers=headers)

    return [
        Route("/me/consents/{consent_id:int}/pause", switch, methods=["POST"]),
        Route("/me/consents/{consent_id:int}/resume", switch, methods=["POST"]),
        Route("/me/receipts/{entry:int}", receipt, methods=["GET"]),
        Route("/me/export", start_export, methods=["POST"]),
        Route("/me/export/{job_id}", show_export, methods=["GET"]),
        Route(export.DOWNLOAD_PATH, download, methods=["GET"]),
    ]


def _limited(request: Request, retry_after: int) -> str:
    return i18n.Translator(i18n.choose_language(request))("export_limited", minutes=max(1, retry_after // 60))
