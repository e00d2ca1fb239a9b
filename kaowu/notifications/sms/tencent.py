"""Tencent Cloud SMS (API 2021-01-11).

Settings: ``SMS_SIGN_NAME`` and ``SMS_TENCENT`` (``SECRET_ID``, ``SECRET_KEY``, ``REGION``, ``SDK_APP_ID``,
``TEMPLATES``: event → template id). The templates must be registered with Tencent Cloud with the text
of ``kaowu.notifications.sms.templates``, its placeholders numbered ``{1}``, ``{2}``… in order of
appearance (``templates.placeholders``).
"""

from __future__ import annotations

from django.conf import settings
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111.models import SendSmsRequest
from tencentcloud.sms.v20210111.sms_client import SmsClient

from kaowu.notifications.sms.base import BaseSmsBackend, SmsMessage, SmsSendError, provider_setting, provider_template
from kaowu.notifications.sms.templates import placeholders

PROVIDER = "tencent"
TIMEOUT_SECONDS = 10


class SmsBackend(BaseSmsBackend):
    """Sends the event's template id and ordered parameters through Tencent's ``SendSms``; returns the SerialNo."""

    def get_client(self) -> SmsClient:
        credential = Credential(
            provider_setting("SMS_TENCENT", "SECRET_ID"), provider_setting("SMS_TENCENT", "SECRET_KEY")
        )
        profile = ClientProfile(httpProfile=HttpProfile(reqTimeout=TIMEOUT_SECONDS))
        return SmsClient(credential, provider_setting("SMS_TENCENT", "REGION"), profile)

    def send(self, message: SmsMessage) -> str:
        request = SendSmsRequest()
        request.PhoneNumberSet = [f"+86{message.phone}"]
        request.SmsSdkAppId = provider_setting("SMS_TENCENT", "SDK_APP_ID")
        request.SignName = settings.SMS_SIGN_NAME
        request.TemplateId = provider_template("SMS_TENCENT", message.event)
        request.TemplateParamSet = [message.params[name] for name in placeholders(message.event)]
        client = self.get_client()
        try:
            response = client.SendSms(request)
        except TencentCloudSDKException as exc:  # the SDK wraps network failures in this type too
            raise SmsSendError(PROVIDER, exc.get_code(), exc.get_message()) from exc
        status = response.SendStatusSet[0]
        if status.Code != "Ok":
            raise SmsSendError(PROVIDER, status.Code, status.Message)
        serial_no: str = status.SerialNo
        return serial_no
