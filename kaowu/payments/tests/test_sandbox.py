"""The sandbox gateway (PAY-2): SandboxProvider against its own ledger, its signed notifications, the gateway
page a payer uses (pay, fail, leave, 网银 bank choice, expired and paid trades, double clicks) and the
in-process delivery of notifications to Kaowu's notify view."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from django import urls
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.urls import ResolverMatch, reverse
from django.utils import timezone

from kaowu.core.context import current_ip
from kaowu.payments.models import NotificationLog, SandboxRefund, SandboxTrade, SandboxTradeStatus
from kaowu.payments.providers import get_provider
from kaowu.payments.providers import sandbox as sandbox_module
from kaowu.payments.providers.base import (
    Channel,
    NotificationRejected,
    PaymentRequest,
    PaymentStatus,
    ProviderError,
    RefundRequest,
    RefundStatus,
)
from kaowu.payments.providers.sandbox import (
    BANKS,
    SandboxProvider,
    notification_payload,
    sandbox_notify_task,
    sandbox_trade_pay,
    sign_notification,
)

from .conftest import order_for, start

pytestmark = pytest.mark.django_db

SUBJECT = "2026年拍卖师资格考试报名费"
NOTIFY_URL = "/payments/notify/{code}/"
RETURN_URL = "/payments/orders/O1/return/"
_numbers = iter(range(1, 10**6))


def payment_request(**overrides) -> PaymentRequest:
    """A request for 150.00 yuan expiring in 30 minutes, with a fresh out_trade_no unless given."""
    values = {
        "out_trade_no": f"P2026112300{next(_numbers):04d}",
        "amount_fen": 15000,
        "subject": SUBJECT,
        "notify_url": NOTIFY_URL.format(code="sandbox"),
        "return_url": RETURN_URL,
        "client_ip": "10.1.2.3",
        "channel": Channel.WAP,
        "expires_at": timezone.now() + timedelta(minutes=30),
    }
    values.update(overrides)
    return PaymentRequest(**values)


def opened(code: str = "sandbox", **overrides) -> SandboxTrade:
    """A trade opened at the gateway through the provider, as Kaowu opens one."""
    overrides.setdefault("notify_url", NOTIFY_URL.format(code=code))
    request = payment_request(**overrides)
    SandboxProvider(code).create_payment(request)
    return SandboxTrade.objects.get(out_trade_no=request.out_trade_no)


def paid(code: str = "sandbox", **overrides) -> SandboxTrade:
    """A trade the payer paid on the gateway page (no notification sent)."""
    trade = opened(code, **overrides)
    trade, changed = sandbox_trade_pay(out_trade_no=trade.out_trade_no, notify="none", bank="CCB")
    assert changed
    return trade


def expire(trade: SandboxTrade) -> SandboxTrade:
    SandboxTrade.objects.filter(pk=trade.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    trade.refresh_from_db()
    return trade


def refund_request(trade: SandboxTrade, number: str = "R1", amount: int | None = None) -> RefundRequest:
    return RefundRequest(
        out_trade_no=trade.out_trade_no,
        out_refund_no=number,
        amount_fen=trade.amount_fen if amount is None else amount,
        total_fen=trade.amount_fen,
        reason="考生退考",
    )


def gateway_url(trade: SandboxTrade) -> str:
    return reverse("payments:sandbox_gateway", args=[trade.out_trade_no])


def text(response) -> str:
    return response.content.decode()


# --- creating trades --------------------------------------------------------------------------------------


def test_registry_gives_each_channel_its_provider():
    assert get_provider("sandbox", enabled_only=False).code == "sandbox"
    assert get_provider("bank", enabled_only=False).code == "bank"
    with pytest.raises(ValueError):
        SandboxProvider("alipay")


def test_create_payment_opens_a_trade_and_points_at_the_gateway_page():
    request = payment_request()
    start_ = SandboxProvider("sandbox").create_payment(request)
    trade = SandboxTrade.objects.get(out_trade_no=request.out_trade_no)
    assert start_.redirect_url == f"/payments/sandbox/{request.out_trade_no}/"
    assert start_.qr_code == ""
    assert (trade.provider, trade.amount_fen, trade.subject) == ("sandbox", 15000, SUBJECT)
    assert (trade.notify_url, trade.return_url, trade.expires_at) == (
        request.notify_url,
        request.return_url,
        request.expires_at,
    )
    assert trade.status == SandboxTradeStatus.PENDING and trade.paid_at is None
    assert trade.trade_no.startswith("SB")
    assert opened("bank").trade_no.startswith("BK")


def test_create_payment_is_idempotent_on_out_trade_no():
    provider = SandboxProvider("sandbox")
    request = payment_request()
    first = provider.create_payment(request)
    trade_no = SandboxTrade.objects.get(out_trade_no=request.out_trade_no).trade_no
    again = provider.create_payment(replace(request, expires_at=request.expires_at + timedelta(hours=1)))
    assert again == first
    trade = SandboxTrade.objects.get(out_trade_no=request.out_trade_no)
    assert trade.trade_no == trade_no and trade.expires_at == request.expires_at  # the first trade, unchanged
    assert SandboxTrade.objects.count() == 1


def test_same_out_trade_no_with_another_amount_or_channel_is_refused():
    request = payment_request()
    SandboxProvider("sandbox").create_payment(request)
    with pytest.raises(ProviderError):
        SandboxProvider("sandbox").create_payment(replace(request, amount_fen=15001))
    with pytest.raises(ProviderError):
        SandboxProvider("bank").create_payment(request)
    assert SandboxTrade.objects.get().amount_fen == 15000


def test_trade_numbers_are_unique():
    trades = [opened() for _ in range(20)]
    assert len({trade.trade_no for trade in trades}) == 20


def test_create_payment_refuses_nonsense():
    with pytest.raises(ValueError):
        SandboxProvider("sandbox").create_payment(payment_request(amount_fen=0))
    with pytest.raises(ProviderError):
        SandboxProvider("sandbox").create_payment(payment_request(notify_url="/" + "x" * 300))
    assert not SandboxTrade.objects.exists()


# --- queries ----------------------------------------------------------------------------------------------


def test_query_unknown_trade_is_closed_without_amount():
    result = SandboxProvider("sandbox").query_payment("P-NEVER-SEEN")
    assert (result.out_trade_no, result.status, result.amount_fen) == ("P-NEVER-SEEN", PaymentStatus.CLOSED, None)


def test_query_pending_and_failed_trades():
    trade = opened()
    provider = SandboxProvider("sandbox")
    result = provider.query_payment(trade.out_trade_no)
    assert (result.status, result.amount_fen) == (PaymentStatus.PENDING, 15000)
    assert (result.provider_trade_no, result.paid_at) == (trade.trade_no, None)
    sandbox_module.sandbox_trade_fail(out_trade_no=trade.out_trade_no)
    assert provider.query_payment(trade.out_trade_no).status == PaymentStatus.FAILED


@pytest.mark.parametrize("fail_first", [False, True])
def test_query_closes_an_open_trade_past_its_expiry(fail_first):
    trade = opened()
    if fail_first:
        sandbox_module.sandbox_trade_fail(out_trade_no=trade.out_trade_no)
    expire(trade)
    result = SandboxProvider("sandbox").query_payment(trade.out_trade_no)
    assert (result.status, result.amount_fen) == (PaymentStatus.CLOSED, 15000)
    trade.refresh_from_db()
    assert trade.status == SandboxTradeStatus.CLOSED


def test_query_paid_trade_reports_amount_trade_no_and_paid_at_even_after_expiry():
    trade = expire(paid())
    result = SandboxProvider("sandbox").query_payment(trade.out_trade_no)
    assert result.status == PaymentStatus.SUCCEEDED
    assert (result.amount_fen, result.provider_trade_no, result.paid_at) == (15000, trade.trade_no, trade.paid_at)
    assert result.raw["trade_no"] == trade.trade_no


def test_each_channel_sees_only_its_own_trades():
    trade = paid("bank")
    assert SandboxProvider("sandbox").query_payment(trade.out_trade_no).status == PaymentStatus.CLOSED
    assert SandboxProvider("bank").query_payment(trade.out_trade_no).status == PaymentStatus.SUCCEEDED


# --- refunds ----------------------------------------------------------------------------------------------


def test_refund_in_full_is_idempotent_and_closes_the_trade():
    trade = paid()
    provider = SandboxProvider("sandbox")
    first = provider.refund(refund_request(trade))
    assert first.status == RefundStatus.SUCCEEDED and first.provider_refund_no.startswith("SBR")
    again = provider.refund(refund_request(trade))
    assert (again.status, again.provider_refund_no) == (RefundStatus.SUCCEEDED, first.provider_refund_no)
    assert SandboxRefund.objects.get().amount_fen == 15000
    # Refunded in full, the trade is reported closed, as Alipay reports it.
    assert provider.query_payment(trade.out_trade_no).status == PaymentStatus.CLOSED


def test_partial_refunds_up_to_the_amount_then_refused():
    trade = paid()
    provider = SandboxProvider("sandbox")
    assert provider.refund(refund_request(trade, "R1", 10000)).status == RefundStatus.SUCCEEDED
    assert provider.query_payment(trade.out_trade_no).status == PaymentStatus.SUCCEEDED  # 50.00 still kept
    over = provider.refund(refund_request(trade, "R2", 5001))
    assert over.status == RefundStatus.FAILED
    assert over.raw["error"] == "REFUND_AMOUNT_EXCEEDED" and over.raw["reason"]
    assert provider.refund(refund_request(trade, "R3", 5000)).status == RefundStatus.SUCCEEDED
    assert sorted(SandboxRefund.objects.values_list("out_refund_no", flat=True)) == ["R1", "R3"]


def test_refund_refused_for_unpaid_unknown_or_mismatched_trades():
    provider = SandboxProvider("sandbox")
    pending = opened()
    assert provider.refund(refund_request(pending)).raw["error"] == "TRADE_STATUS_ERROR"
    unknown = RefundRequest(out_trade_no="P-NONE", out_refund_no="R9", amount_fen=1, total_fen=1, reason="x")
    assert provider.refund(unknown).raw["error"] == "TRADE_NOT_EXIST"
    trade = paid()
    wrong_total = RefundRequest(
        out_trade_no=trade.out_trade_no, out_refund_no="R8", amount_fen=100, total_fen=20000, reason="x"
    )
    assert provider.refund(wrong_total).raw["error"] == "TOTAL_AMOUNT_MISMATCH"
    assert provider.refund(refund_request(trade, "R7", 0)).raw["error"] == "REFUND_AMOUNT_INVALID"
    assert SandboxProvider("bank").refund(refund_request(trade, "R6")).raw["error"] == "TRADE_NOT_EXIST"
    assert not SandboxRefund.objects.exists()


def test_refund_number_reused_for_another_trade_or_amount_is_refused():
    provider = SandboxProvider("sandbox")
    first, second = paid(), paid()
    assert provider.refund(refund_request(first, "R1", 100)).status == RefundStatus.SUCCEEDED
    conflict = provider.refund(refund_request(second, "R1", 100))
    assert (conflict.status, conflict.raw["error"]) == (RefundStatus.FAILED, "REFUND_NO_CONFLICT")
    assert provider.refund(refund_request(first, "R1", 200)).raw["error"] == "REFUND_NO_CONFLICT"
    assert SandboxRefund.objects.get().amount_fen == 100


def test_query_refund():
    trade = paid()
    provider = SandboxProvider("sandbox")
    made = provider.refund(refund_request(trade, "R1"))
    found = provider.query_refund(out_trade_no=trade.out_trade_no, out_refund_no="R1")
    assert (found.status, found.provider_refund_no) == (RefundStatus.SUCCEEDED, made.provider_refund_no)
    assert provider.query_refund(out_trade_no=trade.out_trade_no, out_refund_no="R2").status == RefundStatus.FAILED
    assert provider.query_refund(out_trade_no="P-OTHER", out_refund_no="R1").status == RefundStatus.FAILED
    assert SandboxProvider("bank").query_refund(out_trade_no=trade.out_trade_no, out_refund_no="R1").status == (
        RefundStatus.FAILED
    )


# --- notifications ----------------------------------------------------------------------------------------

PAID_AT = "2026-11-23T20:15:07+08:00"


def payload(**overrides) -> dict:
    values = {
        "out_trade_no": "P202611230001",
        "trade_no": "SB2026112320150700000001",
        "amount_fen": 15005,
        "status": "succeeded",
        "paid_at": PAID_AT,
    }
    values.update(overrides)
    return values


def rejected(code: str, headers: dict, body: bytes, provider: str = "sandbox") -> None:
    with pytest.raises(NotificationRejected) as caught:
        SandboxProvider(provider).parse_notification(headers=headers, body=body)
    assert caught.value.code == code, caught.value


def test_genuine_notification_is_accepted():
    headers, body = sign_notification("sandbox", payload())
    result = SandboxProvider("sandbox").parse_notification(headers=headers, body=body)
    assert (result.out_trade_no, result.status, result.amount_fen) == ("P202611230001", PaymentStatus.SUCCEEDED, 15005)
    assert result.provider_trade_no == "SB2026112320150700000001"
    assert result.paid_at == datetime.fromisoformat(PAID_AT) and result.paid_at.utcoffset() is not None
    assert result.raw["provider"] == "sandbox"
    assert set(headers) == {"X-Sandbox-Timestamp", "X-Sandbox-Signature"}
    # Header names as Django's request.headers or a proxy may spell them.
    lowered = {name.lower(): value for name, value in headers.items()}
    assert SandboxProvider("sandbox").parse_notification(headers=lowered, body=body) == result


@pytest.mark.parametrize(
    ("status", "expected"),
    [("failed", PaymentStatus.FAILED), ("closed", PaymentStatus.CLOSED), ("pending", PaymentStatus.PENDING)],
)
def test_other_states_are_translated(status, expected):
    headers, body = sign_notification("bank", payload(status=status, paid_at=None))
    result = SandboxProvider("bank").parse_notification(headers=headers, body=body)
    assert (result.status, result.paid_at) == (expected, None)


@pytest.mark.parametrize("drop", ["X-Sandbox-Signature", "X-Sandbox-Timestamp"])
def test_missing_signature_headers(drop):
    headers, body = sign_notification("sandbox", payload())
    del headers[drop]
    rejected("missing_signature", headers, body)


def test_signature_with_another_key_is_bad(settings):
    settings.PAYMENT_SANDBOX = {**settings.PAYMENT_SANDBOX, "KEY": "someone-else"}
    headers, body = sign_notification("sandbox", payload())
    settings.PAYMENT_SANDBOX = {**settings.PAYMENT_SANDBOX, "KEY": "ours"}
    rejected("bad_signature", headers, body)


def test_key_is_derived_from_secret_key_unless_set(settings):
    settings.PAYMENT_SANDBOX = {**settings.PAYMENT_SANDBOX, "KEY": ""}
    headers, body = sign_notification("sandbox", payload())
    settings.SECRET_KEY = settings.SECRET_KEY + "-rotated"
    rejected("bad_signature", headers, body)
    settings.PAYMENT_SANDBOX = {**settings.PAYMENT_SANDBOX, "KEY": "fixed"}
    headers, body = sign_notification("sandbox", payload())
    settings.SECRET_KEY = settings.SECRET_KEY + "-again"
    assert SandboxProvider("sandbox").parse_notification(headers=headers, body=body).amount_fen == 15005


@pytest.mark.parametrize(
    ("field", "value"), [("amount_fen", 1), ("out_trade_no", "P202611230002"), ("status", "closed")]
)
def test_tampered_body_fails_the_signature(field, value):
    headers, body = sign_notification("sandbox", payload())
    tampered = json.loads(body)
    tampered[field] = value
    rejected("bad_signature", headers, json.dumps(tampered, ensure_ascii=False, sort_keys=True).encode())


def test_tampered_timestamp_or_garbage_signature_is_bad():
    headers, body = sign_notification("sandbox", payload())
    rejected("bad_signature", {**headers, "X-Sandbox-Timestamp": str(int(headers["X-Sandbox-Timestamp"]) + 1)}, body)
    rejected("bad_signature", {**headers, "X-Sandbox-Signature": "签名"}, body)


@pytest.mark.parametrize(("offset", "accepted"), [(-301, False), (301, False), (-290, True), (290, True)])
def test_timestamp_must_be_within_five_minutes(offset, accepted):
    headers, body = sign_notification("sandbox", payload(), timestamp=int(time.time()) + offset)
    if accepted:
        assert SandboxProvider("sandbox").parse_notification(headers=headers, body=body).amount_fen == 15005
    else:
        rejected("stale_timestamp", headers, body)


def test_notification_for_the_other_channel_is_refused():
    headers, body = sign_notification("bank", payload())
    rejected("wrong_provider", headers, body, provider="sandbox")
    headers, body = sign_notification("sandbox", payload())
    rejected("wrong_provider", headers, body, provider="bank")


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_fen": "15005"},
        {"amount_fen": True},
        {"amount_fen": -1},
        {"amount_fen": 150.05},
        {"status": "paid"},
        {"status": ["succeeded"]},
        {"paid_at": "2026-11-23T20:15:07"},  # no offset
        {"paid_at": "yesterday"},
        {"paid_at": None},  # succeeded without a time
        {"out_trade_no": ""},
        {"trade_no": None},
    ],
)
def test_malformed_payloads_are_refused(changes):
    headers, body = sign_notification("sandbox", payload(**changes))
    rejected("malformed", headers, body)


def test_malformed_bodies_and_timestamps_are_refused():
    for body in (b"not json", b"[1, 2]", "{}".encode("utf-16")):
        stamp = str(int(time.time()))
        headers = {"X-Sandbox-Timestamp": stamp, "X-Sandbox-Signature": sandbox_module._signature(stamp, body)}
        rejected("malformed", headers, body)
    body = json.dumps({**payload(), "provider": "sandbox"}).encode()
    headers = {"X-Sandbox-Timestamp": "soon", "X-Sandbox-Signature": sandbox_module._signature("soon", body)}
    rejected("malformed", headers, body)


def test_notification_response():
    provider = SandboxProvider("sandbox")
    assert provider.notification_response(accepted=True) == (200, "success", "text/plain")
    assert provider.notification_response(accepted=False) == (400, "fail", "text/plain")


# --- delivery ---------------------------------------------------------------------------------------------


class Deliveries(list):
    """Each notification delivered to Kaowu's notify view: (request, provider, PaymentResult, client IP)."""


