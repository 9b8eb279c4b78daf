"""The connector manifest: everything the hub needs to reach one agency and map its answers into one
profile section, declared in TOML (or JSON) instead of written in Python.

The models here check shapes (pydantic; ``connectors.manifest_parsing`` reads text into them and
names each problem's path); ``connectors.mapping_checks`` checks the mapping against the section's
types; the contract test (``connectors.lifecycle``) checks it against the live agency.
"""

from __future__ import annotations

import json
import os
import re
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from connectors.domain import AGENCY_IDS
from connectors.patterns import linear_pattern

MANIFEST_VERSION = 1
REDACTED = "<redacted>"  # stands for a secret in exports; registering it keeps the active version's secret
SECTIONS: tuple[str, ...] = AGENCY_IDS  # the profile sections a connector can serve

# No "__" and no "_" at the end: an agency's environment variables are CARDHUB_CONNECTOR_<ID>__*, and
# with these rules no agency's prefix is the start of another's.
Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$", min_length=2, max_length=40)]
# A dotted path into a JSON document: "data.loans", "registered_clinic.clinic_name".
FieldPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$", max_length=200)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_\-]+$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Scalar = str | int | bool


def _exactly_one(model: BaseModel, first: str, second: str) -> None:
    if (getattr(model, first) is None) == (getattr(model, second) is None):
        raise ValueError(f"give exactly one of {first} and {second}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Problem(BaseModel):
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class ManifestError(ValueError):
    """A manifest that cannot be accepted. ``problems`` name the path and the reason of each fault."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems

    @classmethod
    def at(cls, path: str, reason: str) -> Self:
        return cls([Problem(path=path, reason=reason)])


# --- auth ---------------------------------------------------------------------------------------


class _WithSecret(_Strict):
    secret: SecretStr | None = Field(
        default=None, description=f'The secret itself; never printed. "{REDACTED}" keeps the active version\'s.'
    )
    secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,99}$")] | None = Field(
        default=None,
        description="Name of an environment variable of the hub holding the secret instead; the operator sets "
        "aside CARDHUB_CONNECTOR_<AGENCY>__<NAME> for each agency, and a manifest may name only its own agency's.",
    )

    @model_validator(mode="after")
    def _one_secret(self) -> _WithSecret:
        _exactly_one(self, "secret", "secret_env")
        return self

    def resolved_secret(self, agency: str) -> str:
        if self.secret is not None:
            return self.secret.get_secret_value()
        assert self.secret_env is not None
        # Checked when the manifest was read too; checked again here, where the value is taken.
        check_secret_env(agency, self.secret_env)
        value = os.environ.get(self.secret_env)
        if not value:
            raise ManifestError.at("auth.secret_env", f"the hub's environment has no {self.secret_env}")
        return value


def secret_env_prefix(agency: str) -> str:
    return f"CARDHUB_CONNECTOR_{agency.upper()}__"


def secret_env_refusal(agency: str, name: str) -> str | None:
    """An agency's manifest may read only the variables the operator set aside for that agency: never a
    hub setting (CARDHUB_SESSION_SECRET, DATABASE_URL, ...) and never another agency's."""
    prefix = secret_env_prefix(agency)
    if name.startswith(prefix) and len(name) > len(prefix):
        return None
    return f"must name a variable the operator set aside for this agency: {prefix}<NAME>"


def check_secret_env(agency: str, name: str) -> None:
    if (reason := secret_env_refusal(agency, name)) is not None:
        raise ManifestError.at("auth.secret_env", reason)


class ApiKeyAuth(_WithSecret):
    kind: Literal["api_key"]
    header: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-]{1,64}$")]


class ClientCredentialsAuth(_WithSecret):
    kind: Literal["oauth2_client_credentials"]
    token_path: Annotated[str, StringConstraints(pattern=r"^/[^?#\s]*$", max_length=200)]
    client_id: Text


class HmacAuth(_WithSecret):
    kind: Literal["hmac"]
    app_id: Text


class NoAuth(_Strict):
    kind: Literal["none"]


Auth = Annotated[ApiKeyAuth | ClientCredentialsAuth | HmacAuth | NoAuth, Field(discriminator="kind")]


# --- answers --------------------------------------------------------------------------------------


