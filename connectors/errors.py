"""Typed agency failures. Each carries the ``code`` clients see in ``extensions.code``.

A message often quotes what the agency sent, and it goes to the logs and to GraphQL clients: it is cut
to ``MAX_MESSAGE_CHARS`` and its control characters are escaped, so an agency can neither flood them
nor forge a log line."""

from __future__ import annotations

import unicodedata

MAX_MESSAGE_CHARS = 300
# Line breaks, terminal escapes, bidi overrides, lone surrogates (unencodable: they break the log handler).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escaped(char: str) -> str:
    if unicodedata.category(char) not in _UNSAFE_CATEGORIES:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def bounded(message: str) -> str:
    """``message`` safe to log and show: control characters escaped, at most MAX_MESSAGE_CHARS long."""
    shown = "".join(map(_escaped, message[: MAX_MESSAGE_CHARS + 1]))
    return shown if len(shown) <= MAX_MESSAGE_CHARS else shown[: MAX_MESSAGE_CHARS - 1] + "…"


class AgencyError(Exception):
    """An agency could not give us a usable answer. Never a 500 from the hub."""

    code = "AGENCY_ERROR"

    def __init__(self, agency: str, message: str) -> None:
        message = bounded(message)
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