@pytest.fixture
def deliveries(monkeypatch) -> Deliveries:
    """Stand in for Kaowu's notify view behind the real ``payments:notify`` route: the stand-in verifies each
    notification with the provider, records it and answers as a gateway expects."""
    received = Deliveries()
    real_resolve = urls.resolve

    def notify_view(request, provider):
        assert request.method == "POST"
        gateway = SandboxProvider(provider)
        result = gateway.parse_notification(headers=request.headers, body=request.body)
        received.append((request, provider, result, current_ip()))
        status, body, content_type = gateway.notification_response(accepted=True)
        return HttpResponse(body, status=status, content_type=content_type)

    def resolve(path, urlconf=None):
        match = real_resolve(path, urlconf)
        assert match.view_name == "payments:notify", match.view_name
        return ResolverMatch(notify_view, match.args, match.kwargs, url_name="notify")

    monkeypatch.setattr(urls, "resolve", resolve)
    return received


def test_task_delivers_the_current_state_once(deliveries, caplog):
    trade = paid("bank")
    with caplog.at_level(logging.INFO, logger="kaowu.payments"):
        assert sandbox_notify_task(trade.out_trade_no) == 200
    [(request, provider, result, ip)] = deliveries
    assert provider == "bank" and request.path == "/payments/notify/bank/"
    assert request.content_type == "application/json" and request.META["REMOTE_ADDR"] == "127.0.0.1"
    assert ip == "127.0.0.1"
    assert (result.out_trade_no, result.status, result.amount_fen) == (trade.out_trade_no, "succeeded", 15000)
    assert (result.provider_trade_no, result.paid_at) == (trade.trade_no, trade.paid_at)
    assert f"sandbox notification for {trade.out_trade_no} (succeeded) answered 200 'success'" in caplog.text


