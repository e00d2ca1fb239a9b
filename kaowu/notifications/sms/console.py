"""A development backend: logs each message instead of sending it.

The log line (INFO on the ``kaowu.sms`` logger) shows the phone number and any number in the text
masked. Under ``DEBUG`` the backend also keeps the last ``RECENT_LIMIT`` messages, unmasked, in the
Django cache so that a tester can read verification codes on the ``notifications:dev_sms`` page.
"""

from __future__ import annotations

import logging
import uuid
from typing import TypedDict

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from kaowu.core.logging import mask_text
from kaowu.core.masking import mask_phone
from kaowu.notifications.sms.base import BaseSmsBackend, SmsMessage

logger = logging.getLogger("kaowu.sms")

RECENT_CACHE_KEY = "kaowu:sms:console:recent"
RECENT_LIMIT = 50
RECENT_TIMEOUT = 24 * 60 * 60  # seconds


class RecentSms(TypedDict):
    phone: str
    event: str
    text: str
    sent_at: str  # ISO 8601, aware


def recent_messages() -> list[RecentSms]:
    """The messages kept under DEBUG, newest first."""
    messages: list[RecentSms] = cache.get(RECENT_CACHE_KEY, [])
    return messages


class SmsBackend(BaseSmsBackend):
    """Logs the message (masked); under DEBUG also keeps it for the developer page. Sends nothing."""

    def send(self, message: SmsMessage) -> str:
        message_id = uuid.uuid4().hex
        logger.info(
            "SMS %s to %s [%s]: %s", message.event, mask_phone(message.phone), message_id, mask_text(message.text)
        )
        if settings.DEBUG:
            entry: RecentSms = {
                "phone": message.phone,
                "event": message.event,
                "text": message.text,
                "sent_at": timezone.now().isoformat(),
            }
            cache.set(RECENT_CACHE_KEY, [entry, *recent_messages()][:RECENT_LIMIT], RECENT_TIMEOUT)
        return message_id
