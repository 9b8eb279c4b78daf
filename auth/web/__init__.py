"""The server-rendered pages citizens see: login, the consent screen, and "My data" (/me).

No JavaScript, Jinja2 with autoescape, sessions in a signed cookie (Starlette's SessionMiddleware),
a CSRF token on every form, Simplified Chinese by default and English on request.
"""
