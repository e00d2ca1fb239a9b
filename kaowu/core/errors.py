"""The one error type that services raise for anything a user can cause or fix.

A ``KaowuError`` carries a stable dotted ``code`` (for the API, tests and logs) and a translatable
message that tells the person what happened and what to do next. Views turn it into a form error or an
error page (``kaowu.core.middleware``); it never becomes a 500.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise


class KaowuError(Exception):
    """A refusal a user can understand.

    ``field`` names the form field the message belongs to, if any; ``status`` is the HTTP status used
    when the error is rendered as a page (400 bad input, 403 not allowed, 409 conflict with state,
    429 too many attempts).
    """

    def __init__(
        self,
        code: str,
        message: str | Promise,
        *,
        field: str | None = None,
        status: int = 400,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        self._message = message
        self.field = field
        self.status = status
        self.params = params or {}

    @property
    def message(self) -> str:
        text = str(self._message)
        return text % self.params if self.params else text

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
