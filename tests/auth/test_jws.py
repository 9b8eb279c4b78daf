"""JWS compact with the fully-specified Ed25519 algorithm: checked against joserfc, an independent
implementation, and refusing other algorithms, other keys and altered tokens."""

from __future__ import annotations

import pytest
from joserfc import jws as joserfc_jws
from joserfc.jwk import KeySet as JoseKeySet

from auth import jws
from keys.keyring import RECEIPTS, KeySet
from keys.signing import Signer


@pytest.fixture
def signer() -> Signer:
    return Signer(KeySet.ephemeral(RECEIPTS), "test")


def test_a_token_verifies_here_and_with_joserfc(signer: Signer) -> None:
    token = jws.sign(signer, {"b": 2, "a": "中文"}, "test+jwt")
    assert jws.verify(token, signer.public_keys(), "test+jwt") == {"a": "中文", "b": 2}
    keys = JoseKeySet.import_key_set(jws.jwks(signer))  # type: ignore[arg-type]
    parsed = joserfc_jws.deserialize_compact(token, keys, algorithms=["Ed25519"])
    assert parsed.headers() == {"alg": "Ed25519", "kid": signer.kid, "typ": "test+jwt"}


@pytest.mark.parametrize("alg", ["none", "HS256", "EdDSA"])
def test_another_algorithm_is_refused(signer: Signer, alg: str) -> None:
    token = jws.sign(signer, {"a": 1}, "t")
    forged_header = jws.b64url(jws.canonical_json({"alg": alg, "kid": signer.kid, "typ": "t"}))
    with pytest.raises(jws.JWSError, match="not accepted"):
        jws.verify(forged_header + token[token.index(".") :], signer.public_keys(), "t")


def test_an_altered_payload_another_key_or_another_type_is_refused(signer: Signer) -> None:
    token = jws.sign(signer, {"scope": "transit"}, "t")
    head, _, sig = token.split(".")
    altered = f"{head}.{jws.b64url(jws.canonical_json({'scope': 'health'}))}.{sig}"
    with pytest.raises(jws.JWSError, match="does not verify"):
        jws.verify(altered, signer.public_keys(), "t")
    with pytest.raises(jws.JWSError, match="not among"):
        jws.verify(token, Signer(KeySet.ephemeral(RECEIPTS), "test").public_keys(), "t")
    with pytest.raises(jws.JWSError, match="type"):
        jws.verify(token, signer.public_keys(), "other")
