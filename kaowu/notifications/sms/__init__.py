"""Sending SMS through a pluggable backend, like Django's e-mail backends.

``settings.SMS_BACKEND`` names the backend class:

- ``kaowu.notifications.sms.console.SmsBackend`` (default): logs the message; under DEBUG also keeps the
  last ones for the ``notifications:dev_sms`` page.
- ``kaowu.notifications.sms.locmem.SmsBackend``: collects messages in ``locmem.outbox`` for tests.
- ``kaowu.notifications.sms.aliyun.SmsBackend``: Alibaba Cloud SMS (``settings.SMS_ALIYUN``).
- ``kaowu.notifications.sms.tencent.SmsBackend``: Tencent Cloud SMS (``settings.SMS_TENCENT``).

Sending is synchronous and never retried here: callers queue it (a Celery task after commit).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from kaowu.notifications.sms.base import BaseSmsBackend, SmsMessage, SmsSendError

__all__ = ["BaseSmsBackend", "SmsMessage", "SmsSendError", "get_backend", "send_sms"]


def get_backend() -> BaseSmsBackend:
    """A new instance of ``settings.SMS_BACKEND`` (read on every call, so ``override_settings`` works)."""
    backend: BaseSmsBackend = import_string(settings.SMS_BACKEND)()
    return backend


def send_sms(phone: str, event: str, params: dict[str, str]) -> str:
    """Send ``event`` to ``phone`` through the configured backend; return the message id.

    Raises ``SmsSendError`` when the provider refuses or cannot be reached.
    """
    return get_backend().send(SmsMessage(phone=phone, event=event, params=params))
