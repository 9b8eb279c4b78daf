"""Base45 (RFC 9285): bytes as text of the QR code's alphanumeric mode, 11 bits per character.

Every two bytes become three characters, a last single byte two. Decoding refuses characters
outside the alphabet and values that no encoder could have written (RFC 9285 section 6: "a
decoder MUST reject" a triplet above 65535 or a pair above 255).
"""

from __future__ import annotations

import struct

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID = 0xFF
# ASCII code -> the character's value, 0xFF for characters outside the alphabet.
_TABLE = bytes(ALPHABET.index(chr(b)) if chr(b) in ALPHABET else _INVALID for b in range(256))


class Base45Error(ValueError):
    """Text that is not base45."""


def encode(data: bytes) -> str:
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (ALPHABET[c], ALPHABET[d])
    return "".join(out)


def decode(text: str) -> bytes:
    try:
        values = text.encode("ascii").translate(_TABLE)
    except UnicodeEncodeError:
        raise Base45Error("a character outside the base45 alphabet") from None
    if _INVALID in values:
        raise Base45Error("a character outside the base45 alphabet")
    if len(values) % 3 == 1:
        raise Base45Error("base45 text of impossible length")
    whole = len(values) - len(values) % 3
    triplets = [
        c + d * 45 + e * 2025 for c, d, e in zip(values[0:whole:3], values[1:whole:3], values[2:whole:3], strict=True)
    ]
    try:
        out = struct.pack(f">{len(triplets)}H", *triplets)  # refuses a triplet above 65535
    except struct.error:
        raise Base45Error("a base45 triplet above 65535") from None
    if whole < len(values):
        n = values[whole] + values[whole + 1] * 45
        if n > 0xFF:
            raise Base45Error("a base45 pair above 255")
        out += bytes((n,))
    return out
