import json
import logging
from datetime import datetime
from unittest import mock

import pytest
from alibabacloud_dysmsapi20170525.client import Client as AliyunClient
from alibabacloud_dysmsapi20170525.models import SendSmsResponse as AliyunResponse
from alibabacloud_dysmsapi20170525.models import SendSmsResponseBody as AliyunResponseBody
from alibabacloud_tea_openapi.exceptions import ClientException
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404
from django.urls import include, path, resolve, reverse
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.sms.v20210111.models import SendSmsResponse as TencentResponse
from tencentcloud.sms.v20210111.sms_client import SmsClient as TencentClient

from kaowu.notifications.sms import SmsMessage, SmsSendError, get_backend, locmem, send_sms
from kaowu.notifications.sms.aliyun import SmsBackend as AliyunBackend
from kaowu.notifications.sms.console import RECENT_CACHE_KEY, RECENT_LIMIT, recent_messages
from kaowu.notifications.sms.console import SmsBackend as ConsoleBackend
from kaowu.notifications.sms.templates import placeholders, render
from kaowu.notifications.sms.tencent import SmsBackend as TencentBackend

# This module doubles as the URLconf of the dev page tests (the project URLconf may not include ours yet).
urlpatterns = [path("", include("kaowu.notifications.urls"))]

PHONE = "13812345678"
CODE = {"code": "123456", "minutes": "5"}


@pytest.fixture(autouse=True)
def _clean_state():
    cache.delete(RECENT_CACHE_KEY)
    locmem.clear()
    yield
    cache.delete(RECENT_CACHE_KEY)
    locmem.clear()


# --- templates and message ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "params", "expected"),
    [
        ("verification_code", CODE, "您的验证码为123456，5分钟内有效。如非本人操作，请忽略本短信。"),
        (
            "password_changed",
            {"time": "2025-03-01 10:00"},
            "您的账户密码已于2025-03-01 10:00修改。如非本人操作，请立即通过找回密码重置并联系我们。",
        ),
        (
            "phone_changed",
            {"time": "2025-03-01 10:00", "new_phone": "139****0000"},
            "您账户绑定的手机号已于2025-03-01 10:00更换为139****0000。如非本人操作，请立即联系我们。",
        ),
    ],
)
def test_render_each_event(event, params, expected):
    assert render(event, params) == expected
    assert SmsMessage(phone=PHONE, event=event, params=params).text == expected


def test_placeholders_in_order_of_appearance():
    assert placeholders("verification_code") == ("code", "minutes")
    assert placeholders("phone_changed") == ("time", "new_phone")


def test_unknown_event_raises_key_error_naming_it():
    with pytest.raises(KeyError, match="no_such_event"):
        render("no_such_event", {})
    with pytest.raises(KeyError, match="no_such_event"):
        SmsMessage(phone=PHONE, event="no_such_event", params={})


def test_message_requires_exactly_the_template_parameters_as_strings():
    with pytest.raises(ValueError, match="minutes"):
        SmsMessage(phone=PHONE, event="verification_code", params={"code": "123456"})
    with pytest.raises(ValueError, match="extra"):
        SmsMessage(phone=PHONE, event="verification_code", params={**CODE, "extra": "x"})
    with pytest.raises(TypeError, match="minutes"):
        SmsMessage(phone=PHONE, event="verification_code", params={"code": "123456", "minutes": 5})


# --- backend selection, locmem --------------------------------------------------------------------


def test_get_backend_follows_settings(settings):
    settings.SMS_BACKEND = "kaowu.notifications.sms.console.SmsBackend"
    assert isinstance(get_backend(), ConsoleBackend)
    settings.SMS_BACKEND = "kaowu.notifications.sms.locmem.SmsBackend"
    assert isinstance(get_backend(), locmem.SmsBackend)


def test_send_sms_through_locmem_outbox(settings):
    settings.SMS_BACKEND = "kaowu.notifications.sms.locmem.SmsBackend"
    first = send_sms(PHONE, "verification_code", CODE)
    second = send_sms(PHONE, "password_changed", {"time": "10:00"})
    assert locmem.outbox == [
        SmsMessage(phone=PHONE, event="verification_code", params=CODE),
        SmsMessage(phone=PHONE, event="password_changed", params={"time": "10:00"}),
    ]
    assert first != second
    locmem.clear()
    assert locmem.outbox == []


# --- console --------------------------------------------------------------------------------------