def test_task_uses_the_host_and_scheme_of_an_absolute_notify_url(deliveries):
    trade = paid("sandbox", notify_url="https://kaowu.example.com/payments/notify/sandbox/")
    sandbox_notify_task(trade.out_trade_no)
    [(request, _provider, _result, _ip)] = deliveries
    assert request.META["HTTP_HOST"] == "kaowu.example.com" and request.is_secure()


def test_task_sends_nothing_for_pending_or_unknown_trades(deliveries):
    assert sandbox_notify_task(opened().out_trade_no) is None
    assert sandbox_notify_task("P-NEVER-SEEN") is None
    assert deliveries == []


def test_task_logs_a_notify_url_outside_kaowu(deliveries, caplog):
    trade = paid(notify_url="/nowhere/")
    with caplog.at_level(logging.ERROR, logger="kaowu.payments"):
        assert sandbox_notify_task(trade.out_trade_no) is None
    assert "/nowhere/ is not a Kaowu URL" in caplog.text
    assert deliveries == []


def test_notification_payload_closes_an_expired_trade_first():
    trade = expire(opened())
    assert notification_payload(trade)["status"] == "closed"
    assert SandboxTrade.objects.get(pk=trade.pk).status == SandboxTradeStatus.CLOSED


# --- the gateway page -------------------------------------------------------------------------------------


