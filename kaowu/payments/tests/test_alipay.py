"""AlipayProvider, offline: notifications signed here with a throwaway "Alipay" key, gateway answers faked at the
library's urlopen."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.error import URLError
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import alipay
import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from kaowu.payments.providers.alipay import AlipayProvider, fen_from_yuan, yuan_from_fen
from kaowu.payments.providers.base import (
    Channel,
    NotificationRejected,
    PaymentRequest,
    PaymentStatus,
    ProviderError,
    RefundRequest,
    RefundStatus,
)

from .keys import private_pem, public_pem, sign_sha256

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONFIG = {
    "APP_ID": "2021000000000001",
    "PRIVATE_KEY": private_pem("merchant"),
    "ALIPAY_PUBLIC_KEY": public_pem("alipay"),
    "SELLER_ID": "2088000000000001",
    "SANDBOX": True,
}


@pytest.fixture
def provider():
    return AlipayProvider(CONFIG)


def signed_params(key: str = "alipay", drop: tuple[str, ...] = (), **overrides: str) -> dict[str, str]:
    """A notification's parameters as Alipay sends them, signed with ``key`` after the overrides/drops."""
    params = {
        "app_id": CONFIG["APP_ID"],
        "seller_id": CONFIG["SELLER_ID"],
        "charset": "utf-8",
        "notify_type": "trade_status_sync",
        "out_trade_no": "KW202611230001",
        "trade_no": "2026112322001400000000000001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "150.05",
        "gmt_payment": "2026-11-23 20:15:07",
        "subject": "2026年拍卖师资格考试报名费",
        "version": "1.0",
    }
    params.update(overrides)
    params = {k: v for k, v in params.items() if k not in drop}
    unsigned = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return {**params, "sign_type": "RSA2", "sign": sign_sha256(key, unsigned.encode())}


def form(params: dict[str, str]) -> bytes:
    return urlencode(params).encode()


def rejected(provider, body: bytes) -> str:
    with pytest.raises(NotificationRejected) as info:
        provider.parse_notification(headers={}, body=body)
    return info.value.code


# -- amounts -----------------------------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10**9))
def test_fen_yuan_round_trip(fen):
    text = yuan_from_fen(fen)
    assert text.count(".") == 1 and len(text.split(".")[1]) == 2
    assert fen_from_yuan(text) == fen


@pytest.mark.parametrize(
    "fen,text", [(0, "0.00"), (1, "0.01"), (10, "0.10"), (15005, "150.05"), (10**9, "10000000.00")]
)
def test_yuan_from_fen_examples(fen, text):
    assert yuan_from_fen(fen) == text


@pytest.mark.parametrize("text", ["", "1.001", "-1.00", "1e3", "NaN", " 1.00", "1,00", "1."])
def test_fen_from_yuan_refuses_anything_but_plain_amounts(text):
    with pytest.raises(ValueError):
        fen_from_yuan(text)


# -- notifications -----------------------------------------------------------------------------------------------


def test_genuine_notification_is_mapped_exactly(provider):
    result = provider.parse_notification(headers={}, body=form(signed_params()))
    assert result.status == PaymentStatus.SUCCEEDED
    assert result.out_trade_no == "KW202611230001"
    assert result.amount_fen == 15005
    assert result.provider_trade_no == "2026112322001400000000000001"
    assert result.paid_at == datetime(2026, 11, 23, 20, 15, 7, tzinfo=SHANGHAI)
    assert result.raw["subject"] == "2026年拍卖师资格考试报名费"


@pytest.mark.parametrize(
    "trade_status,status",
    [
        ("TRADE_SUCCESS", PaymentStatus.SUCCEEDED),
        ("TRADE_FINISHED", PaymentStatus.SUCCEEDED),
        ("WAIT_BUYER_PAY", PaymentStatus.PENDING),
        ("TRADE_CLOSED", PaymentStatus.CLOSED),
    ],
)
def test_trade_status_mapping(provider, trade_status, status):
    params = signed_params(trade_status=trade_status)
    assert provider.parse_notification(headers={}, body=form(params)).status == status


def test_unpaid_notification_has_no_paid_at(provider):
    params = signed_params(trade_status="WAIT_BUYER_PAY", drop=("gmt_payment",))
    assert provider.parse_notification(headers={}, body=form(params)).paid_at is None


def test_tampered_amount_is_rejected(provider):
    params = signed_params()
    params["total_amount"] = "0.01"
    assert rejected(provider, form(params)) == "bad_signature"


def test_signature_by_another_key_is_rejected(provider):
    assert rejected(provider, form(signed_params(key="intruder"))) == "bad_signature"


@pytest.mark.parametrize("sign", ["", None])
def test_missing_signature_is_rejected(provider, sign):
    params = signed_params()
    if sign is None:
        del params["sign"]
    else:
        params["sign"] = sign
    assert rejected(provider, form(params)) == "missing_signature"


def test_undecodable_signature_is_rejected(provider):
    assert rejected(provider, form({**signed_params(), "sign": "not base64!"})) == "bad_signature"