def test_console_logs_masked_and_keeps_nothing_without_debug(settings, caplog):
    settings.DEBUG = False
    caplog.set_level(logging.INFO, logger="kaowu.sms")
    message = SmsMessage(phone=PHONE, event="phone_changed", params={"time": "10:00", "new_phone": "13900001111"})
    ConsoleBackend().send(message)
    assert "138****5678" in caplog.text
    assert "139****1111" in caplog.text
    assert PHONE not in caplog.text
    assert "13900001111" not in caplog.text
    assert [record.levelno for record in caplog.records] == [logging.INFO]
    assert recent_messages() == []


def test_console_keeps_recent_messages_under_debug(settings):
    settings.DEBUG = True
    for n in range(RECENT_LIMIT + 2):
        ConsoleBackend().send(SmsMessage(phone=PHONE, event="verification_code", params={**CODE, "code": str(n)}))
    recent = recent_messages()
    assert len(recent) == RECENT_LIMIT
    newest = recent[0]
    assert newest["phone"] == PHONE
    assert newest["event"] == "verification_code"
    assert newest["text"] == render("verification_code", {**CODE, "code": str(RECENT_LIMIT + 1)})
    assert datetime.fromisoformat(newest["sent_at"]).tzinfo is not None
    assert recent[-1]["text"] == render("verification_code", {**CODE, "code": "2"})


# --- Aliyun ---------------------------------------------------------------------------------------


@pytest.fixture
def aliyun(settings):
    settings.SMS_SIGN_NAME = "考务测试"
    settings.SMS_ALIYUN = {
        "ACCESS_KEY_ID": "test-id",
        "ACCESS_KEY_SECRET": "test-secret",
        "ENDPOINT": "dysmsapi.aliyuncs.com",
        "TEMPLATES": {"verification_code": "SMS_100001", "phone_changed": "SMS_100003"},
    }
    return AliyunBackend()


def aliyun_response(code, message, biz_id=None):
    body = AliyunResponseBody(biz_id=biz_id, code=code, message=message, request_id="req-1")
    return AliyunResponse(headers={}, status_code=200, body=body)


def test_aliyun_success_returns_biz_id_and_sends_template(aliyun):
    with mock.patch.object(AliyunClient, "send_sms", return_value=aliyun_response("OK", "OK", "biz-42")) as send:
        assert aliyun.send(SmsMessage(phone=PHONE, event="verification_code", params=CODE)) == "biz-42"
    (request,) = send.call_args.args
    assert request.phone_numbers == PHONE
    assert request.sign_name == "考务测试"
    assert request.template_code == "SMS_100001"
    assert json.loads(request.template_param) == CODE


def test_aliyun_template_param_keeps_chinese_unescaped(aliyun):
    params = {"time": "3月1日 10:00", "new_phone": "139****0000"}
    with mock.patch.object(AliyunClient, "send_sms", return_value=aliyun_response("OK", "OK", "biz-1")) as send:
        aliyun.send(SmsMessage(phone=PHONE, event="phone_changed", params=params))
    assert "3月1日" in send.call_args.args[0].template_param


def test_aliyun_refusal_raises_send_error(aliyun):
    response = aliyun_response("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5")
    with mock.patch.object(AliyunClient, "send_sms", return_value=response), pytest.raises(SmsSendError) as info:
        aliyun.send(SmsMessage(phone=PHONE, event="verification_code", params=CODE))
    assert (info.value.provider, info.value.code) == ("aliyun", "isv.BUSINESS_LIMIT_CONTROL")
    assert info.value.detail == "触发小时级流控Permits:5"


@pytest.mark.parametrize(
    ("exception", "code"),
    [
        (ClientException(code="InvalidAccessKeyId.NotFound", message="no such key"), "InvalidAccessKeyId.NotFound"),
        (ConnectionError("connection refused"), "ConnectionError"),
    ],
)
def test_aliyun_sdk_or_network_failure_raises_send_error(aliyun, exception, code):
    with mock.patch.object(AliyunClient, "send_sms", side_effect=exception), pytest.raises(SmsSendError) as info:
        aliyun.send(SmsMessage(phone=PHONE, event="verification_code", params=CODE))
    assert (info.value.provider, info.value.code) == ("aliyun", code)
    assert info.value.__cause__ is exception


def test_aliyun_missing_template_or_key_is_improperly_configured(aliyun, settings):
    with mock.patch.object(AliyunClient, "send_sms") as send:
        with pytest.raises(ImproperlyConfigured, match="password_changed"):
            aliyun.send(SmsMessage(phone=PHONE, event="password_changed", params={"time": "10:00"}))
        settings.SMS_ALIYUN = {**settings.SMS_ALIYUN, "ACCESS_KEY_SECRET": ""}
        with pytest.raises(ImproperlyConfigured, match="ACCESS_KEY_SECRET"):
            aliyun.send(SmsMessage(phone=PHONE, event="verification_code", params=CODE))
    send.assert_not_called()


