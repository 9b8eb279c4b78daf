"""The sandbox's idea of today. ``SANDBOX_TODAY=YYYY-MM-DD`` pins it for reproducible runs."""

from __future__ import annotations

import os
from datetime import date


def today() -> date:
    pinned = os.environ.get("SANDBOX_TODAY")
    return date.fromisoformat(pinned) if pinned else date.today()