def test_other_sign_type_is_rejected(provider):
    assert rejected(provider, form({**signed_params(), "sign_type": "RSA"})) == "bad_signature"


def test_other_app_is_rejected(provider):
    assert rejected(provider, form(signed_params(app_id="2021000000009999"))) == "wrong_app"


def test_other_seller_is_rejected(provider):
    assert rejected(provider, form(signed_params(seller_id="2088000000009999"))) == "wrong_merchant"


@pytest.mark.parametrize(
    "overrides", [{"total_amount": "150.055"}, {"total_amount": "abc"}, {"trade_status": "TRADE_UNKNOWN"}]
)
def test_signed_but_malformed_notification_is_rejected(provider, overrides):
    assert rejected(provider, form(signed_params(**overrides))) == "malformed"


@pytest.mark.parametrize(
    "body,code",
    [
        (b"\xff\xfe\x00garbage", "malformed"),
        (b"no-equals-sign", "malformed"),
        (b"a=1&a=2", "malformed"),
        (b"", "missing_signature"),
        (b'{"json": "instead of a form"}', "malformed"),
    ],
)
def test_garbage_body_is_rejected(provider, body, code):
    assert rejected(provider, body) == code


def test_repeated_key_cannot_smuggle_a_second_value(provider):
    params = signed_params()
    body = form(params) + b"&total_amount=0.01"
    assert rejected(provider, body) == "malformed"


def test_notification_response():
    provider = AlipayProvider(CONFIG)
    assert provider.notification_response(accepted=True) == (200, "success", "text/plain")
    assert provider.notification_response(accepted=False) == (200, "failure", "text/plain")


# -- configuration -----------------------------------------------------------------------------------------------


def test_from_settings_and_key_files(tmp_path):
    key_file = tmp_path / "app_private_key.pem"
    key_file.write_text(CONFIG["PRIVATE_KEY"])
    with override_settings(PAYMENT_ALIPAY={**CONFIG, "PRIVATE_KEY": str(key_file), "SANDBOX": False}):
        provider = AlipayProvider.from_settings()
    assert provider.gateway == "https://openapi.alipay.com/gateway.do"
    assert AlipayProvider(CONFIG).gateway.startswith("https://openapi-sandbox.")


# -- create_payment ----------------------------------------------------------------------------------------------


def payment_request(channel: str) -> PaymentRequest:
    return PaymentRequest(
        out_trade_no="KW202611230001",
        amount_fen=15005,
        subject="2026年拍卖师资格考试报名费",
        notify_url="https://kaowu.example.cn/payments/notify/alipay/",
        return_url="https://kaowu.example.cn/orders/1/",
        client_ip="203.0.113.7",
        channel=channel,
        expires_at=datetime(2026, 11, 23, 12, 30, tzinfo=ZoneInfo("UTC")),
    )


