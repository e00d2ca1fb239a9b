from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .context import reset_current_ip, set_current_ip
from .errors import KaowuError

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str | None:
    """The client address, trusting X-Forwarded-For only behind the configured number of proxies."""
    proxies = getattr(settings, "AXES_IPWARE_PROXY_COUNT", None) or 0
    if proxies:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


class RequestContextMiddleware:
    """Makes the client IP available to services and renders an uncaught ``KaowuError`` (or rate limit) as a page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.client_ip = client_ip(request)
        token = set_current_ip(request.client_ip)
        try:
            return self.get_response(request)
        finally:
            reset_current_ip(token)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, KaowuError):
            return None
        logger.info("KaowuError %s on %s", exception.code, request.path)
        return render(request, "core/error.html", {"error": exception}, status=exception.status)
