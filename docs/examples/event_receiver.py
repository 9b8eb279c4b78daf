"""An example receiver of the hub's security events (RFC 8417 SETs, pushed by RFC 8935).

Standard library only, plus ``cryptography`` for Ed25519. Run it behind your TLS terminator::

    python event_receiver.py --hub https://hub.example --client YOUR_CLIENT_ID --port 8400

and register https://your-host/events with ``cardhub clients events --client ID --push URL``.

It answers 202 only after the SET verified and was stored, and rejects, with the RFC 8935 error:

- a forged event: bad signature, unknown key, another algorithm or type (``invalid_key``,
  ``invalid_request``); another issuer (``invalid_issuer``); another audience (``invalid_audience``);
- a replayed event: a ``jti`` already processed is acknowledged (202, so the hub stops re-sending a
  delivery whose answer it missed) but **not processed again**; an event older than the replay window
  (its ``jti`` may have left the store) is refused (``invalid_request``).
"""

from __future__ import annotations

import argparse
import base64
import json
import sqlite3
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CONSENT_EVENT = "urn:cardhub:secevent:consent-status"
KEYS_PATH = "/.well-known/cardhub-event-keys"
REPLAY_WINDOW = 30 * 86400  # keep jti this long; refuse events older than this


class Rejected(Exception):
    def __init__(self, err: str, description: str) -> None:
        super().__init__(description)
        self.err = err


class Replayed(Exception):
    """Seen before: acknowledge, do not act again."""


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Verifier:
    def __init__(self, hub: str, client_id: str, store: sqlite3.Connection) -> None:
        self.hub, self.client_id, self.store = hub.rstrip("/"), client_id, store
        self.keys: dict[str, Ed25519PublicKey] = {}
        store.execute("CREATE TABLE IF NOT EXISTS seen (jti TEXT PRIMARY KEY, at INTEGER)")

    def fetch_keys(self) -> None:
        with urllib.request.urlopen(self.hub + KEYS_PATH, timeout=10) as resp:
            document = json.load(resp)
        self.keys = {
            k["kid"]: Ed25519PublicKey.from_public_bytes(b64url(k["x"]))
            for k in document["keys"]
            if k.get("kty") == "OKP" and k.get("crv") == "Ed25519"
        }

    def verify(self, token: str) -> dict[str, Any]:
        try:
            protected, payload, signature = token.strip().split(".")
            header = json.loads(b64url(protected))
            claims = json.loads(b64url(payload))
        except ValueError:
            raise Rejected("invalid_request", "not a JWS in compact form") from None
        if header.get("alg") != "Ed25519" or header.get("typ") != "secevent+jwt":
            raise Rejected("invalid_request", "only alg Ed25519, typ secevent+jwt")
        if header.get("kid") not in self.keys:
            self.fetch_keys()  # a key rotated in since we last looked
        key = self.keys.get(header.get("kid"))
        if key is None:
            raise Rejected("invalid_key", "unknown key id")
        try:
            key.verify(b64url(signature), f"{protected}.{payload}".encode())
        except InvalidSignature:
            raise Rejected("invalid_key", "signature does not verify") from None
        if claims.get("iss") != self.hub:
            raise Rejected("invalid_issuer", "not our hub")
        if claims.get("aud") != self.client_id:
            raise Rejected("invalid_audience", "not for us")
        if not isinstance(claims.get("iat"), int) or claims["iat"] < time.time() - REPLAY_WINDOW:
            raise Rejected("invalid_request", "too old")
        try:
            with self.store:
                self.store.execute("INSERT INTO seen VALUES (?, ?)", (claims["jti"], int(time.time())))
        except sqlite3.IntegrityError:
            raise Replayed(claims["jti"]) from None
        return claims


def apply(claims: dict[str, Any]) -> None:
    """Your business: here, print; a real receiver deletes or stops using the citizen's data."""
    event = claims["events"][CONSENT_EVENT]
    status = event["consent_status_notification"]
    print(
        f"citizen {claims['sub_id']['id']}: consent {status['consent_id']} is {status['consent_status']} "
        f"({event['change']}; scopes now {event['scopes']}, withdrawn {event['withdrawn_scopes']})"
    )


def handler(verifier: Verifier) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(min(int(self.headers.get("Content-Length", 0)), 65536)).decode()
            try:
                claims = verifier.verify(body)
            except Replayed:
                self.answer(202, None)  # already processed: acknowledge only
                return
            except Rejected as exc:
                self.answer(400, {"err": exc.err, "description": str(exc)})
                return
            apply(claims)
            self.answer(202, None)

        def answer(self, status: int, body: dict[str, str] | None) -> None:
            self.send_response(status)
            data = json.dumps(body).encode() if body else b""
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub", required=True)
    parser.add_argument("--client", required=True)
    parser.add_argument("--port", type=int, default=8400)
    parser.add_argument("--store", default="seen-events.sqlite3")
    args = parser.parse_args()
    verifier = Verifier(args.hub, args.client, sqlite3.connect(args.store, check_same_thread=False))
    verifier.fetch_keys()
    ThreadingHTTPServer(("127.0.0.1", args.port), handler(verifier)).serve_forever()


if __name__ == "__main__":
    main()
