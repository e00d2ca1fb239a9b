from datetime import datetime

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from kaowu.notifications.sms.console import recent_messages


def dev_sms(request: HttpRequest) -> HttpResponse:
    """Development only (404 unless DEBUG): the last SMS the console backend "sent", newest first."""
    if not settings.DEBUG:
        raise Http404
    messages = [{**message, "sent_at": datetime.fromisoformat(message["sent_at"])} for message in recent_messages()]
    return render(request, "notifications/dev_sms.html", {"sms_messages": messages})
