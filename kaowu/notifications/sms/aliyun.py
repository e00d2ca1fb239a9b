"""Alibaba Cloud SMS (dysmsapi 2017-05-25).

Settings: ``SMS_SIGN_NAME`` and ``SMS_ALIYUN`` (``ACCESS_KEY_ID``, ``ACCESS_KEY_SECRET``, ``ENDPOINT``,
``TEMPLATES``: event → template code). The templates must be registered with Aliyun with the text of
``kaowu.notifications.sms.templates`` and ``${name}`` variables.
"""

from __future__ import annotations

import json

from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_dysmsapi20170525.models import SendSmsRequest
from alibabacloud_tea_openapi.models import Config
from django.conf import settings

from kaowu.notifications.sms.base import BaseSmsBackend, SmsMessage, SmsSendError, provider_setting, provider_template

PROVIDER = "aliyun"
CONNECT_TIMEOUT_MS = 5_000
READ_TIMEOUT_MS = 10_000


class SmsBackend(BaseSmsBackend):
    """Sends the event's template code and parameters through Aliyun's ``SendSms``; returns the BizId."""

    def get_client(self) -> Client:
        return Client(
            Config(
                access_key_id=provider_setting("SMS_ALIYUN", "ACCESS_KEY_ID"),
                access_key_secret=provider_setting("SMS_ALIYUN", "ACCESS_KEY_SECRET"),
                endpoint=provider_setting("SMS_ALIYUN", "ENDPOINT"),
                connect_timeout=CONNECT_TIMEOUT_MS,
                read_timeout=READ_TIMEOUT_MS,
            )
        )

    def send(self, message: SmsMessage) -> str:
        request = SendSmsRequest(
            phone_numbers=message.phone,
            sign_name=settings.SMS_SIGN_NAME,
            template_code=provider_template("SMS_ALIYUN", message.event),
            template_param=json.dumps(message.params, ensure_ascii=False),
        )
        client = self.get_client()
        try:
            response = client.send_sms(request)
        except Exception as exc:  # the SDK raises many unrelated types for HTTP, signing and network failures
            raise SmsSendError(PROVIDER, getattr(exc, "code", None) or type(exc).__name__, str(exc)) from exc
        body = response.body
        if body.code != "OK":
            raise SmsSendError(PROVIDER, body.code, body.message)
        biz_id: str = body.biz_id
        return biz_id
