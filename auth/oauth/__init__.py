"""The OAuth 2.0 authorization server: Authlib's protocol code over the hub's own storage."""
