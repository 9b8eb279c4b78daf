from __future__ import annotations

import hashlib

from auth import documents
from auth.clients import ClientType
from auth.documents import FreeFormPolicy
from auth.principal import Principal
from hub import sandbox_access
from tests.conftest import RunningHub


def test_document_ids_are_sha256_of_the_exact_text() -> None:
    assert documents.document_id("{ a }") == "sha256:" + hashlib.sha256(b"{ a }").hexdigest()
    assert documents.document_id("{ a }") != documents.document_id("{ a }\n")
    assert documents.is_document_id(documents.document_id("x"))
    assert not documents.is_document_id("sha256:ABC")


async def test_who_may_send_free_form_documents(hub: RunningHub) -> None:
    await sandbox_access.ensure_client("test-ff-agency", ClientType.AGENCY, "Tests: free-form")
    await sandbox_access.ensure_client("test-ff-public", ClientType.PUBLIC, "Tests: free-form")
    await sandbox_access.ensure_client("test-ff-unlisted", ClientType.CONFIDENTIAL, "Tests: free-form")
    policy = FreeFormPolicy(
        trusted_only=True,
        free_form_clients=frozenset({"test-ff-agency", "test-ff-public"}),
        developer_clients=frozenset({"test-ff-dev"}),
    )

    def who(client: str) -> Principal:
        return Principal(client, frozenset({"card"}))

    assert await policy.allows(who("test-ff-agency"))
    assert await policy.allows(who("test-ff-dev"))
    assert not await policy.allows(who("test-ff-public"))  # listed, but a public client's id is no secret
    assert not await policy.allows(who("test-ff-unlisted"))
    assert not await policy.allows(None)
    assert await FreeFormPolicy(trusted_only=False).allows(None)


async def test_registration_is_per_client_and_revocable(hub: RunningHub) -> None:
    text = "query PerClient { __typename }"
    doc, new = await documents.register("test-doc-a", text, "PerClient")
    assert new
    assert (await documents.register("test-doc-a", text))[1] is False
    assert await documents.find(doc.document_id, "test-doc-a") == text
    assert await documents.find(doc.document_id, "test-doc-b") is None
    assert await documents.find(doc.document_id, None) == text  # anonymous: any client's registration
    assert await documents.revoke("test-doc-a", doc.document_id)
    assert await documents.find(doc.document_id, None) is None
    assert (await documents.register("test-doc-a", text))[1] is True  # registered again
