"""Trusted documents: the GraphQL operations the operator registered for a client, and who may send others.

GraphQL-over-HTTP, appendix "Persisted Documents": a document is named by its ``documentId``,
``sha256:`` and the lowercase hex SHA-256 of its exact text. A client sends the id instead of the text.
This module stores the texts and decides; it knows no GraphQL (parsing and validating them is
``schema/documents.py``'s business, registering them ``hub/cli_documents.py``'s).

Who may send a free-form document (any text, not a registered one):
- sandbox mode: everyone;
- production: the operator's ``developer_clients``, and the agency or confidential clients listed in
  ``free_form_clients``. Never a public client unless it is a developer client, never an anonymous
  request: they run registered documents only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise import fields
from tortoise.models import Model

from auth import clients
from auth.clients import ClientType
from auth.epoch import NO_FENCE, Fence
from auth.principal import Principal

_DOCUMENT_ID = re.compile(r"sha256:[0-9a-f]{64}")


class TrustedDocument(Model):
    id = fields.BigIntField(primary_key=True)
    client_id = fields.CharField(max_length=64)
    document_id = fields.CharField(max_length=71, db_index=True)  # sha256:<64 hex>
    name = fields.CharField(max_length=128, default="")  # the operation's name, for `cardhub documents list`
    body = fields.TextField()
    registered_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "trusted_document"
        unique_together = (("client_id", "document_id"),)


def document_id(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def is_document_id(value: str) -> bool:
    return _DOCUMENT_ID.fullmatch(value) is not None


async def register(client_id: str, body: str, name: str = "") -> tuple[TrustedDocument, bool]:
    """Register (or re-register after a revoke) a document for a client. Returns it and whether it is new."""
    doc_id = document_id(body)
    existing = await TrustedDocument.get_or_none(client_id=client_id, document_id=doc_id)
    if existing is not None:
        changed = existing.revoked_at is not None
        existing.revoked_at = None
        existing.name = name or existing.name
        await existing.save()
        return existing, changed
    created = await TrustedDocument.create(
        client_id=client_id, document_id=doc_id, name=name, body=body, registered_at=datetime.now(UTC)
    )
    return created, True


async def find(doc_id: str, client_id: str | None, fence: Fence = NO_FENCE) -> str | None:
    """The text of a registered, unrevoked document: the client's own, or (anonymous) any client's.

    Found texts are remembered behind the request's fence (auth/epoch.py: a revocation bumps the epoch);
    unknown ids are not, so guessed ids cannot fill memory.
    """
    if not is_document_id(doc_id):
        return None
    return await fence.lookup(("document", doc_id, client_id), lambda: _find(doc_id, client_id), keep_none=False)


async def _find(doc_id: str, client_id: str | None) -> str | None:
    query = TrustedDocument.filter(document_id=doc_id, revoked_at=None)
    if client_id is not None:
        query = query.filter(client_id=client_id)
    found = await query.only("body").first()
    return None if found is None else found.body


async def listed(client_id: str | None = None) -> list[TrustedDocument]:
    query = TrustedDocument.all() if client_id is None else TrustedDocument.filter(client_id=client_id)
    return await query.order_by("client_id", "registered_at", "id")


async def revoke(client_id: str, doc_id: str) -> bool:
    """Stop accepting the document from the client. Returns False when it was not registered (or gone)."""
    updated = await TrustedDocument.filter(client_id=client_id, document_id=doc_id, revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )
    return updated > 0


@dataclass(frozen=True, slots=True)
class FreeFormPolicy:
    """Who may send free-form documents (see the module docstring)."""

    trusted_only: bool  # production: True
    free_form_clients: frozenset[str] = frozenset()
    developer_clients: frozenset[str] = frozenset()

    async def allows(self, principal: Principal | None) -> bool:
        if not self.trusted_only:
            return True
        if principal is None:
            return False
        if principal.client_id in self.developer_clients:
            return True
        if principal.client_id not in self.free_form_clients:
            return False
        client = await clients.find(principal.client_id)
        # A public client's id is no secret: listing one here is a mistake, and is not honoured.
        return client is not None and client.type is not ClientType.PUBLIC