@pytest.fixture
def queued(monkeypatch) -> list[tuple[str, int]]:
    """Notifications queued by the page, as (out_trade_no, countdown), instead of sending them."""
    calls = []
    monkeypatch.setattr(
        sandbox_notify_task,
        "apply_async",
        lambda args, countdown: calls.append((args[0], countdown)),
    )
    return calls


def pay(client, trade, django_capture_on_commit_callbacks, **data):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(gateway_url(trade), {"action": "pay", "notify": "none", **data})


def test_page_shows_the_trade(client):
    trade = opened(subject="2026年全国注册资产评估师考试报名费", amount_fen=12345)
    response = client.get(gateway_url(trade))
    page = text(response)
    assert response.status_code == 200
    for expected in ("模拟支付网关", "考务平台", "2026年全国注册资产评估师考试报名费", "¥123.45", trade.trade_no):
        assert expected in page
    assert timezone.localtime(trade.expires_at).strftime("%Y-%m-%d %H:%M") in page
    for element in ('id="sandbox-pay"', 'id="sandbox-fail"', 'id="sandbox-later"', "csrfmiddlewaretoken"):
        assert element in page
    for value in ("normal", "late", "twice", "none"):
        assert f'name="notify" value="{value}"' in page
    assert 'name="bank"' not in page