class Match(_Strict):
    """An answer matches when its HTTP status (if given) and a field of its body (if given) are as stated."""

    status: Annotated[int, Field(ge=100, le=599)] | None = None
    field: FieldPath | None = None
    equals: Scalar | None = None

    @model_validator(mode="after")
    def _something(self) -> Match:
        if self.status is None and self.field is None:
            raise ValueError("give status, field, or both")
        if (self.field is None) != (self.equals is None):
            raise ValueError("field and equals go together")
        return self


class ErrorCode(_Strict):
    """For agencies that report failures in the body under HTTP 200: the field holding the code, and the
    number that turns a code into the HTTP status it stands for (errcode 50301 // 100 = 503)."""

    field: FieldPath
    status_divisor: Annotated[int, Field(ge=1)] = 1


class Responses(_Strict):
    data: FieldPath | None = Field(default=None, description="Where the payload sits in a successful answer.")
    success: Match | None = Field(default=None, description="What every successful answer says besides HTTP 200.")
    not_found: Match = Field(description="How the agency says it has no account for this citizen.")
    error_code: ErrorCode | None = None


# --- resources --------------------------------------------------------------------------------------


class PagePagination(_Strict):
    style: Literal["page"]
    page_param: Name = "page"
    size_param: Name = "size"
    page_size: Annotated[int, Field(ge=1, le=1000)]
    first_page: Annotated[int, Field(ge=0, le=1)] = 1
    total_pages: FieldPath | None = None
    total_items: FieldPath | None = None

    @model_validator(mode="after")
    def _one_total(self) -> PagePagination:
        _exactly_one(self, "total_pages", "total_items")
        return self


class OffsetPagination(_Strict):
    style: Literal["offset"]
    offset_param: Name = "offset"
    limit_param: Name = "limit"
    page_size: Annotated[int, Field(ge=1, le=1000)]
    total: FieldPath


class CursorPagination(_Strict):
    """Cursors and page tokens: each page names the next; none (null or "") ends the list."""

    style: Literal["cursor"]
    cursor_param: Name = "cursor"
    limit_param: Name = "limit"
    page_size: Annotated[int, Field(ge=1, le=1000)]
    next_cursor: FieldPath


Pagination = Annotated[PagePagination | OffsetPagination | CursorPagination, Field(discriminator="style")]
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class Resource(_Strict):
    path: Annotated[str, StringConstraints(pattern=r"^/[^?#\s]*$", max_length=300)] = Field(
        description="Path under base_url; {card_number} or {resource.field} are filled in and URL-quoted."
    )
    items: FieldPath | None = Field(default=None, description="For a list: where its items sit in each page.")
    pagination: Pagination | None = None
    identity: FieldPath | None = Field(
        default=None, description="A field that must equal the citizen card number asked for (else refused)."
    )

    @model_validator(mode="after")
    def _pagination_needs_items(self) -> Resource:
        if self.pagination is not None and self.items is None:
            raise ValueError("pagination needs items")
        if self.identity is not None and self.items is not None:
            raise ValueError("identity is checked on a single record, not on a list")
        return self

    def placeholders(self) -> list[str]:
        return _PLACEHOLDER.findall(self.path)


# --- mapping ------------------------------------------------------------------------------------


# strptime compiles its format into a regular expression, on the event loop: keep formats short.
DateFormat = Annotated[str, StringConstraints(min_length=2, max_length=40)]


class Reformat(_Strict):
    from_: Annotated[DateFormat, Field(alias="from")] = Field(description="strptime format of the agency's value")
    to: DateFormat = Field(description="strftime format of the hub's value")


