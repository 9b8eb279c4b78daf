"""The OAuth 2.0 authorization-code flow against a running hub, with the standard library only.

Walks what an app does, step by step, and plays the citizen's browser too (login form, consent form):

 1. reads the server metadata (/.well-known/oauth-authorization-server);
 2. sends the citizen to /oauth/authorize with PKCE S256, logs in, approves the consent form, and
    stops at the redirect to the app's redirect URI (checks state and iss);
 3. exchanges the code at /oauth/token;
 4. calls /graphql with the access token;
 5. refreshes (rotation); presenting the old refresh token again at once (a retry) gets the same pair,
    and once the hub's grace (refresh_grace_seconds) is over it revokes everything;
 6. authorizes again (the consent screen is skipped: already consented), introspects the access
    token (confidential clients only) and revokes the refresh token at /oauth/revoke.

Register the client first, against the same database as the hub (same CARDHUB_DATABASE_URL):

    cardhub clients create --name "Transit Helper" --type confidential \\
        --redirect-uri http://127.0.0.1:8099/callback --scope card --scope transit --scope health \\
        --purpose "Shows your transit balance and recent trips" --json

then, with the demo running (cardhub demo --port 8066):

    python docs/examples/oauth_flow.py --hub http://127.0.0.1:8066 --client-id CLIENT_ID \\
        --client-secret CLIENT_SECRET --redirect-uri http://127.0.0.1:8099/callback \\
        --scope "card transit health"

Leave out --client-secret for a public client: it sends its client_id in the body instead.
Nothing listens on the redirect URI: the script reads the code from the redirect itself.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import http.cookiejar
import json
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class Callback(Exception):
    """The hub redirected the browser to the app's redirect URI: the flow's front channel is over."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class StopAtRedirectUri(urllib.request.HTTPRedirectHandler):
    """Follows the hub's own redirects (to /login and back) but not the one to the app."""

    def __init__(self, redirect_uri: str) -> None:
        self.redirect_uri = redirect_uri

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if newurl.startswith(self.redirect_uri):
            raise Callback(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def pkce_pair() -> tuple[str, str]:
    """RFC 7636: a random verifier (43-128 characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)  # 64 characters
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


def inputs(page: str) -> list[dict[str, str]]:
    """Every <input> of a page, as {attribute: value} (enough for the hub's simple forms)."""
    found = []
    for tag in re.findall(r"<input\b[^>]*>", page):
        attributes = {k: html.unescape(v) for k, v in re.findall(r'(\w[\w-]*)="([^"]*)"', tag)}
        if re.search(r"\schecked\b", tag):
            attributes["checked"] = "checked"
        found.append(attributes)
    return found


def hidden_fields(page: str) -> list[tuple[str, str]]:
    return [(i["name"], i.get("value", "")) for i in inputs(page) if i.get("type") == "hidden"]


def short(token: str) -> str:
    return token[:10] + "..."


class App:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.hub = args.hub.rstrip("/")
        # The citizen's browser: keeps the hub's session cookie, stops at the app's redirect URI.
        self.browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), StopAtRedirectUri(args.redirect_uri)
        )
        self.meta: dict[str, Any] = {}

    # --- the back channel: the app's own requests to the hub --------------------------------------------

    def post_form(self, url: str, fields: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """POST application/x-www-form-urlencoded, authenticating the client as its type requires."""
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        fields = dict(fields)
        if self.args.client_secret:  # confidential: client_secret_basic (RFC 6749 section 2.3.1)
            pair = ":".join(urllib.parse.quote(v, safe="") for v in (self.args.client_id, self.args.client_secret))
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:  # public: no secret, just say who you are
            fields["client_id"] = self.args.client_id
        request = urllib.request.Request(url, urllib.parse.urlencode(fields).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request) as response:
                body = response.read()
                return response.status, json.loads(body) if body else {}
        except urllib.error.HTTPError as error:
            body = error.read()
            return error.code, json.loads(body) if body else {}

    def graphql(self, query: str, access_token: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            self.hub + "/graphql",
            json.dumps({"query": query}).encode(),
            {"Content-Type": "application/json", "Authorization": f"Bearer {access_token}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    # --- the steps ----------------------------------------------------------------------------------------

    def metadata(self) -> None:
        with urllib.request.urlopen(self.hub + "/.well-known/oauth-authorization-server") as response:
            self.meta = json.loads(response.read())
        print("1. metadata: issuer", self.meta["issuer"])
        print("   authorization_endpoint", self.meta["authorization_endpoint"])
        print("   token_endpoint        ", self.meta["token_endpoint"])

    def authorize(self, scope: str) -> tuple[str, str]:
        """The front channel. Returns the code and the PKCE verifier that goes with it."""
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(16)
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.args.client_id,
                "redirect_uri": self.args.redirect_uri,
                "scope": scope,
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        shown = False
        try:
            page = self.browser.open(f"{self.meta['authorization_endpoint']}?{query}")
            if urllib.parse.urlsplit(page.geturl()).path == "/login":
                page = self.log_in(page)
            shown = True
            self.consent(page)  # the hub redirects to the app: Callback
            raise SystemExit("the hub did not redirect to the redirect URI")
        except Callback as callback:
            location = callback.url
            if not shown:
                print("   no consent page: the citizen consented to all of it before")
        except urllib.error.HTTPError as error:  # an error page: the request itself was refused
            raise SystemExit(f"authorization refused: HTTP {error.code}") from None
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        if params.get("state") != state:
            raise SystemExit("state does not match: not the answer to this request")
        if params.get("iss") != self.meta["issuer"]:  # RFC 9207: the answer comes from this server
            raise SystemExit(f"iss {params.get('iss')!r} is not the issuer {self.meta['issuer']!r}")
        if "error" in params:
            raise SystemExit(f"authorization refused: {params['error']}: {params.get('error_description', '')}")
        print(f"   redirected to {self.args.redirect_uri} with code, state (checked) and iss={params['iss']} (checked)")
        return params["code"], verifier

    def log_in(self, page: Any) -> Any:
        """The login form: username, password and its hidden fields (csrf_token, next)."""
        form = hidden_fields(page.read().decode())
        form += [("username", self.args.username), ("password", self.args.password)]
        print(f"   login page: logging in as {self.args.username}")
        return self.browser.open(self.hub + "/login", urllib.parse.urlencode(form).encode())

    def consent(self, page: Any) -> None:
        """The consent form: tick what the citizen allows, then decision=allow."""
        text = page.read().decode()
        boxes = [i for i in inputs(text) if i.get("type") == "checkbox" and i.get("name") == "scope"]
        ticked = self.args.allow if self.args.allow is not None else [b["value"] for b in boxes if "checked" in b]
        print(
            "   consent page asks for",
            ", ".join(f"{b['value']} ({'ticked' if 'checked' in b else 'not ticked'})" for b in boxes),
        )
        print("   the citizen allows", ", ".join(ticked) or "nothing")
        form = hidden_fields(text) + [("scope", s) for s in ticked] + [("decision", "allow")]
        self.browser.open(self.hub + "/oauth/authorize", urllib.parse.urlencode(form).encode())

    def exchange(self, code: str, verifier: str, step: str) -> dict[str, Any]:
        status, tokens = self.post_form(
            self.meta["token_endpoint"],
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.args.redirect_uri,
                "code_verifier": verifier,
            },
        )
        if status != 200:
            raise SystemExit(f"token request refused: HTTP {status} {tokens}")
        print(
            f"{step}token: access_token {short(tokens['access_token'])} expires_in {tokens['expires_in']}"
            f" scope {tokens['scope']!r} refresh_token {short(tokens['refresh_token'])}"
        )
        return tokens

    def refresh(self, refresh_token: str) -> tuple[int, dict[str, Any]]:
        return self.post_form(
            self.meta["token_endpoint"], {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hub", default="http://127.0.0.1:8000")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", help="confidential clients; leave out for a public client")
    parser.add_argument("--redirect-uri", required=True)
    parser.add_argument("--scope", default="card transit", help="space-separated")
    parser.add_argument("--username", default="chenmeiling")
    parser.add_argument("--password", default="chenmeiling-pass")
    parser.add_argument("--allow", action="append", help="scopes to tick (default: what the page ticks)")
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help="the hub's refresh_grace_seconds (default 10)",
    )
    args = parser.parse_args()
    app = App(args)
    query = "{ me { cardNumber name transit { balance concession } health { healthCardNumber } } }"

    app.metadata()
    print("2. authorize: scope", repr(args.scope))
    code, verifier = app.authorize(args.scope)
    tokens = app.exchange(code, verifier, "3. ")
    granted = tokens["scope"]

    status, body = app.graphql(query, tokens["access_token"])
    print(f"4. graphql: HTTP {status}")
    print("  ", json.dumps(body, ensure_ascii=False))

    status, newer = app.refresh(tokens["refresh_token"])
    print(f"5. refresh: HTTP {status} new access_token {short(newer['access_token'])}", end="")
    print(f" new refresh_token {short(newer['refresh_token'])} scope {newer['scope']!r}")
    if args.grace > 0:  # a retry after a lost answer: the hub hands out the same pair again
        status, again = app.refresh(tokens["refresh_token"])
        same = again.get("refresh_token") == newer["refresh_token"]
        print(f"   the old refresh_token again at once: HTTP {status}, the same pair: {same}")
        time.sleep(args.grace + 1)
    status, error = app.refresh(tokens["refresh_token"])
    print(f"   the old refresh_token again after {args.grace:g}s: HTTP {status} {error}")
    status, body = app.graphql("{ me { cardNumber } }", newer["access_token"])
    print(f"   the newest access_token now: HTTP {status} {body['errors'][0]['message']}")
    status, error = app.refresh(newer["refresh_token"])
    print(f"   the newest refresh_token now: HTTP {status} {error}")

    print("6. authorize again, for what the citizen allowed:", repr(granted))
    code, verifier = app.authorize(granted)
    tokens = app.exchange(code, verifier, "   ")
    if args.client_secret:
        status, info = app.post_form(app.meta["introspection_endpoint"], {"token": tokens["access_token"]})
        print(f"   introspect: HTTP {status} {info}")
    status, answer = app.post_form(
        app.meta["revocation_endpoint"], {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
    )
    print(f"   revoke the refresh_token: HTTP {status} {answer}")
    if status == 200:
        status, body = app.graphql("{ me { cardNumber } }", tokens["access_token"])
        print(f"   its access_token now: HTTP {status} {body['errors'][0]['message']}")


if __name__ == "__main__":
    try:
        main()
    except SystemExit as stop:
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
            sys.exit(1)
        raise
