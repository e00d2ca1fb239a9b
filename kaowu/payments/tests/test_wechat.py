"""WechatPayProvider, offline: notifications signed with a throwaway "platform" key and encrypted with a test
APIv3 key; gateway answers faked at requests (the library's HTTP layer), signed like WeChat Pay signs them."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.test import override_settings
from requests.structures import CaseInsensitiveDict
from wechatpayv3 import core

from kaowu.payments.providers.base import (
    Channel,
    NotificationRejected,
    PaymentRequest,
    PaymentStatus,
    ProviderError,
    RefundRequest,
    RefundStatus,
)
from kaowu.payments.providers.wechat import WechatPayProvider

from .keys import private_pem, public_pem, sign_sha256

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = 1_795_000_000  # the injected clock: every notification below is stamped relative to it
APIV3_KEY = "0123456789abcdef0123456789abcdef"
CONFIG = {
    "APP_ID": "wx0000000000000001",
    "MCH_ID": "1900000001",
    "PRIVATE_KEY": private_pem("merchant"),
    "CERT_SERIAL_NO": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
    "APIV3_KEY": APIV3_KEY,
    "PUBLIC_KEY": public_pem("platform"),
    "PUBLIC_KEY_ID": "PUB_KEY_ID_0119000000012026112300000000000001",
}


@pytest.fixture
def provider():
    return WechatPayProvider(CONFIG, clock=lambda: NOW)


def transaction(**overrides) -> dict:
    data = {
        "mchid": CONFIG["MCH_ID"],
        "appid": CONFIG["APP_ID"],
        "out_trade_no": "KW202611230002",
        "transaction_id": "4200002026112300000000000001",
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "success_time": "2026-11-23T20:15:07+08:00",
        "amount": {"total": 15005, "payer_total": 15005, "currency": "CNY", "payer_currency": "CNY"},
    }
    data.update(overrides)
    return data


def encrypted_body(plaintext: bytes, *, key: str = APIV3_KEY, algorithm: str = "AEAD_AES_256_GCM") -> bytes:
    nonce, associated_data = "fdasflkja484", "transaction"
    ciphertext = AESGCM(key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    envelope = {
        "id": "EV-2026112300000001",
        "create_time": "2026-11-23T20:15:08+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": algorithm,
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": associated_data,
            "nonce": nonce,
        },
    }
    return json.dumps(envelope, ensure_ascii=False).encode()


def signed_headers(body: bytes, *, timestamp: int = NOW, key: str = "platform", serial: str = "") -> dict[str, str]:
    nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    return {
        "Wechatpay-Signature": sign_sha256(key, message),
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": serial or CONFIG["PUBLIC_KEY_ID"],
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def notification(**overrides) -> tuple[dict[str, str], bytes]:
    body = encrypted_body(json.dumps(transaction(**overrides)).encode())
    return signed_headers(body), body


def rejected(provider, headers, body) -> str:
    with pytest.raises(NotificationRejected) as info:
        provider.parse_notification(headers=headers, body=body)
    return info.value.code


# -- notifications -----------------------------------------------------------------------------------------------


def test_genuine_notification_is_mapped_exactly(provider):
    headers, body = notification()
    result = provider.parse_notification(headers=headers, body=body)
    assert result.status == PaymentStatus.SUCCEEDED
    assert result.out_trade_no == "KW202611230002"
    assert result.amount_fen == 15005
    assert result.provider_trade_no == "4200002026112300000000000001"
    assert result.paid_at == datetime(2026, 11, 23, 20, 15, 7, tzinfo=SHANGHAI)
    assert result.paid_at.tzinfo == SHANGHAI


def test_header_names_are_case_insensitive(provider):
    headers, body = notification()
    lowered = {name.lower(): value for name, value in headers.items()}
    assert provider.parse_notification(headers=lowered, body=body).amount_fen == 15005


@pytest.mark.parametrize(
    "trade_state,status",
    [
        ("SUCCESS", PaymentStatus.SUCCEEDED),
        ("NOTPAY", PaymentStatus.PENDING),
        ("USERPAYING", PaymentStatus.PENDING),
        ("PAYERROR", PaymentStatus.FAILED),
        ("CLOSED", PaymentStatus.CLOSED),
        ("REVOKED", PaymentStatus.CLOSED),
        ("REFUND", PaymentStatus.CLOSED),
    ],
)
def test_trade_state_mapping(provider, trade_state, status):
    headers, body = notification(trade_state=trade_state)
    assert provider.parse_notification(headers=headers, body=body).status == status


@pytest.mark.parametrize("offset", [-300, 300])
def test_timestamp_exactly_five_minutes_away_is_accepted(provider, offset):
    body = encrypted_body(json.dumps(transaction()).encode())
    headers = signed_headers(body, timestamp=NOW + offset)
    assert provider.parse_notification(headers=headers, body=body).status == PaymentStatus.SUCCEEDED


@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_stale_timestamp_is_rejected(provider, offset):
    body = encrypted_body(json.dumps(transaction()).encode())
    assert rejected(provider, signed_headers(body, timestamp=NOW + offset), body) == "stale_timestamp"


def test_tampered_amount_is_rejected(provider):
    headers, _ = notification()
    forged = encrypted_body(json.dumps(transaction(amount={"total": 1})).encode())  # re-encrypted, not re-signed
    assert rejected(provider, headers, forged) == "bad_signature"


def test_signature_by_another_key_is_rejected(provider):
    body = encrypted_body(json.dumps(transaction()).encode())
    assert rejected(provider, signed_headers(body, key="intruder"), body) == "bad_signature"


def test_signed_timestamp_cannot_be_moved(provider):
    body = encrypted_body(json.dumps(transaction()).encode())
    headers = signed_headers(body, timestamp=NOW - 3600)
    headers["Wechatpay-Timestamp"] = str(NOW)  # freshen a replay: the signature no longer matches
    assert rejected(provider, headers, body) == "bad_signature"


@pytest.mark.parametrize(
    "header", ["Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial"]
)
def test_missing_signature_headers_are_rejected(provider, header):
    headers, body = notification()
    del headers[header]
    assert rejected(provider, headers, body) == "missing_signature"


def test_wrong_serial_is_rejected_without_network(provider, monkeypatch):
    monkeypatch.setattr(core.requests, "get", pytest.fail)  # the library would download certificates here
    body = encrypted_body(json.dumps(transaction()).encode())
    headers = signed_headers(body, serial="PUB_KEY_ID_0119000000012026112300000000009999")
    assert rejected(provider, headers, body) == "wrong_serial"


def test_other_signature_type_is_rejected(provider):
    headers, body = notification()
    headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SM2-WITH-SM3"
    assert rejected(provider, headers, body) == "bad_signature"


def test_other_merchant_is_rejected(provider):
    assert rejected(provider, *notification(mchid="1900009999")) == "wrong_merchant"


def test_other_app_is_rejected(provider):
    assert rejected(provider, *notification(appid="wx0000000000009999")) == "wrong_app"


def test_ciphertext_under_another_key_is_undecryptable(provider):
    body = encrypted_body(json.dumps(transaction()).encode(), key="fedcba9876543210fedcba9876543210")
    assert rejected(provider, signed_headers(body), body) == "undecryptable"


@pytest.mark.parametrize("resource_change", [{"ciphertext": "!!not base64!!"}, {"nonce": ""}, {"algorithm": "SM4"}])
def test_broken_resource_is_undecryptable(provider, resource_change):
    envelope = json.loads(encrypted_body(json.dumps(transaction()).encode()))
    envelope["resource"].update(resource_change)
    body = json.dumps(envelope).encode()
    assert rejected(provider, signed_headers(body), body) == "undecryptable"


@pytest.mark.parametrize(
    "plaintext",
    [
        b"not json",
        b"[1, 2]",
        json.dumps(transaction(amount={"total": "150.05"})).encode(),
        json.dumps(transaction(amount={"total": -1})).encode(),
        json.dumps(transaction(amount={"total": True})).encode(),
        json.dumps({k: v for k, v in transaction().items() if k != "amount"}).encode(),
        json.dumps(transaction(trade_state="WHATEVER")).encode(),
        json.dumps(transaction(success_time="yesterday")).encode(),
    ],
)
def test_signed_but_malformed_resource_is_rejected(provider, plaintext):
    body = encrypted_body(plaintext)
    assert rejected(provider, signed_headers(body), body) == "malformed"


@pytest.mark.parametrize("body", [b"garbage", b"\xff\xfe", b"{}", b'{"resource": "x"}'])
def test_garbage_body_is_rejected(provider, body):
    assert rejected(provider, signed_headers(body), body) == "malformed"


def test_notification_response():
    provider = WechatPayProvider(CONFIG)
    assert provider.notification_response(accepted=True) == (204, "", "application/json")
    status, body, content_type = provider.notification_response(accepted=False)
    assert (status, json.loads(body)["code"], content_type) == (400, "FAIL", "application/json")


# -- configuration -----------------------------------------------------------------------------------------------


def test_construction_needs_no_network(monkeypatch, tmp_path):
    monkeypatch.setattr(core.requests, "get", pytest.fail)
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_text(CONFIG["PRIVATE_KEY"])
    with override_settings(PAYMENT_WECHAT={**CONFIG, "PRIVATE_KEY": str(key_file)}):
        assert WechatPayProvider.from_settings().mch_id == "1900000001"


def test_short_apiv3_key_is_refused():
    with pytest.raises(ValueError):
        WechatPayProvider({**CONFIG, "APIV3_KEY": "too short"})


# -- API calls ---------------------------------------------------------------------------------------------------


class FakeResponse:
    def __init__(self, status_code: int, payload: dict, key: str = "platform"):
        self.status_code = status_code
        self.text = json.dumps(payload, ensure_ascii=False)
        self.headers = CaseInsensitiveDict(
            {
                **signed_headers(self.text.encode(), key=key),
                "Content-Type": "application/json; charset=utf-8",
            }
        )
        self.content = self.text.encode()


class FakeGateway:
    """Replaces requests.get/post inside wechatpayv3: records what is sent, answers with a signed response."""

    def __init__(self, monkeypatch, status_code=200, payload=None, *, key="platform", error=None):
        self.status_code, self.payload, self.key, self.error = status_code, payload or {}, key, error
        self.calls: list[dict] = []
        monkeypatch.setattr(core.requests, "get", self)
        monkeypatch.setattr(core.requests, "post", self)

    def __call__(self, url, **kwargs):
        self.calls.append({"url": url, **kwargs})
        if self.error:
            raise self.error
        return FakeResponse(self.status_code, self.payload, self.key)


def payment_request(channel: str) -> PaymentRequest:
    return PaymentRequest(
        out_trade_no="KW202611230002",
        amount_fen=15005,
        subject="2026年拍卖师资格考试报名费",
        notify_url="https://kaowu.example.cn/payments/notify/wechat/",
        return_url="https://kaowu.example.cn/orders/2/",
        client_ip="203.0.113.7",
        channel=channel,
        expires_at=datetime(2026, 11, 23, 12, 30, tzinfo=ZoneInfo("UTC")),
    )


def test_create_native_payment_returns_qr_code(provider, monkeypatch):
    gateway = FakeGateway(monkeypatch, payload={"code_url": "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"})
    start = provider.create_payment(payment_request(Channel.NATIVE))
    assert start.qr_code == "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"
    assert start.redirect_url == ""
    call = gateway.calls[0]
    assert call["url"] == "https://api.mch.weixin.qq.com/v3/pay/transactions/native"
    sent = call["json"]
    assert sent["amount"] == {"total": 15005, "currency": "CNY"}
    assert (sent["mchid"], sent["appid"], sent["out_trade_no"]) == (
        "1900000001",
        "wx0000000000000001",
        "KW202611230002",
    )
    assert sent["time_expire"] == "2026-11-23T20:30:00+08:00"
    assert sent["notify_url"] == "https://kaowu.example.cn/payments/notify/wechat/"
    assert call["headers"]["Authorization"].startswith('WECHATPAY2-SHA256-RSA2048 mchid="1900000001"')


def test_create_h5_payment_returns_redirect(provider, monkeypatch):
    h5_url = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2016&package=1405458241"
    gateway = FakeGateway(monkeypatch, payload={"h5_url": h5_url})
    start = provider.create_payment(payment_request(Channel.H5))
    assert (start.redirect_url, start.qr_code) == (h5_url, "")
    assert gateway.calls[0]["url"].endswith("/v3/pay/transactions/h5")
    assert gateway.calls[0]["json"]["scene_info"] == {"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}}


@pytest.mark.parametrize(
    "gateway_kwargs",
    [
        {"status_code": 400, "payload": {"code": "PARAM_ERROR", "message": "参数错误"}},
        {"status_code": 500, "payload": {"code": "SYSTEM_ERROR", "message": "系统错误"}},
        {"payload": {"code_url": "weixin://x"}, "key": "intruder"},  # answer not signed by WeChat Pay
        {"payload": {"prepay_id": "wx2016"}},  # no code_url
        {"error": requests.ConnectionError("connection refused")},
        {"error": requests.Timeout("read timed out")},
    ],
)
def test_create_payment_errors_raise_provider_error(provider, monkeypatch, gateway_kwargs):
    FakeGateway(monkeypatch, **gateway_kwargs)
    with pytest.raises(ProviderError):
        provider.create_payment(payment_request(Channel.NATIVE))


def test_create_payment_refuses_alipay_channels(provider):
    with pytest.raises(ValueError):
        provider.create_payment(payment_request(Channel.PAGE))


def test_query_payment_success(provider, monkeypatch):
    gateway = FakeGateway(monkeypatch, payload=transaction())
    result = provider.query_payment("KW202611230002")
    assert gateway.calls[0]["url"] == (
        "https://api.mch.weixin.qq.com/v3/pay/transactions/out-trade-no/KW202611230002?mchid=1900000001"
    )
    assert (result.status, result.amount_fen, result.provider_trade_no) == (
        PaymentStatus.SUCCEEDED,
        15005,
        "4200002026112300000000000001",
    )
    assert result.paid_at == datetime(2026, 11, 23, 20, 15, 7, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "trade_state,status",
    [("NOTPAY", PaymentStatus.PENDING), ("PAYERROR", PaymentStatus.FAILED), ("CLOSED", PaymentStatus.CLOSED)],
)
def test_query_payment_states(provider, monkeypatch, trade_state, status):
    FakeGateway(monkeypatch, payload=transaction(trade_state=trade_state, success_time=None))
    result = provider.query_payment("KW202611230002")
    assert (result.status, result.paid_at) == (status, None)


def test_query_unknown_order_is_closed(provider, monkeypatch):
    FakeGateway(monkeypatch, 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
    assert provider.query_payment("KW202611230002").status == PaymentStatus.CLOSED


@pytest.mark.parametrize(
    "gateway_kwargs",
    [
        {"status_code": 500, "payload": {"code": "SYSTEM_ERROR", "message": "系统错误"}},
        {"status_code": 401, "payload": {"code": "SIGN_ERROR", "message": "签名错误"}},
        {"payload": transaction(), "key": "intruder"},
        {"payload": transaction(out_trade_no="KW-OTHER")},
        {"payload": transaction(mchid="1900009999")},
        {"error": requests.ConnectionError("connection refused")},
    ],
)
def test_query_payment_errors_raise_provider_error(provider, monkeypatch, gateway_kwargs):
    FakeGateway(monkeypatch, **gateway_kwargs)
    with pytest.raises(ProviderError):
        provider.query_payment("KW202611230002")


REFUND = RefundRequest(
    out_trade_no="KW202611230002", out_refund_no="RF202611240002", amount_fen=5000, total_fen=15005, reason="考生撤回"
)


def refund_answer(status: str, **overrides) -> dict:
    answer = {
        "refund_id": "50000000382019052709732678859",
        "out_refund_no": "RF202611240002",
        "transaction_id": "4200002026112300000000000001",
        "out_trade_no": "KW202611230002",
        "status": status,
        "amount": {"refund": 5000, "total": 15005, "currency": "CNY"},
    }
    answer.update(overrides)
    return answer


@pytest.mark.parametrize(
    "wechat_status,status",
    [
        ("PROCESSING", RefundStatus.PROCESSING),
        ("SUCCESS", RefundStatus.SUCCEEDED),
        ("CLOSED", RefundStatus.FAILED),
        ("ABNORMAL", RefundStatus.FAILED),
    ],
)
def test_refund(provider, monkeypatch, wechat_status, status):
    gateway = FakeGateway(monkeypatch, payload=refund_answer(wechat_status))
    result = provider.refund(REFUND)
    call = gateway.calls[0]
    assert call["url"] == "https://api.mch.weixin.qq.com/v3/refund/domestic/refunds"
    assert call["json"] == {
        "out_refund_no": "RF202611240002",
        "out_trade_no": "KW202611230002",
        "amount": {"refund": 5000, "total": 15005, "currency": "CNY"},
        "reason": "考生撤回",
    }
    assert (result.status, result.provider_refund_no) == (status, "50000000382019052709732678859")


@pytest.mark.parametrize(
    "gateway_kwargs",
    [
        {"status_code": 403, "payload": {"code": "NOT_ENOUGH", "message": "基本账户余额不足"}},
        {"payload": refund_answer("SOMETHING_NEW")},
        {"payload": refund_answer("SUCCESS", out_refund_no="RF-OTHER")},
        {"error": requests.Timeout("read timed out")},
    ],
)
def test_refund_errors_raise_provider_error(provider, monkeypatch, gateway_kwargs):
    FakeGateway(monkeypatch, **gateway_kwargs)
    with pytest.raises(ProviderError):
        provider.refund(REFUND)


def test_query_refund(provider, monkeypatch):
    gateway = FakeGateway(monkeypatch, payload=refund_answer("SUCCESS"))
    result = provider.query_refund(out_trade_no="KW202611230002", out_refund_no="RF202611240002")
    assert gateway.calls[0]["url"] == "https://api.mch.weixin.qq.com/v3/refund/domestic/refunds/RF202611240002"
    assert result.status == RefundStatus.SUCCEEDED


def test_query_refund_of_another_trade_raises(provider, monkeypatch):
    FakeGateway(monkeypatch, payload=refund_answer("SUCCESS", out_trade_no="KW-OTHER"))
    with pytest.raises(ProviderError):
        provider.query_refund(out_trade_no="KW202611230002", out_refund_no="RF202611240002")


def test_query_refund_not_found_raises(provider, monkeypatch):
    FakeGateway(monkeypatch, 404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"})
    with pytest.raises(ProviderError):
        provider.query_refund(out_trade_no="KW202611230002", out_refund_no="RF202611240002")
