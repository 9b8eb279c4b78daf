"""Why the hub issues no credential; each refusal carries the code clients see."""

from __future__ import annotations


class CardCredentialError(Exception):
    code = "INTERNAL"


class CardNotActive(CardCredentialError):
    """The card is reported lost, or cancelled: no new credentials (those out expire on their own)."""

    code = "CARD_NOT_ACTIVE"

    def __init__(self, status: str) -> None:
        super().__init__(f"the card is {status.lower()}: no virtual card is issued for it")
        self.status = status


class CardNotFound(CardCredentialError):
    code = "CITIZEN_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no card with that number in the registry")


class CredentialTooLarge(CardCredentialError):
    """The credential would need a QR code bigger than a gate's scanner reads (version 12, level M)."""

    code = "CREDENTIAL_TOO_LARGE"

    def __init__(self, version: int) -> None:
        super().__init__(f"the credential needs QR version {version}; terminals read up to {MAX_QR_VERSION}")
        self.version = version


class FactsUnavailable(CardCredentialError):
    """The agency holding the purpose's facts could not be read; ``code`` is the agency error's own."""

    def __init__(self, code: str, agency: str, message: str) -> None:
        super().__init__(f"{agency} is not available: {message}")
        self.code = code
        self.agency = agency


class CardStatusError(ValueError):
    """A status change the registry does not allow (a cancelled card stays cancelled)."""


MAX_QR_VERSION = 12
