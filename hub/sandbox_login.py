"""In sandbox mode citizens log in as the sandbox personas: username, password ``<username>-pass``.

Sandbox mode only: anyone can list the personas' passwords with ``cardhub sandbox personas``.
"""

from __future__ import annotations

import asyncio

from auth.login import PasswordTable
from sandbox.personas import PERSONAS


def persona_password_table() -> PasswordTable:
    """Hashes every persona's password: about 20 scrypt runs, so a second or two of CPU."""
    return PasswordTable.from_passwords((p.username, p.password, p.card_number) for p in PERSONAS)


class SandboxLogin:
    """A ``CitizenAuthenticator`` over the personas' password table, built on the first login.

    Building it takes a second or two of CPU; doing that lazily, in a thread, keeps it out of the
    hub's start-up (and out of every test and ``cardhub`` command that never logs anyone in).
    """

    def __init__(self) -> None:
        self._table: PasswordTable | None = None
        self._lock = asyncio.Lock()

    async def authenticate(self, username: str, password: str) -> str | None:
        if self._table is None:
            async with self._lock:
                if self._table is None:
                    self._table = await asyncio.to_thread(persona_password_table)
        return await self._table.authenticate(username, password)
