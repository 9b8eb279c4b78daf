"""Citizen login: who is at the keyboard, as a card number.

The web pages (``auth/web/pages.py``) ask a ``CitizenAuthenticator`` and know nothing else about
how citizens prove who they are. Today's implementation is ``PasswordTable``: usernames and salted
scrypt hashes held in memory, which is what the sandbox personas use (``hub/sandbox_login.py``).

The city's identity provider
----------------------------
A city IdP does not fit a username/password form: the citizen signs in on the IdP's own pages. In
production the hub is its OpenID Connect relying party (``auth/oidc/``, pages in
``auth/web/upstream.py``), and this form is not shown. Everything after login (the consent screen,
``/me``, revocation) reads only ``auth.web.session.current_citizen``. See docs/consent.md,
"Replacing the login".

Protection
----------
The login page throttles attempts per account and per address (``auth/throttle.py``) and answers an
unknown username exactly as a wrong password: same page, same status, and the same scrypt run
against a dummy hash. scrypt runs on a small pool of threads of its own (``HASHING_THREADS``), so a
login flood waits there and never occupies the worker threads the rest of the hub shares.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

# scrypt at n=2**14, r=8, p=1: 16 MiB and roughly 50-100 ms per guess on one core (RFC 7914's
# interactive-login recommendation). The parameters travel inside each stored hash, so they can be
# raised later without invalidating existing hashes.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_KEY_BYTES = 32
_SALT_BYTES = 16
# No citizen types a kilobyte-long password; refusing longer ones keeps a request from making the
# hub hash megabytes.
MAX_PASSWORD_LENGTH = 1024
# scrypt's threads: each run holds a core (OpenSSL releases the GIL) and 16 MiB for ~50-100 ms.
HASHING_THREADS = 2
_hashing = ThreadPoolExecutor(HASHING_THREADS, thread_name_prefix="cardhub-scrypt")


class CitizenAuthenticator(Protocol):
    async def authenticate(self, username: str, password: str) -> str | None:
        """The citizen's card number, or None when the username or password is wrong (never which)."""
        ...


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$salt$key`` with a fresh random salt (salt and key in unpadded base64)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, n, r, p)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time comparison of the derived key; a malformed stored hash never matches."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(key)
        derived = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(derived, expected)


class PasswordTable:
    """{username: (salted password hash, card number)}, checked with scrypt off the event loop."""

    def __init__(self, entries: Mapping[str, tuple[str, str]]) -> None:
        self._entries = dict(entries)
        # An unknown username is checked against this, so it costs the same time as a wrong password
        # and response times do not tell which usernames exist.
        self._dummy = hash_password(secrets.token_urlsafe(16))

    @classmethod
    def from_passwords(cls, users: Iterable[tuple[str, str, str]]) -> PasswordTable:
        """From (username, password, card number) triples; the plain passwords are not kept."""
        return cls({username: (hash_password(password), card) for username, password, card in users})

    def __len__(self) -> int:
        return len(self._entries)

    async def authenticate(self, username: str, password: str) -> str | None:
        if len(password) > MAX_PASSWORD_LENGTH:
            return None
        entry = self._entries.get(username)
        stored, card = entry if entry is not None else (self._dummy, None)
        check = functools.partial(verify_password, password, stored)
        matches = await asyncio.get_running_loop().run_in_executor(_hashing, check)
        return card if matches and card is not None else None


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # maxmem: 128 * n * r * p bytes plus headroom; Python's default (32 MiB) would refuse n=2**15.
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=_KEY_BYTES, maxmem=128 * n * r * (p + 1) + 1024 * 1024
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64") from exc
