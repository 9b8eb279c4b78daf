"""The five stand-in agencies. Each module exposes ``definition() -> AgencyDefinition``."""

from __future__ import annotations

import importlib

from sandbox.app import AgencyDefinition

AGENCY_IDS: tuple[str, ...] = ("social_security", "transit", "health", "housing_fund", "library")


def definition(agency_id: str) -> AgencyDefinition:
    if agency_id not in AGENCY_IDS:
        raise ValueError(f"unknown agency {agency_id!r}; known: {', '.join(AGENCY_IDS)}")
    module = importlib.import_module(f"sandbox.agencies.{agency_id}")
    result: AgencyDefinition = module.definition()
    return result
