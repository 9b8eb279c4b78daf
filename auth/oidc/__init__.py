"""The hub as an OpenID Connect relying party of the city's identity provider (OpenID Connect Core 1.0).

Citizens prove who they are at the city's provider; the hub turns the provider's subject into a card
number (``links.py``) and starts its own session. The hub stays the OAuth authorization server for
apps: nothing the provider issues reaches an app.
"""