def test_bank_page_offers_the_seed_banks(client):
    page = text(client.get(gateway_url(opened("bank"))))
    assert "网银支付" in page and "模拟支付网关" not in page
    for code, name in BANKS:
        assert f'value="{code}"' in page and name in page
    assert "中国建设银行" in page and "中国农业银行" in page and len(BANKS) == 17


@pytest.mark.parametrize(("mode", "countdowns"), [("normal", [2]), ("late", [60]), ("twice", [0, 2]), ("none", [])])
def test_pay_marks_the_trade_paid_and_queues_notifications_after_commit(
    client, queued, settings, django_capture_on_commit_callbacks, mode, countdowns
):
    settings.PAYMENT_SANDBOX = {**settings.PAYMENT_SANDBOX, "NOTIFY_DELAY": 2}
    trade = opened()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(gateway_url(trade), {"action": "pay", "notify": mode})
    assert response.status_code == 302 and response["Location"] == RETURN_URL
    trade.refresh_from_db()
    assert trade.status == SandboxTradeStatus.SUCCEEDED and trade.paid_at is not None
    assert queued == []  # nothing leaves before the payment is committed
    for callback in callbacks:
        callback()
    assert queued == [(trade.out_trade_no, countdown) for countdown in countdowns]


def test_pay_without_a_notification_choice_sends_the_normal_one(client, queued, django_capture_on_commit_callbacks):
    trade = opened()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(gateway_url(trade), {"action": "pay"})
    assert queued == [(trade.out_trade_no, 2)]


