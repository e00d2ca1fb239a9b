"""A backend for tests: keeps every message in ``outbox``, like ``django.core.mail.outbox``."""

from __future__ import annotations

import uuid

from kaowu.notifications.sms.base import BaseSmsBackend, SmsMessage

outbox: list[SmsMessage] = []


def clear() -> None:
    """Empty ``outbox`` (in place, so references to it stay valid)."""
    outbox.clear()


class SmsBackend(BaseSmsBackend):
    """Appends the message to ``outbox``; sends nothing."""

    def send(self, message: SmsMessage) -> str:
        outbox.append(message)
        return uuid.uuid4().hex
