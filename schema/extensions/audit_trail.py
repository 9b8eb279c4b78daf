"""Writes the request's access decisions to the audit log before the response leaves.

Fail closed: if the log cannot be written, the client gets no citizen data, only AUDIT_UNAVAILABLE.
A read nobody can account for is worse than a read that did not happen.

Every ``citizen(cardNumber)`` probe is recorded as a ``profile`` decision, so a probe that selects no
section still leaves an entry; when the same request records sections of that citizen, they say it
all and the lookup entry is left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from auth.audit import Decision
from schema.context import HubContext
from telemetry import metrics

LOOKUP = "profile"

log = logging.getLogger("cardhub.audit")


class AuditTrail(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, HubContext):
            return
        refusal = await record(context)
        result = self.execution_context.result
        if refusal is not None and result is not None:
            result.data = None
            result.errors = [refusal]


async def record(context: HubContext) -> GraphQLError | None:
    """Write the request's decisions; the error to answer with instead of data when that fails.

    Also called for a response served whole from the response cache (schema/responses.py).
    """
    if context.principal is None or not context.decisions:
        return None
    for decision in context.decisions:
        metrics.consent_decision(decision.section, decision.outcome)
    started = time.perf_counter()
    try:
        await context.services.audit.append(
            context.request_id, context.principal.client_id, recorded(context.decisions)
        )
        metrics.audit_appended(time.perf_counter() - started)
    except Exception:  # any storage failure: withhold the data rather than serve it unrecorded
        log.exception("audit log write failed request_id=%s; response withheld", context.request_id)
        return GraphQLError(
            "The access could not be recorded, so no data is returned. Try again later.",
            extensions={"code": "AUDIT_UNAVAILABLE"},
        )
    return None


def recorded(decisions: list[Decision]) -> list[Decision]:
    with_sections = {d.citizen for d in decisions if d.section != LOOKUP}
    return [d for d in decisions if d.section != LOOKUP or d.citizen not in with_sections]
