"""Citizens' rights over GraphQL: pause and resume a consent, ask for a data export; and, for agency
clients, where the hub pushes their security events.

Pausing and resuming are the citizen's own, from the city's own app (``IsCitizenActing``), like
``revokeConsent``. The export is done by the hub's worker (``hub/export.py``); the mutation returns
the job (the running one when asked again), ``me { export }`` its progress and download link.
"""

from __future__ import annotations

import strawberry
from strawberry.permission import PermissionExtension

from auth import clients, consent, events, export
from auth.consent import Consent as ConsentRecord
from auth.consent import ConsentError
from auth.event_poll import PATH as POLL_PATH
from schema.context import Info
from schema.errors import BadUserInput, ConsentNotFound, Forbidden, RateLimited
from schema.permissions import IsCitizenActing, require_principal
from schema.types.consent import Consent
from schema.types.data_export import DataExport

_DIGITS = frozenset("0123456789")


@strawberry.type(description="Where the hub sends your security events (RFC 8417 SETs).")
class EventStream:
    push_url: str | None = strawberry.field(description="RFC 8935 push endpoint; null: you poll (RFC 8936).")
    state: str = strawberry.field(description="enabled, or failing: pushes gave up; poll, or register again.")
    poll_path: str = strawberry.field(description="POST here with your client credentials to poll (RFC 8936).")


def _citizen(info: Info) -> str:
    citizen = require_principal(info).citizen
    if citizen is None:
        raise Forbidden("only the citizen may do this: it needs a citizen's token")
    return citizen


async def _switch(info: Info, consent_id: strawberry.ID, resume: bool) -> Consent:
    citizen = _citizen(info)
    text = str(consent_id)
    if not text or len(text) > 18 or not set(text) <= _DIGITS:
        raise ConsentNotFound("no such consent", consentId=text)
    try:
        record = await (consent.resume if resume else consent.pause)(citizen, int(text))
    except ConsentError as exc:
        if await ConsentRecord.get_or_none(id=int(text), citizen=citizen) is None:
            raise ConsentNotFound("no such consent", consentId=text) from None
        raise BadUserInput(str(exc), argument="consentId") from None
    return Consent.from_record(record)


@strawberry.type
class RightsMutation:
    @strawberry.mutation(
        extensions=[PermissionExtension(permissions=[IsCitizenActing()])],
        description="Pause one of your consents: the client reads nothing (CONSENT_PAUSED) until you resume "
        "it, and its tokens stay valid. The expiry keeps running. The client is told (a security event). "
        "Errors: CONSENT_NOT_FOUND, BAD_USER_INPUT (not active).",
    )
    async def pause_consent(self, info: Info, consent_id: strawberry.ID) -> Consent:
        return await _switch(info, consent_id, resume=False)

    @strawberry.mutation(
        extensions=[PermissionExtension(permissions=[IsCitizenActing()])],
        description="Resume a paused consent: the client may read again. Errors: CONSENT_NOT_FOUND, "
        "BAD_USER_INPUT (not paused, or expired meanwhile).",
    )
    async def resume_consent(self, info: Info, consent_id: strawberry.ID) -> Consent:
        return await _switch(info, consent_id, resume=True)

    @strawberry.mutation(
        extensions=[PermissionExtension(permissions=[IsCitizenActing()])],
        description="Start an export of everything the hub holds about you (JSON and a PDF in Chinese and "
        "English); while one is being made, returns that one. Follow it with `me { export }`. Limited per "
        "day (RATE_LIMITED with retryAfter seconds).",
    )
    async def request_data_export(self, info: Info) -> DataExport:
        citizen = _citizen(info)
        policy = info.context.services.exports
        if policy is None:
            raise Forbidden("data exports are not enabled on this hub")
        try:
            job = await export.request(citizen, require_principal(info).client_id, policy.per_day)
        except export.ExportRateLimited as exc:
            raise RateLimited(str(exc), retryAfter=exc.retry_after) from None
        return await DataExport.from_job(job, None)

    @strawberry.mutation(
        description="Agency clients: where the hub sends your security events (consent withdrawn, narrowed, "
        "paused, resumed, expired). `pushUrl` an https endpoint (RFC 8935), or null to poll (RFC 8936). "
        "Registering again starts a failing stream afresh. Needs your agency's client credentials token. "
        "Errors: FORBIDDEN, BAD_USER_INPUT (an address the hub does not call).",
    )
    async def register_event_stream(self, info: Info, push_url: str | None = None) -> EventStream:
        principal = require_principal(info)
        client = None if principal.is_citizen else await clients.find(principal.client_id)
        if client is None or client.type is not clients.ClientType.AGENCY:
            raise Forbidden("needs an agency's own client credentials token")
        try:
            outbound = info.context.services.connector_policy.outbound
            stream = await events.register(client.client_id, push_url or "", outbound)
        except events.EventStreamError as exc:
            raise BadUserInput(str(exc), argument="pushUrl") from None
        return EventStream(push_url=stream.push_url or None, state=stream.state.value, poll_path=POLL_PATH)


async def export_of(info: Info, citizen: str) -> DataExport | None:
    """``me { export }``: the latest export, with a fresh download link when it is done."""
    job = await export.latest(citizen)
    policy = info.context.services.exports
    if job is None:
        return None
    return await DataExport.from_job(job, policy.link_lifetime if policy else None)