def test_unknown_notification_choice_is_an_error(client, queued, django_capture_on_commit_callbacks):
    trade = opened()
    response = pay(client, trade, django_capture_on_commit_callbacks, notify="sometimes")
    assert response.status_code == 200 and "请更正以下问题" in text(response)
    trade.refresh_from_db()
    assert trade.status == SandboxTradeStatus.PENDING and queued == []


def test_fail_shows_the_failure_and_sends_nothing(client, queued, django_capture_on_commit_callbacks):
    trade = opened()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(gateway_url(trade), {"action": "fail", "notify": "normal"})
    page = text(response)
    assert response.status_code == 200 and "支付失败" in page and f'href="{RETURN_URL}"' in page
    trade.refresh_from_db()
    assert trade.status == SandboxTradeStatus.FAILED and trade.paid_at is None
    assert queued == []


def test_failed_trade_may_still_be_paid(client, queued, django_capture_on_commit_callbacks):
    trade = opened()
    client.post(gateway_url(trade), {"action": "fail"})
    assert "上一次支付没有成功" in text(client.get(gateway_url(trade)))
    assert pay(client, trade, django_capture_on_commit_callbacks).status_code == 302
    trade.refresh_from_db()
    assert trade.status == SandboxTradeStatus.SUCCEEDED


