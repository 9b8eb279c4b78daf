"""GraphQL errors clients see. One class per failure, each carrying its ``extensions.code``.

Anything that is not a ``HubError`` is a bug: it is logged with its traceback on the server and
reaches the client only as "Unexpected error." with code INTERNAL (see extensions/error_policy.py).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from connectors.errors import AgencyError


def code_request_errors(errors: list[GraphQLError]) -> None:
    """Give parse and validation errors (which carry no code of their own) theirs, in place."""
    for error in errors:
        if not (error.extensions or {}).get("code"):
            code = "GRAPHQL_PARSE_FAILED" if isinstance(error, GraphQLSyntaxError) else "GRAPHQL_VALIDATION_FAILED"
            error.extensions = {**(error.extensions or {}), "code": code}


class HubError(GraphQLError):
    code = "INTERNAL"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class Unauthenticated(HubError):
    code = "UNAUTHENTICATED"


class Forbidden(HubError):
    code = "FORBIDDEN"


class ConsentRequired(HubError):
    code = "CONSENT_REQUIRED"


class ConsentRevoked(HubError):
    code = "CONSENT_REVOKED"


class ConsentExpired(HubError):
    code = "CONSENT_EXPIRED"


class ConsentPaused(HubError):
    """The citizen paused this consent: no read until they resume it; the token stays valid."""

    code = "CONSENT_PAUSED"


class RateLimited(HubError):
    code = "RATE_LIMITED"


class CitizenNotFound(HubError):
    code = "CITIZEN_NOT_FOUND"


class ConsentNotFound(HubError):
    """No consent with that id among the citizen's own (another citizen's looks exactly the same)."""

    code = "CONSENT_NOT_FOUND"


class BadUserInput(HubError):
    code = "BAD_USER_INPUT"


class ManifestInvalid(HubError):
    """A connector manifest refused before activation; ``problems`` lists each path and reason."""

    code = "MANIFEST_INVALID"


class ContractTestFailed(HubError):
    """The manifest is well-formed, but reading its test citizen from the live agency failed."""

    code = "CONTRACT_TEST_FAILED"


class ConnectorNotFound(HubError):
    code = "CONNECTOR_NOT_FOUND"


class AgencyFailure(HubError):
    """An agency section could not be fetched. ``code`` is the agency error's own."""

    def __init__(self, error: AgencyError) -> None:
        self.code = error.code
        super().__init__(f"{error.agency} is not available: {error.message}", agency=error.agency)


# --- The edge's limits and trusted documents (docs/security.md) ---------------------------------


class RequestTooLarge(HubError):
    """The request body is over ``max_body_bytes``: HTTP 413, refused before it is read whole."""

    code = "REQUEST_TOO_LARGE"


class BadRequest(HubError):
    """The request is not a GraphQL request this hub can run (e.g. both ``query`` and ``documentId``)."""

    code = "BAD_REQUEST"


class TooManyTokens(HubError):
    code = "TOO_MANY_TOKENS"


class TooManyDirectives(HubError):
    code = "TOO_MANY_DIRECTIVES"


class CostLimitExceeded(HubError):
    """The query could make more field resolutions than ``max_cost`` (lists count their page size)."""

    code = "COST_LIMIT_EXCEEDED"


class IntrospectionDisabled(HubError):
    code = "INTROSPECTION_DISABLED"


class RequestTimeout(HubError):
    """The request ran past ``request_budget_seconds``; it was stopped and nothing of it was kept."""

    code = "REQUEST_TIMEOUT"


class PersistedDocumentNotFound(HubError):
    """No registered document with that ``documentId`` for this client (or it was revoked)."""

    code = "PERSISTED_DOCUMENT_NOT_FOUND"


class PersistedDocumentRequired(HubError):
    """This client may run registered documents only: send ``documentId`` instead of ``query``."""

    code = "PERSISTED_DOCUMENT_REQUIRED"
