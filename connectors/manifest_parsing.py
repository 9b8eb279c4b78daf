"""Reading a connector manifest: TOML or JSON text in, a checked ``Manifest`` out, or ``ManifestError``
listing every problem with the path it sits at ("auth.secret: field required"); and the published
JSON Schema (docs/connector-manifest.schema.json) generated from the same models.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

from pydantic import ValidationError

from connectors.manifest import Manifest, ManifestError, Problem, check_secret_env

MAX_MANIFEST_BYTES = 64 * 1024  # the five sandbox manifests are 2-4 KiB each


def parse(text: str | bytes, *, source_format: str | None = None) -> Manifest:
    """Text (TOML, or JSON when it starts with "{") -> a checked Manifest, or ManifestError."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError.at("", f"manifest is larger than the limit of {MAX_MANIFEST_BYTES} bytes")
    try:
        decoded = raw.decode("utf-8").removeprefix("\ufeff")  # a byte order mark some editors write
    except UnicodeDecodeError:
        raise ManifestError.at("", "manifest is not UTF-8 text") from None
    fmt = source_format or ("json" if decoded.lstrip().startswith("{") else "toml")
    try:
        data = json.loads(decoded) if fmt == "json" else tomllib.loads(decoded)
    except (ValueError, RecursionError) as exc:
        raise ManifestError.at("", f"not valid {fmt.upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise ManifestError.at("", "a manifest is a table (an object) at the top")
    return from_data(data)


def from_data(data: dict[str, Any]) -> Manifest:
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError([_problem(e) for e in exc.errors(include_url=False, include_input=False)]) from None
    from connectors.mapping_checks import check  # the mapping against the section's own types

    check(manifest)
    secret_env = getattr(manifest.auth, "secret_env", None)
    if secret_env is not None:
        check_secret_env(manifest.agency, secret_env)
    return manifest


def _problem(error: Any) -> Problem:
    loc = [str(part) for part in error["loc"]]
    # Tagged unions put the tag in the location ("auth.api_key.header"); the tag is not in the file.
    cleaned = [p for i, p in enumerate(loc) if not (i and loc[i - 1] in _TAGGED and p in _TAGGED[loc[i - 1]])]
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required"
    elif error["type"] == "union_tag_invalid":
        message = message.replace("Input tag", "value")
    return Problem(path=".".join(cleaned), reason=message.removeprefix("Value error, "))


_TAGGED = {
    "auth": frozenset({"api_key", "oauth2_client_credentials", "hmac", "none"}),
    "pagination": frozenset({"page", "offset", "cursor"}),
}


def json_schema() -> dict[str, Any]:
    """The published schema (docs/connector-manifest.schema.json; ``cardhub connectors schema``)."""
    schema: dict[str, Any] = _bare_paths(Manifest.model_json_schema(by_alias=True))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://cardhub.example/schemas/connector-manifest-v1.json"
    schema["title"] = "Citizen Card Hub connector manifest, version 1"
    return schema


def _bare_paths(node: Any) -> Any:
    """A field mapping may be a bare path string: say so wherever the schema refers to FieldMap."""
    if isinstance(node, dict):
        if node.get("$ref") == "#/$defs/FieldMap":
            return {"anyOf": [{"type": "string", "description": "A path, the same as {path = ...}"}, node]}
        return {k: _bare_paths(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_bare_paths(v) for v in node]
    return node