def test_later_returns_to_the_merchant_and_leaves_the_trade_pending(client, queued, django_capture_on_commit_callbacks):
    trade = opened()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(gateway_url(trade), {"action": "later", "notify": "normal"})
    assert response.status_code == 302 and response["Location"] == RETURN_URL
    trade.refresh_from_db()
    assert trade.status == SandboxTradeStatus.PENDING and queued == []


def test_expired_trade_is_closed_and_cannot_be_paid(client, queued, django_capture_on_commit_callbacks):
    trade = expire(opened())
    response = client.get(gateway_url(trade))
    assert response.status_code == 200 and "交易已关闭" in text(response) and f'href="{RETURN_URL}"' in text(response)
    assert 'id="sandbox-pay"' not in text(response)
    trade.refresh_from_db()
    assert trade.status == SandboxTradeStatus.CLOSED
    response = pay(client, trade, django_capture_on_commit_callbacks)
    assert response.status_code == 409 and "交易已关闭" in text(response)
    trade.refresh_from_db()
    assert trade.status == SandboxTradeStatus.CLOSED and trade.paid_at is None and queued == []


def test_trade_expiring_while_the_page_is_open_is_not_paid():
    trade = expire(opened())  # the page was shown in time; the press comes too late
    trade, changed = sandbox_trade_pay(out_trade_no=trade.out_trade_no, notify="normal")
    assert not changed and trade.status == SandboxTradeStatus.CLOSED


