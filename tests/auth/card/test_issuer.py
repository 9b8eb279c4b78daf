"""CardIssuer: the claims it signs, its pseudonyms across purposes and key rotations, the size bound,
and the published test vectors; cross-checked with an independent COSE/CWT library (cwt)."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import cwt
import pytest

from auth.card import qr
from auth.card.errors import CredentialTooLarge
from auth.card.issuer import CardIssuer
from cardverify import PublicKeys, Purpose, Verified, base45, verify
from cardverify.format import PREFIX
from keys.keyring import CARD, KeySet, generate
from sandbox.personas import PERSONAS
from tests.auth.card import vectors

DOC = Path(__file__).resolve().parents[3] / "docs" / "virtual-card.md"
OLD, NEW = generate("2026-12"), generate("2027-01")
CARD_NUMBER = "350200000001"


def issuer(setting: str = OLD, issuer_url: str = "https://hub.example") -> CardIssuer:
    return CardIssuer(KeySet.parse(CARD, setting), issuer_url, 300)


def test_the_pseudonym_is_stable_per_purpose_and_key_and_unlinkable_across_them() -> None:
    one = issuer()
    transit = one.pseudonym(CARD_NUMBER, Purpose.TRANSIT)
    assert transit == issuer().pseudonym(CARD_NUMBER, Purpose.TRANSIT)  # every hub instance agrees
    assert transit != one.pseudonym(CARD_NUMBER, Purpose.LIBRARY)  # two terminals cannot join records
    assert transit != one.pseudonym("350200000002", Purpose.TRANSIT)
    assert CARD_NUMBER.encode() not in transit
    # A rotation changes it: the new key's period is a new pseudonym; listing the old key second keeps
    # the old credentials verifiable, not the old pseudonyms.
    assert issuer(f"{NEW},{OLD}").pseudonym(CARD_NUMBER, Purpose.TRANSIT) != transit
    assert issuer(f"{OLD},{NEW}").pseudonym(CARD_NUMBER, Purpose.TRANSIT) == transit


def test_a_credential_carries_exactly_its_purposes_claims() -> None:
    with pytest.raises(ValueError, match="exactly"):
        issuer().issue(Purpose.TRANSIT, CARD_NUMBER, {"card_valid": True, "concession": "NONE", "name": "x"})
    with pytest.raises(ValueError, match="seconds"):
        CardIssuer(KeySet.parse(CARD, OLD), "https://hub.example", 301)


def test_an_independent_cwt_library_reads_what_the_hub_signs() -> None:
    one = issuer()
    issued = one.issue(Purpose.IDENTITY, CARD_NUMBER, {"name": "郑𠮷", "card_number": CARD_NUMBER})
    key = cwt.COSEKey.from_jwk(one.jwks()["keys"][0])
    raw = zlib.decompress(base45.decode(issued.text[len(PREFIX) :]))
    claims = cwt.decode(raw, key, no_verify=False)
    assert isinstance(claims, dict)
    assert claims[1] == "https://hub.example"
    assert claims[4] - claims[6] == 300
    assert claims[-65537][40] == "郑𠮷" and claims[-65537][41] == CARD_NUMBER
    assert claims[-65537][1] == Purpose.IDENTITY.value


def test_the_largest_persona_fits_version_12_with_a_long_issuer_and_an_absurd_name_is_refused() -> None:
    one = issuer(issuer_url="https://citizen-card.xiamen.gov.cn")  # longer than most cities' hub URL
    longest = max(PERSONAS, key=lambda p: len(p.name.encode()))
    clinic = {"health_card_number": "HC3502031234567890", "registered_clinic": "思明区鹭江街道社区卫生服务中心"}
    for purpose, facts in (
        (Purpose.IDENTITY, {"name": longest.name, "card_number": longest.card_number}),
        (Purpose.CLINIC, clinic),
        (Purpose.TRANSIT, {"card_valid": True, "concession": "DISABLED"}),
        (Purpose.LIBRARY, {"patron_valid": True, "borrowing_blocked": True}),
    ):
        issued = one.issue(purpose, longest.card_number, facts)
        assert issued.qr_version <= 12, (purpose, issued.qr_version, len(issued.text))
    with pytest.raises(CredentialTooLarge) as refused:
        one.issue(
            Purpose.IDENTITY,
            CARD_NUMBER,
            {"name": "".join(chr(0x4E00 + 97 * i) for i in range(64)), "card_number": CARD_NUMBER},
        )
    assert refused.value.code == "CREDENTIAL_TOO_LARGE" and refused.value.version > 12


def test_the_svg_is_a_qr_code_with_its_quiet_zone() -> None:
    svg = qr.svg(issuer().issue(Purpose.TRANSIT, CARD_NUMBER, {"card_valid": True, "concession": "NONE"}).text)
    assert svg.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in svg and "<?xml" not in svg


@pytest.mark.parametrize("purpose", list(Purpose))
def test_the_documented_vectors_are_what_the_format_gives_and_verify(purpose: Purpose) -> None:
    text = vectors.vector(purpose)
    documented = re.findall(rf"^{purpose.label}: (CC1:[^\n]+)$", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    assert documented == [text]
    keys = PublicKeys.from_jwks({"keys": [k.jwk() for k in vectors.signer().public_keys()]})
    answer = verify(text, keys, purpose, vectors.VERIFY_AT)
    assert isinstance(answer, Verified) and dict(answer.facts) == vectors.FACTS[purpose]
    assert answer.claims == vectors.claims(purpose)
