"""The credential as a QR code (ISO/IEC 18004): error correction level M, at most version 12.

The text is base45, all in the QR code's alphanumeric mode (11 bits per two characters), so its
length alone fixes the version: up to 419 characters fit version 12 at level M.
"""

from __future__ import annotations

import io

import segno

from auth.card.errors import MAX_QR_VERSION, CredentialTooLarge


def make(text: str) -> segno.QRCode:
    code = segno.make_qr(text, error="m")  # a higher level is used when it fits the same version
    if code.version > MAX_QR_VERSION:  # type: ignore[operator]
        raise CredentialTooLarge(int(code.version))  # type: ignore[call-overload]
    return code


def version(text: str) -> int:
    return int(make(text).version)  # type: ignore[call-overload]


def svg(text: str, *, scale: int = 4) -> str:
    """An SVG with a quiet zone of 4 modules, as the standard asks; no XML declaration (inline in HTML)."""
    out = io.BytesIO()
    make(text).save(out, kind="svg", scale=scale, border=4, xmldecl=False, svgns=True, title="", nl=False)
    return out.getvalue().decode()


def png(text: str, *, scale: int = 4) -> bytes:
    out = io.BytesIO()
    make(text).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
