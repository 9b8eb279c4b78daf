"""GraphiQL, served by the hub itself: the page and every file it loads come from hub/static/graphiql/,
nothing from a CDN, so it works on a network with no way out (a government network, a laptop offline).

On in sandbox mode, off in production unless ``graphiql = true`` (hub/settings.py). The files are copied
from the npm packages pinned in hub/static/graphiql/package-lock.json (``make graphiql-assets``); the page
names each with its SRI hash, so a file changed after the page was built is refused by the browser.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

ASSETS = Path(__file__).parent / "static" / "graphiql"
ASSET_ROUTE = "/graphiql/{name}"
SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js")
STYLES = ("graphiql.min.css",)
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
DEFAULT_QUERY = """# Citizen Card Hub. Add your token under Headers:
#   {"Authorization": "Bearer <token>"}
# (cardhub demo prints one; cardhub token --persona CARD_NUMBER mints another.)
{
  me {
    cardNumber
    name
  }
}
"""


def routes(enabled: bool) -> list[BaseRoute]:
    return [Route(ASSET_ROUTE, _asset, methods=["GET", "HEAD"])] if enabled else []


@functools.cache
def page() -> str:
    """The page GET /graphql answers a browser with; assets are named relative to /graphql."""
    scripts = "\n".join(f'<script src="graphiql/{name}" integrity="{_integrity(name)}"></script>' for name in SCRIPTS)
    styles = "\n".join(f'<link rel="stylesheet" href="graphiql/{n}" integrity="{_integrity(n)}">' for n in STYLES)
    return _PAGE.format(styles=styles, scripts=scripts, query=json.dumps(DEFAULT_QUERY))


@functools.cache
def _integrity(name: str) -> str:
    digest = hashlib.sha384((ASSETS / name).read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode()


async def _asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in SCRIPTS and name not in STYLES:  # only the files the page loads, never a path
        return Response(status_code=404)
    media_type = MEDIA_TYPES[Path(name).suffix]
    return FileResponse(ASSETS / name, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Citizen Card Hub: GraphiQL</title>
<style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
{styles}
</head>
<body>
<div id="graphiql">Loading...</div>
{scripts}
<script>
const fetcher = GraphiQL.createFetcher({{ url: window.location.href.split("?")[0] }});
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {{
    fetcher: fetcher,
    defaultQuery: {query},
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    defaultEditorToolsVisibility: true,
  }}),
);
</script>
</body>
</html>
"""
