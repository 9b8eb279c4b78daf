"""The credentials each stand-in agency expects from the hub. Sandbox-only values, never production.

The hub reads these (through ``sandbox.runner.agency_configs``) when it runs against the sandbox,
just as it reads the persona list; in production each agency hands its own to the operator.
"""

from __future__ import annotations

SOCIAL_SECURITY_APP_ID = "cardhub-sandbox"
SOCIAL_SECURITY_HMAC_SECRET = "sandbox-hmac-secret-social-security"
TRANSIT_CLIENT_ID = "cardhub-sandbox"
TRANSIT_CLIENT_SECRET = "sandbox-secret-transit"
HEALTH_API_KEY = "sandbox-key-health"
HOUSING_FUND_CLIENT_ID = "cardhub-sandbox"
HOUSING_FUND_CLIENT_SECRET = "sandbox-secret-housing-fund"
LIBRARY_API_KEY = "sandbox-key-library"
