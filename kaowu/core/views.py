from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe


def ratelimited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """django-ratelimit's refusal page: says what happened and what to do, with status 429."""
    message = _("操作过于频繁，请稍后再试。如多次遇到此提示，请过一小时后再操作。")
    return render(request, "core/error.html", {"error": {"message": message, "code": "ratelimited"}}, status=429)


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness check for a load balancer: answers "ok" and touches neither the database nor the session.

    It is also the hello-world baseline that bench/submit.py compares submission throughput with.
    """
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")
