"""Errors the pages show to citizens: a status and a message id (``auth/web/i18n.py``), no traceback."""

from __future__ import annotations

from starlette.exceptions import HTTPException

from auth.web.i18n import EN, format_message


class WebError(HTTPException):
    """Rendered as error.html, in the citizen's language, by ``auth.web.pages.web_error_handler``.

    A subclass of Starlette's HTTPException, so an app that has not registered that handler still
    answers with the status and a plain English message rather than a 500.
    """

    def __init__(self, status: int, message_id: str, **params: str) -> None:
        super().__init__(status, detail=format_message(EN, message_id, params))
        self.message_id = message_id
        self.params = params