def test_paid_trade_is_not_charged_twice(client, queued, django_capture_on_commit_callbacks):
    trade = opened()
    assert pay(client, trade, django_capture_on_commit_callbacks, notify="normal").status_code == 302
    trade.refresh_from_db()
    first_paid_at = trade.paid_at
    response = pay(client, trade, django_capture_on_commit_callbacks, notify="normal")  # the double click
    assert response.status_code == 409 and "该笔交易已支付" in text(response)
    assert f'href="{RETURN_URL}"' in text(response)
    response = client.get(gateway_url(trade))
    assert "该笔交易已支付" in text(response) and 'id="sandbox-pay"' not in text(response)
    trade.refresh_from_db()
    assert trade.paid_at == first_paid_at and len(queued) == 1


def test_bank_payment_requires_a_bank(client, queued, django_capture_on_commit_callbacks):
    trade = opened("bank")
    response = pay(client, trade, django_capture_on_commit_callbacks)
    assert response.status_code == 200 and "请先选择付款银行" in text(response)
    response = pay(client, trade, django_capture_on_commit_callbacks, bank="NOT-A-BANK")
    assert response.status_code == 200 and "请更正以下问题" in text(response)
    trade.refresh_from_db()
    assert trade.status == SandboxTradeStatus.PENDING
    response = pay(client, trade, django_capture_on_commit_callbacks, bank="ABC")
    assert response.status_code == 302
    trade.refresh_from_db()
    assert (trade.status, trade.bank) == (SandboxTradeStatus.SUCCEEDED, "中国农业银行")


def test_bank_choice_is_not_needed_to_leave_or_fail(client, queued):
    trade = opened("bank")
    assert client.post(gateway_url(trade), {"action": "later"}).status_code == 302
    assert "支付失败" in text(client.post(gateway_url(trade), {"action": "fail"}))


def test_unknown_trade_is_not_found(client):
    assert client.get(reverse("payments:sandbox_gateway", args=["P-NEVER-SEEN"])).status_code == 404


def test_form_is_csrf_protected(queued, django_capture_on_commit_callbacks):
    trade = opened()
    client = Client(enforce_csrf_checks=True)
    assert client.post(gateway_url(trade), {"action": "pay"}).status_code == 403
    client.get(gateway_url(trade))
    token = client.cookies["csrftoken"].value
    response = pay(client, trade, django_capture_on_commit_callbacks, csrfmiddlewaretoken=token)
    assert response.status_code == 302


def test_page_delivers_notifications_through_the_task(client, deliveries, django_capture_on_commit_callbacks):
    trade = opened()
    response = pay(client, trade, django_capture_on_commit_callbacks, notify="twice")
    assert response.status_code == 302
    assert [result.out_trade_no for _request, _provider, result, _ip in deliveries] == [trade.out_trade_no] * 2
    notify_ids = {json.loads(request.body)["notify_id"] for request, *_rest in deliveries}
    assert len(notify_ids) == 2  # two separate notifications of the same payment


def test_paying_through_the_gateway_settles_the_kaowu_order(
    ccaa_app, cand_a, client, django_capture_on_commit_callbacks
):
    """The whole chain, nothing stood in: Kaowu starts a payment, the payer pays on the gateway page, the
    notification reaches Kaowu's notify view in-process and the order is paid."""
    order = order_for(ccaa_app, cand_a)
    payment = start(order, cand_a)
    trade = SandboxTrade.objects.get(out_trade_no=payment.number)
    response = pay(client, trade, django_capture_on_commit_callbacks, notify="normal")
    assert response.status_code == 302
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == "paid"
    assert (payment.status, payment.settled_by, payment.provider_trade_no) == ("succeeded", "notify", trade.trade_no)
    log = NotificationLog.objects.get(out_trade_no=payment.number)
    assert (log.accepted, log.outcome, log.ip) == (True, "settled", "127.0.0.1")


# --- a real double click (PostgreSQL row locks) -----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_presses_pay_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's in-memory test database cannot show two writers waiting on a lock")
    trade = opened()
    barrier = threading.Barrier(4)
    outcomes = []

    def press():
        try:
            barrier.wait()
            outcomes.append(sandbox_trade_pay(out_trade_no=trade.out_trade_no, notify="none")[1])
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False, False, False, True]