# --- Tencent --------------------------------------------------------------------------------------


@pytest.fixture
def tencent(settings):
    settings.SMS_SIGN_NAME = "考务测试"
    settings.SMS_TENCENT = {
        "SECRET_ID": "test-id",
        "SECRET_KEY": "test-key",
        "REGION": "ap-guangzhou",
        "SDK_APP_ID": "1400000000",
        "TEMPLATES": {"verification_code": "200001", "phone_changed": "200003"},
    }
    return TencentBackend()


def tencent_response(code, message, serial_no=""):
    response = TencentResponse()
    status = {"SerialNo": serial_no, "PhoneNumber": f"+86{PHONE}", "Code": code, "Message": message}
    response._deserialize({"SendStatusSet": [status], "RequestId": "req-1"})
    return response


def test_tencent_success_returns_serial_no_and_sends_ordered_params(tencent):
    params = {"new_phone": "139****0000", "time": "10:00"}  # dict order differs from the text's
    response = tencent_response("Ok", "send success", "sn-7")
    with mock.patch.object(TencentClient, "SendSms", return_value=response) as send:
        assert tencent.send(SmsMessage(phone=PHONE, event="phone_changed", params=params)) == "sn-7"
    (request,) = send.call_args.args
    assert request.PhoneNumberSet == [f"+86{PHONE}"]
    assert request.SmsSdkAppId == "1400000000"
    assert request.SignName == "考务测试"
    assert request.TemplateId == "200003"
    assert request.TemplateParamSet == ["10:00", "139****0000"]


def test_tencent_refusal_raises_send_error(tencent):
    response = tencent_response("LimitExceeded.PhoneNumberThirtySecondLimit", "30秒内限发1条")
    with mock.patch.object(TencentClient, "SendSms", return_value=response), pytest.raises(SmsSendError) as info:
        tencent.send(SmsMessage(phone=PHONE, event="verification_code", params=CODE))
    assert (info.value.provider, info.value.code) == ("tencent", "LimitExceeded.PhoneNumberThirtySecondLimit")
    assert info.value.detail == "30秒内限发1条"


def test_tencent_sdk_exception_raises_send_error(tencent):
    exception = TencentCloudSDKException("ClientNetworkError", "timed out")
    with mock.patch.object(TencentClient, "SendSms", side_effect=exception), pytest.raises(SmsSendError) as info:
        tencent.send(SmsMessage(phone=PHONE, event="verification_code", params=CODE))
    assert (info.value.provider, info.value.code, info.value.detail) == ("tencent", "ClientNetworkError", "timed out")
    assert info.value.__cause__ is exception


def test_tencent_missing_template_is_improperly_configured(tencent):
    with mock.patch.object(TencentClient, "SendSms") as send, pytest.raises(ImproperlyConfigured, match="SMS_TENCENT"):
        tencent.send(SmsMessage(phone=PHONE, event="password_changed", params={"time": "10:00"}))
    send.assert_not_called()


# --- developer page -------------------------------------------------------------------------------


@pytest.fixture
def stub_base_template(settings):
    """Renders our template inside a bare base.html, independent of the site layout and its URLs."""
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {
                "loaders": [
                    ("django.template.loaders.locmem.Loader", {"base.html": "{% block content %}{% endblock %}"}),
                    "django.template.loaders.app_directories.Loader",
                ],
            },
        }
    ]


@pytest.mark.urls(__name__)
def test_dev_page_is_404_without_debug(settings, rf):
    settings.DEBUG = False
    url = reverse("notifications:dev_sms")
    with pytest.raises(Http404):
        resolve(url).func(rf.get(url))


@pytest.mark.urls(__name__)
@pytest.mark.usefixtures("stub_base_template")
def test_dev_page_lists_recent_messages_newest_first(settings, rf):
    settings.DEBUG = True
    ConsoleBackend().send(SmsMessage(phone="13900001111", event="password_changed", params={"time": "09:00"}))
    ConsoleBackend().send(SmsMessage(phone=PHONE, event="verification_code", params=CODE))
    url = reverse("notifications:dev_sms")
    assert url == "/dev/sms/"
    response = resolve(url).func(rf.get(url))
    assert response.status_code == 200
    html = response.content.decode()
    assert "开发用：最近发送的短信" in html
    assert PHONE in html
    assert html.index(render("verification_code", CODE)) < html.index("您的账户密码已于09:00修改")
