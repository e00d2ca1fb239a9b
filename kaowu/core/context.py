"""Per-request facts that services record without every caller threading them through.

Only the client IP lives here: services still take ``actor`` explicitly, but the IP that an audit row
or a rate limit needs comes from the request being served (or is ``None`` in a shell or a job).
"""

from __future__ import annotations

from contextvars import ContextVar

_client_ip: ContextVar[str | None] = ContextVar("kaowu_client_ip", default=None)


def current_ip() -> str | None:
    return _client_ip.get()


def set_current_ip(ip: str | None):
    """Set the IP for the current context; returns a token for ``reset_current_ip``."""
    return _client_ip.set(ip)


def reset_current_ip(token) -> None:
    _client_ip.reset(token)
