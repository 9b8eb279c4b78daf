"""Typed agency failures. Each carries the ``code`` clients see in ``extensions.code``."""

from __future__ import annotations


class AgencyError(Exception):
    """An agency could not give us a usable answer. Never a 500 from the hub."""

    code = "AGENCY_ERROR"

    def __init__(self, agency: str, message: str) -> None:
        super().__init__(message)
        self.agency = agency
        self.message = message

    def __str__(self) -> str:
        return f"{self.agency}: {self.message}"


class AgencyUnavailable(AgencyError):
    """Connection refused or dropped, or the agency answered with a server error."""

    code = "AGENCY_UNAVAILABLE"


class AgencyTimeout(AgencyError):
    """The agency did not answer within the connector's timeout."""

    code = "AGENCY_TIMEOUT"


class AgencyRateLimited(AgencyUnavailable):
    """The hub's own rate limit towards the agency is reached: the call was never sent (never retried)."""


class AgencyBadResponse(AgencyError):
    """The agency answered, but not with anything we can map (wrong shape, bad JSON, bad values)."""

    code = "AGENCY_BAD_RESPONSE"


class AgencyAuthFailed(AgencyError):
    """The agency refused the hub's credentials: a configuration problem on our side or theirs."""

    code = "AGENCY_UNAVAILABLE"


class AgencyAddressRefused(AgencyError):
    """The hub's outbound policy refuses the agency's address (internal, or not https): never sent, never retried."""

    code = "AGENCY_UNAVAILABLE"