class FieldMap(_Strict):
    """Where one section field comes from and how its value is read. A bare string is a path."""

    @model_validator(mode="before")
    @classmethod
    def _bare_path(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data

    path: FieldPath | None = None
    sum: list[FieldPath] | None = Field(default=None, min_length=2, description="Money: the sum of these.")
    money: Literal["fen", "decimal_string"] | None = None
    date: Annotated[str, StringConstraints(min_length=2, max_length=40)] | None = Field(
        default=None, description='strptime format, "epoch_ms" or "iso8601" (instants are taken in China time)'
    )
    datetime: Literal["iso8601", "epoch_ms"] | None = None
    reformat: Reformat | None = None
    enum: dict[str, Scalar] | None = Field(default=None, description="Agency value -> hub value.")
    unknown: Literal["error", "skip"] = Field(default="error", description="An enum value not in the map.")
    each: FieldPath | None = Field(default=None, description="For a list of values: the path inside each element.")
    nullable: bool = Field(default=False, description="null anywhere on the path gives null.")
    min: int | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldMap:
        _exactly_one(self, "path", "sum")
        return self


FieldSpec = FieldMap


class ListMap(_Strict):
    from_: Annotated[Name, Field(alias="from")] = Field(description="The list resource the items come from.")
    sort_by: Name | None = Field(default=None, description="A field of the mapped item to sort on (stable).")
    order: Literal["asc", "desc"] = "desc"
    fields: dict[Name, FieldSpec]


class SectionMap(_Strict):
    fields: dict[Name, FieldSpec] = Field(default_factory=dict)
    lists: dict[Name, ListMap] = Field(default_factory=dict)


# --- operations ----------------------------------------------------------------------------------


RetryOn = Literal["unavailable", "timeout"]


class Retry(_Strict):
    """Retries of idempotent reads (every call a manifest makes is a GET)."""

    attempts: Annotated[int, Field(ge=1, le=5)] = 1
    backoff_ms: Annotated[int, Field(ge=0, le=5000)] = 50
    on: tuple[RetryOn, ...] = ("unavailable",)


class RateLimit(_Strict):
    """What the hub allows itself towards the agency (per hub process); calls beyond it wait, briefly."""

    requests_per_second: Annotated[float, Field(gt=0, le=100_000)]
    burst: Annotated[int, Field(ge=1, le=100_000)] = 10


class Contract(_Strict):
    test_card_number: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{6,32}$")] = Field(
        description="A test citizen the agency keeps an account for; the contract test reads it before activation."
    )


class Manifest(_Strict):
    manifest_version: Literal[1] = 1
    agency: Id
    name: Text
    section: Literal["social_security", "transit", "health", "housing_fund", "library"]
    base_url: Annotated[str, StringConstraints(max_length=300)]
    health_path: Annotated[str, StringConstraints(pattern=r"^/[^?#\s]*$")] = "/openapi.json"
    card_number_pattern: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="Card numbers not matching it have no account here (and are never sent)."
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 3.0
    max_connections: Annotated[int, Field(ge=1, le=1000)] = 100
    cache_ttl_seconds: Annotated[int, Field(ge=0, le=86_400)] = 60
    retry: Retry = Field(default_factory=Retry)
    rate_limit: RateLimit | None = None
    auth: Auth
    responses: Responses | None = Field(default=None, description="Required with a mapping.")
    resources: dict[Name, Resource] = Field(default_factory=dict)
    mapping: SectionMap | None = None
    adapter: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.\-]{1,60}$")] | None = Field(
        default=None, description="Entry point (group cardhub.connectors) of a Python adapter, instead of a mapping."
    )
    contract: Contract

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http or https URL with a host")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials: put them in [auth]")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        return value.rstrip("/")

    @field_validator("card_number_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            linear_pattern(value)  # PatternRefused (a ValueError) says why: only RE2 patterns run here
        return value

    @model_validator(mode="after")
    def _mapping_or_adapter(self) -> Manifest:
        _exactly_one(self, "mapping", "adapter")
        if self.mapping is not None and not self.resources:
            raise ValueError("a mapping needs resources")
        if self.mapping is not None and self.responses is None:
            raise ValueError("a mapping needs responses (how the agency says success and 'no such citizen')")
        return self

    def secret_free(self) -> dict[str, Any]:
        """The manifest as plain data with the secret replaced by REDACTED: safe to print and return."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        if "secret" in data["auth"]:
            data["auth"]["secret"] = REDACTED
        return data

    def to_toml(self) -> str:
        return tomli_w.dumps(self.secret_free())

    def secret_json(self) -> str:
        """The manifest as JSON with its secret in the clear: to seal before storing, never to print."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        if self.auth.kind != "none" and isinstance(self.auth, _WithSecret) and self.auth.secret is not None:
            data["auth"]["secret"] = self.auth.secret.get_secret_value()
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @property
    def keeps_active_secret(self) -> bool:
        secret = getattr(self.auth, "secret", None)
        return isinstance(secret, SecretStr) and secret.get_secret_value() == REDACTED
