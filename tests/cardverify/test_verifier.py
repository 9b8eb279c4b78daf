"""cardverify.verify: what it accepts, and the code of each refusal. Credentials come from the hub's
own issuer; the QR code goes through a PNG and an independent decoder (zxing-cpp) on the way."""

from __future__ import annotations

import base64
import io
import zlib

import cbor2
import pytest
import zxingcpp
from PIL import Image

from auth.card import qr
from auth.card.issuer import CardIssuer
from cardverify import PublicKeys, Purpose, Refusal, Verified, base45, ed25519, keyset, verify
from cardverify.format import PREFIX
from keys.keyring import CARD, KeySet, generate
from keys.signing import Signer

NOW = 1_800_000_000
OLD, NEW = generate("2026-12"), generate("2027-01")
TRANSIT = {"card_valid": True, "concession": "SENIOR"}


def issuer(setting: str) -> CardIssuer:
    return CardIssuer(KeySet.parse(CARD, setting), "https://hub.example", 300)


def published(setting: str) -> PublicKeys:
    return PublicKeys.from_jwks(issuer(setting).jwks())


def transit(setting: str = OLD, now: float = NOW) -> str:
    return issuer(setting).issue(Purpose.TRANSIT, "350200000002", TRANSIT, now=now).text


def refused(text: str, keys: PublicKeys, purpose: str = "transit", now: float = NOW + 10) -> str:
    answer = verify(text, keys, purpose, now)
    assert isinstance(answer, Refusal), answer
    return answer.code


def test_a_qr_code_rendered_to_png_and_read_by_another_decoder_verifies_offline() -> None:
    text = transit()
    image = Image.open(io.BytesIO(qr.png(text, scale=3)))
    found = zxingcpp.read_barcodes(image.convert("L"))
    assert [b.format for b in found] == [zxingcpp.BarcodeFormat.QRCode]
    assert found[0].text == text
    answer = verify(found[0].text, published(OLD), Purpose.TRANSIT, NOW + 10)
    assert isinstance(answer, Verified)
    assert answer.kid == "2026-12" and answer.facts == TRANSIT
    assert answer.claims.issuer == "https://hub.example"
    assert (answer.claims.issued_at, answer.claims.expires_at) == (NOW, NOW + 300)


def test_a_flipped_bit_anywhere_in_the_signed_bytes_is_a_bad_signature() -> None:
    raw = bytearray(zlib.decompress(base45.decode(transit()[len(PREFIX) :])))
    signed_claim = raw.index(b"SENIOR")
    raw[signed_claim] ^= 0x01  # "RENIOR": still well-formed, no longer what was signed
    text = PREFIX + base45.encode(zlib.compress(bytes(raw)))
    assert refused(text, published(OLD)) == "BAD_SIGNATURE"
    raw[signed_claim] ^= 0x01
    raw[-1] ^= 0x80  # the signature itself
    assert refused(PREFIX + base45.encode(zlib.compress(bytes(raw))), published(OLD)) == "BAD_SIGNATURE"


def test_expired_at_its_expiry_and_not_before() -> None:
    text = transit()
    assert isinstance(verify(text, published(OLD), "transit", NOW + 299), Verified)
    assert refused(text, published(OLD), now=NOW + 300) == "EXPIRED"
    assert refused(text, published(OLD), now=NOW - 61) == "EXPIRED"  # issued "in the future": a clock off


def test_a_credential_for_one_purpose_replayed_for_another_is_refused() -> None:
    library = issuer(OLD).issue(Purpose.LIBRARY, "350200000002", {"patron_valid": True, "borrowing_blocked": False})
    assert refused(library.text, published(OLD), "transit", library.issued_at.timestamp()) == "WRONG_PURPOSE"
    assert refused(transit(), published(OLD), "nonsense") == "WRONG_PURPOSE"


def test_an_unknown_key_and_a_rotated_out_key_are_unknown_keys() -> None:
    assert refused(transit(OLD), published(generate("elsewhere"))) == "UNKNOWN_KEY"
    # Rotation: the new key signs, the old one is still listed, so the old credential still verifies...
    rotating = f"{NEW},{OLD}"
    assert issuer(rotating).kid == "2027-01"
    assert [k["kid"] for k in issuer(rotating).jwks()["keys"]] == ["2027-01", "2026-12"]
    assert isinstance(verify(transit(OLD), published(rotating), "transit", NOW + 10), Verified)
    # ... until the old key is dropped: then the terminal no longer knows it.
    assert refused(transit(OLD), published(NEW)) == "UNKNOWN_KEY"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "CC1:",
        "HC1:NCF*A0M00FFWSWGSLKOE6",  # another scheme's prefix
        "CC1:not base45!",
        "CC1:" + base45.encode(b"not zlib"),
        "CC1:" + base45.encode(zlib.compress(cbor2.dumps([1, 2, 3]))),
        "CC1:" + base45.encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""])))),
        "CC1:" + base45.encode(zlib.compress(b"\x00" * 100_000)),  # a zip bomb's small cousin
        "CC1:" + "0" * 5000,
        "\x00" * 10,
        "CC1:☃",
    ],
)
def test_garbage_is_malformed(text: str) -> None:
    assert refused(text, published(OLD)) == "MALFORMED"


def test_every_truncation_is_refused_with_a_code() -> None:
    text = transit()
    for end in range(len(text)):
        assert refused(text[:end], published(OLD)) in ("MALFORMED", "BAD_SIGNATURE")


def test_a_credential_signed_with_another_algorithm_is_malformed() -> None:
    raw = cbor2.loads(zlib.decompress(base45.decode(transit()[len(PREFIX) :])))
    header = cbor2.loads(raw.value[0])
    header[1] = -8  # EdDSA: not what this format signs with
    raw.value[0] = cbor2.dumps(header)
    assert refused(PREFIX + base45.encode(zlib.compress(cbor2.dumps(raw))), published(OLD)) == "MALFORMED"


def test_both_signature_backends_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    good, other = transit(), transit(NEW)
    for backend in (ed25519._openssl, ed25519.checker):
        monkeypatch.setattr(ed25519, "checker", backend)
        keys = published(OLD)
        assert isinstance(verify(good, keys, "transit", NOW + 1), Verified)
        raw = bytearray(zlib.decompress(base45.decode(good[len(PREFIX) :])))
        raw[-5] ^= 1
        assert refused(PREFIX + base45.encode(zlib.compress(bytes(raw))), keys) == "BAD_SIGNATURE"
        assert refused(other, keys) == "UNKNOWN_KEY"


def test_a_key_set_loads_only_ed25519_signing_keys() -> None:
    jwk = Signer(KeySet.parse(CARD, OLD), "card credential").public_keys()[0].jwk()
    rsa = {"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"}
    keys = PublicKeys.from_jwks({"keys": [rsa, {**jwk, "use": "enc"}, jwk]})
    assert list(keys.by_kid) == [b"2026-12"]
    for bad in ("[]", "{}", '{"keys": [1]}', "not json", b"\xff"):
        with pytest.raises(keyset.KeySetError):
            PublicKeys.from_jwks(bad)
    short = {**jwk, "x": base64.urlsafe_b64encode(b"short").decode()}
    with pytest.raises(keyset.KeySetError, match="2026-12"):
        PublicKeys.from_jwks({"keys": [short]})