@pytest.mark.parametrize(
    "channel,method,product_code",
    [
        (Channel.PAGE, "alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
        (Channel.WAP, "alipay.trade.wap.pay", "QUICK_WAP_PAY"),
    ],
)
def test_create_payment_returns_signed_gateway_url(provider, channel, method, product_code):
    start = provider.create_payment(payment_request(channel))
    url = urlsplit(start.redirect_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == provider.gateway
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    biz = json.loads(query["biz_content"])
    assert query["method"] == method
    assert biz["out_trade_no"] == "KW202611230001"
    assert biz["total_amount"] == "150.05"
    assert biz["product_code"] == product_code
    assert biz["time_expire"] == "2026-11-23 20:30:00"  # Beijing time
    assert query["notify_url"] == "https://kaowu.example.cn/payments/notify/alipay/"
    # The signature is the merchant's RSA2 over the sorted parameters: check it with the merchant public key.
    sign = query.pop("sign")
    unsigned = "&".join(f"{k}={v}" for k, v in sorted(query.items()))
    checker = AlipayProvider({**CONFIG, "ALIPAY_PUBLIC_KEY": public_pem("merchant")})
    assert checker._client._verify(unsigned, sign)


def test_create_payment_refuses_wechat_channels(provider):
    with pytest.raises(ValueError):
        provider.create_payment(payment_request(Channel.NATIVE))


# -- server APIs -------------------------------------------------------------------------------------------------


class FakeGateway:
    """Stands in for urllib's urlopen inside the alipay library: records the request, answers as Alipay would
    (the answer object signed with the test "Alipay" key)."""

    def __init__(self, monkeypatch, answer: dict | None = None, *, raw: str | None = None, error=None, key="alipay"):
        self.answer, self.raw, self.error, self.key = answer, raw, error, key
        self.requests: list[dict[str, str]] = []
        monkeypatch.setattr(alipay, "urlopen", self)

    def __call__(self, url, timeout):
        self.requests.append({k: v[0] for k, v in parse_qs(urlsplit(url).query).items()})
        if self.error:
            raise self.error
        return self

    def read(self) -> bytes:
        if self.raw is not None:
            return self.raw.encode()
        method = self.requests[-1]["method"]
        inner = json.dumps(self.answer, ensure_ascii=False, separators=(",", ":"))
        sign = sign_sha256(self.key, inner.encode())
        return f'{{"{method.replace(".", "_")}_response":{inner},"sign":"{sign}"}}'.encode()

    @property
    def biz(self) -> dict:
        return json.loads(self.requests[-1]["biz_content"])


QUERY_PAID = {
    "code": "10000",
    "msg": "Success",
    "out_trade_no": "KW202611230001",
    "trade_no": "2026112322001400000000000001",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "150.05",
    "send_pay_date": "2026-11-23 20:15:07",
}


def test_query_payment_success(provider, monkeypatch):
    gateway = FakeGateway(monkeypatch, QUERY_PAID)
    result = provider.query_payment("KW202611230001")
    assert gateway.requests[0]["method"] == "alipay.trade.query"
    assert gateway.biz == {"out_trade_no": "KW202611230001"}
    assert (result.status, result.amount_fen, result.provider_trade_no) == (
        PaymentStatus.SUCCEEDED,
        15005,
        "2026112322001400000000000001",
    )
    assert result.paid_at == datetime(2026, 11, 23, 20, 15, 7, tzinfo=SHANGHAI)


def test_query_payment_waiting_and_unknown_trades_are_pending(provider, monkeypatch):
    FakeGateway(monkeypatch, {**QUERY_PAID, "trade_status": "WAIT_BUYER_PAY", "send_pay_date": ""})
    assert provider.query_payment("KW202611230001").status == PaymentStatus.PENDING
    not_exist = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"}
    FakeGateway(monkeypatch, not_exist)
    result = provider.query_payment("KW202611230001")
    assert (result.status, result.amount_fen) == (PaymentStatus.PENDING, None)


def test_query_payment_closed(provider, monkeypatch):
    FakeGateway(monkeypatch, {**QUERY_PAID, "trade_status": "TRADE_CLOSED"})
    assert provider.query_payment("KW202611230001").status == PaymentStatus.CLOSED


@pytest.mark.parametrize(
    "gateway_kwargs",
    [
        {"error": URLError("timed out")},
        {"error": TimeoutError()},
        {"raw": "<html>502 Bad Gateway</html>"},
        {"raw": '{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id"}}'},
        {"answer": {"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"}},
        {"answer": QUERY_PAID, "key": "intruder"},  # answer not signed by Alipay
        {"answer": {**QUERY_PAID, "out_trade_no": "KW-OTHER"}},
    ],
)
def test_query_payment_errors_raise_provider_error(provider, monkeypatch, gateway_kwargs):
    FakeGateway(monkeypatch, **gateway_kwargs)
    with pytest.raises(ProviderError):
        provider.query_payment("KW202611230001")


REFUND = RefundRequest(
    out_trade_no="KW202611230001", out_refund_no="RF202611240001", amount_fen=5000, total_fen=15005, reason="考生撤回"
)


@pytest.mark.parametrize("fund_change,status", [("Y", RefundStatus.SUCCEEDED), ("N", RefundStatus.PROCESSING)])
def test_refund(provider, monkeypatch, fund_change, status):
    answer = {"code": "10000", "msg": "Success", "trade_no": "2026112322001400000000000001", "fund_change": fund_change}
    gateway = FakeGateway(monkeypatch, answer)
    result = provider.refund(REFUND)
    assert gateway.requests[0]["method"] == "alipay.trade.refund"
    assert gateway.biz == {
        "out_trade_no": "KW202611230001",
        "out_request_no": "RF202611240001",
        "refund_amount": "50.00",
        "refund_reason": "考生撤回",
    }
    assert (result.out_refund_no, result.status) == ("RF202611240001", status)


def test_refund_refused_raises_provider_error(provider, monkeypatch):
    FakeGateway(monkeypatch, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_HAS_CLOSE"})
    with pytest.raises(ProviderError, match=r"ACQ\.TRADE_HAS_CLOSE"):
        provider.refund(REFUND)


@pytest.mark.parametrize(
    "answer,status",
    [
        ({"code": "10000", "msg": "Success", "refund_status": "REFUND_SUCCESS"}, RefundStatus.SUCCEEDED),
        ({"code": "10000", "msg": "Success"}, RefundStatus.PROCESSING),
    ],
)
def test_query_refund(provider, monkeypatch, answer, status):
    gateway = FakeGateway(monkeypatch, answer)
    result = provider.query_refund(out_trade_no="KW202611230001", out_refund_no="RF202611240001")
    assert gateway.requests[0]["method"] == "alipay.trade.fastpay.refund.query"
    assert gateway.biz == {"out_trade_no": "KW202611230001", "out_request_no": "RF202611240001"}
    assert result.status == status


def test_query_refund_error(provider, monkeypatch):
    FakeGateway(monkeypatch, error=URLError("connection refused"))
    with pytest.raises(ProviderError):
        provider.query_refund(out_trade_no="KW202611230001", out_refund_no="RF202611240001")
