"""Production mode for tests: the settings production cannot start without, and the operator's
exceptions that let it reach the sandbox agencies on loopback over plain http."""

from __future__ import annotations

from keys.keyring import generate

SECRETS_KEY = generate("test-secrets-1")
CACHE_KEY = generate("test-cache-1")
CARD_KEY = generate("test-card-1")
RECEIPTS_KEY = generate("test-receipts-1")
EVENTS_KEY = generate("test-events-1")
CHECKPOINT_KEY = generate("test-checkpoint-1")

KEYS_ENV = {
    "CARDHUB_SECRETS_KEY": SECRETS_KEY,
    "CARDHUB_CACHE_KEY": CACHE_KEY,
    "CARDHUB_CARD_KEY": CARD_KEY,
    "CARDHUB_CHECKPOINT_KEY": CHECKPOINT_KEY,
    "CARDHUB_RECEIPTS_KEY": RECEIPTS_KEY,
    "CARDHUB_EVENTS_KEY": EVENTS_KEY,
}
# The sandbox agencies listen on 127.0.0.1 over http: an operator of a real city lists its agency
# gateway's network here, and plain http only for a gateway reached over an encrypted link.
LOOPBACK_AGENCIES_ENV = {
    "CARDHUB_AGENCY_ALLOWED_NETWORKS": "127.0.0.0/8",
    "CARDHUB_AGENCY_PLAIN_HTTP_HOSTS": "127.0.0.1",
}


def production_env(issuer: str = "https://hub.example", *, loopback_agencies: bool = True) -> dict[str, str]:
    env = {"CARDHUB_MODE": "production", "CARDHUB_ISSUER": issuer, **KEYS_ENV}
    return {**env, **LOOPBACK_AGENCIES_ENV} if loopback_agencies else env
