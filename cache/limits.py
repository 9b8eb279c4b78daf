"""A connector's rate limit shared by every hub instance, through the cache's backend (Redis).

Each process keeps its own token bucket (connectors/runtime.py), which smooths bursts; with a shared
backend the calls of all instances to one agency are also counted together, per second, and a call
over the agency's ``requests_per_second`` waits for the next second (or is refused when that would
pass its timeout). The backend failing lets calls through on the local bucket alone.
"""

from __future__ import annotations

import time

from cache.backend import CacheBackend, CacheUnavailable


class SharedRate:
    def __init__(self, backend: CacheBackend) -> None:
        self.backend = backend

    async def allow(self, agency: str, per_second: float) -> float:
        """0 when this call may go now; else how long until the next second, when it may try again."""
        now = time.time()
        second = int(now)
        try:
            calls = await self.backend.count(f"rate:{agency}:{second}", 2.0)
        except CacheUnavailable:
            return 0.0
        return 0.0 if calls <= per_second else (second + 1) - now
