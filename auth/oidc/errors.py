"""Why a login at the city's identity provider did not end in a session: one class per failure.

Each carries ``code``, the reason the hub logs (``oidc login refused: CODE``), ``status``, the HTTP
status of the page the citizen gets, and ``message_id``, what that page says (``auth/web/i18n.py``).
No failure creates a session.
"""

from __future__ import annotations


class UpstreamLoginError(Exception):
    code = "upstream_error"
    status = 502
    message_id = "error_upstream_unavailable"  # the provider failed: try again later

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail


class UpstreamUnreachable(UpstreamLoginError):
    code = "upstream_unreachable"


class UpstreamTimeout(UpstreamLoginError):
    code = "upstream_timeout"
    status = 504


class UpstreamBadResponse(UpstreamLoginError):
    """Not what OpenID Connect says the provider answers: not JSON, a missing field, a wrong issuer."""

    code = "upstream_bad_response"


class UpstreamRefused(UpstreamLoginError):
    """The provider answered with an OAuth error (the citizen cancelled, the code was refused...)."""

    code = "upstream_refused"
    status = 400
    message_id = "error_upstream_rejected"


class StateMismatch(UpstreamLoginError):
    """An authorization response this browser did not ask for, or one used already (RFC 6749 §10.12)."""

    code = "state_mismatch"
    status = 400
    message_id = "error_upstream_rejected"


class IssuerMismatch(UpstreamLoginError):
    """The authorization response's ``iss`` is not the provider's (RFC 9207 §2.4): a mix-up attack."""

    code = "response_iss_mismatch"
    status = 400
    message_id = "error_upstream_rejected"


class IdTokenInvalid(UpstreamLoginError):
    """The ID token fails validation (OpenID Connect Core §3.1.3.7); ``code`` names the check."""

    status = 400
    message_id = "error_upstream_rejected"

    def __init__(self, check: str, detail: str = "") -> None:
        super().__init__(detail or check)
        self.code = f"id_token_{check}"


class SubjectUnlinked(UpstreamLoginError):
    """The provider's subject is linked to no card in the registry (``cardhub citizens link``)."""

    code = "subject_unlinked"
    status = 403
    message_id = "error_upstream_unlinked"
