"""Settlement (PAY-2): a genuine notification settles an order once; duplicates and replays change nothing;
forged, tampered, stale or unknown notifications are refused, logged and answered as failures; 支付完毕
settles the same way; money for an order that is no longer unpaid is refunded automatically; a programme
that takes payment before review sends the paid application into review.

Notifications are the sandbox gateway's own, signed with ``sign_notification`` from its ledger, exactly as
the gateway sends them; forgeries change what an attacker could change."""

from __future__ import annotations

import json
import logging
import time
import uuid

import pytest
from django.test import TestCase
from django.urls import reverse

from kaowu.applications import services as application_services
from kaowu.applications.models import ReviewStep, StepStatus
from kaowu.applications.tests.conftest import submitted
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.notifications.sms import locmem
from kaowu.payments import services
from kaowu.payments.models import (
    NotificationLog,
    Order,
    OrderEvent,
    Payment,
    Refund,
    RefundKind,
    SandboxRefund,
    SandboxTrade,
)
from kaowu.payments.providers.sandbox import (
    MAX_CLOCK_SKEW_SECONDS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    notification_payload,
    sign_notification,
)
from kaowu.payments.workflow import OrderStatus, PaymentStatus, RefundStatus

from .conftest import BUYER, awaiting, gateway_pays, order_for, paid, start
from .test_orders import before_review, clock_stopper, footprint, refused, sms

pytestmark = pytest.mark.django_db

SUCCESS = (200, "success", "text/plain")
FAILURE = (400, "fail", "text/plain")


def genuine(payment: Payment, *, code: str = "sandbox", timestamp: int | None = None, **changes):
    """The gateway's signed notification of ``payment``'s trade as its ledger stands (``changes`` as the
    gateway would report them differently)."""
    trade = SandboxTrade.objects.get(out_trade_no=payment.number)
    return sign_notification(
        code, {**notification_payload(trade), "notify_id": uuid.uuid4().hex, **changes}, timestamp=timestamp
    )


def receive(message, provider: str = "sandbox"):
    headers, body = message
    with TestCase.captureOnCommitCallbacks(execute=True):
        return services.payment_notification_receive(provider=provider, headers=headers, body=body, ip="10.0.0.1")


def events(order: Order) -> list[tuple[str, str, str, str]]:
    return list(order.events.order_by("pk").values_list("subject", "action", "from_status", "to_status"))


@pytest.fixture
def clock(monkeypatch):
    return clock_stopper(monkeypatch)


@pytest.fixture
def attempt(world, cand_a, ccaa_app) -> Payment:
    """Seed 004's order, one attempt at the sandbox gateway, paid there; Kaowu has not heard yet."""
    payment = start(order_for(ccaa_app, cand_a), cand_a)
    gateway_pays(payment)
    locmem.clear()
    return payment


# --- A genuine notification ------------------------------------------------------------------------


def test_a_notification_settles_the_order(attempt, ccaa_app):
    trade = SandboxTrade.objects.get(out_trade_no=attempt.number)
    assert receive(genuine(attempt)) == SUCCESS

    payment = Payment.objects.get(pk=attempt.pk)
    order = payment.order
    ccaa_app.refresh_from_db()
    assert (payment.status, payment.settled_by, payment.provider_trade_no) == (
        PaymentStatus.SUCCEEDED,
        "notify",
        trade.trade_no,
    )
    assert payment.paid_at == trade.paid_at and order.paid_at == trade.paid_at
    assert payment.evidence["out_trade_no"] == attempt.number
    assert (order.status, ccaa_app.status) == (OrderStatus.PAID, Status.PAID)
    assert events(order) == [
        ("payment", "succeed", PaymentStatus.PENDING, PaymentStatus.SUCCEEDED),
        ("order", "pay", OrderStatus.UNPAID, OrderStatus.PAID),
    ]
    assert list(ccaa_app.transitions.order_by("pk").values_list("action", "to_status", "actor")) == [
        ("submit", Status.AWAITING_PAYMENT, ccaa_app.candidate_id),
        ("pay", Status.PAID, None),
    ]
    log = NotificationLog.objects.get()
    assert (log.accepted, log.outcome, log.out_trade_no, log.ip) == (True, "settled", attempt.number, "10.0.0.1")
    (receipt,) = sms("order_paid")
    assert receipt.phone == BUYER.phone
    assert (receipt.params["amount"], receipt.params["order"]) == ("240.00", order.number)
    assert receipt.params["receipt"].endswith(reverse("payments:receipt", args=[order.number]))


def test_duplicates_and_replays_change_nothing(attempt, ccaa_app):
    first = genuine(attempt)
    receive(first)
    before = footprint(ccaa_app)
    texts = len(sms("order_paid"))
    # The very same message again, and the gateway's retry (a new notify_id, signed afresh).
    assert receive(first) == SUCCESS
    assert receive(genuine(attempt)) == SUCCESS
    assert footprint(ccaa_app) == before
    assert len(sms("order_paid")) == texts == 1
    assert list(NotificationLog.objects.order_by("pk").values_list("accepted", "outcome")) == [
        (True, "settled"),
        (True, "duplicate"),
        (True, "duplicate"),
    ]


def test_a_failure_then_a_success_counts_the_success(world, cand_a, ccaa_app):
    """The gateway's word wins: an attempt reported failed and then paid is paid."""
    payment = start(order_for(ccaa_app, cand_a), cand_a)
    failed = genuine(payment, status="failed", paid_at=None)
    assert receive(failed) == SUCCESS
    payment.refresh_from_db()
    assert (payment.status, payment.order.status) == (PaymentStatus.FAILED, OrderStatus.UNPAID)
    gateway_pays(payment)
    assert receive(genuine(payment)) == SUCCESS
    payment.refresh_from_db()
    assert (payment.status, payment.order.status) == (PaymentStatus.SUCCEEDED, OrderStatus.PAID)


# --- Forged, tampered, stale and unknown notifications ------------------------------------------------


def _tamper(message, **changes):
    headers, body = message
    return headers, json.dumps({**json.loads(body), **changes}, ensure_ascii=False, sort_keys=True).encode()


def _bad_signature(payment, other):
    headers, body = genuine(payment)
    return {**headers, SIGNATURE_HEADER: "0" * 64}, body


def _unsigned(payment, other):
    headers, body = genuine(payment)
    return {TIMESTAMP_HEADER: headers[TIMESTAMP_HEADER]}, body


UNKNOWN = "P20990101000000FFFFF"
_NONE, _ITS_OWN, _THE_UNKNOWN = (lambda p: ""), (lambda p: p.number), (lambda p: UNKNOWN)
FORGERIES = {
    # name: (message from (payment, another order's payment), provider posted to, code logged, number logged)
    "missing signature": (_unsigned, "sandbox", "missing_signature", _NONE),
    "bad signature": (_bad_signature, "sandbox", "bad_signature", _NONE),
    "tampered amount": (lambda p, o: _tamper(genuine(p), amount_fen=1), "sandbox", "bad_signature", _NONE),
    "another order's number": (
        lambda p, o: _tamper(genuine(p), out_trade_no=o.number),
        "sandbox",
        "bad_signature",
        _NONE,
    ),
    "stale timestamp": (
        lambda p, o: genuine(p, timestamp=int(time.time()) - MAX_CLOCK_SKEW_SECONDS - 60),
        "sandbox",
        "stale_timestamp",
        _NONE,
    ),
    "from the future": (
        lambda p, o: genuine(p, timestamp=int(time.time()) + MAX_CLOCK_SKEW_SECONDS + 60),
        "sandbox",
        "stale_timestamp",
        _NONE,
    ),
    "another channel": (lambda p, o: genuine(p), "bank", "wrong_provider", _NONE),
    "incomplete": (
        lambda p, o: sign_notification("sandbox", {"out_trade_no": p.number}),
        "sandbox",
        "malformed",
        _NONE,
    ),
    # Signed by the gateway but not believable: the amount is not the payment's, the number unknown.
    "wrong amount reported": (
        lambda p, o: genuine(p, amount_fen=p.amount_fen - 1),
        "sandbox",
        "amount_mismatch",
        _ITS_OWN,
    ),
    "unknown number": (lambda p, o: genuine(p, out_trade_no=UNKNOWN), "sandbox", "unknown_payment", _THE_UNKNOWN),
}


@pytest.mark.parametrize("case", list(FORGERIES))
def test_a_forged_notification_changes_nothing(world, cand_a, cand_b, ccaa_app, attempt, caplog, case):
    other = start(order_for(awaiting(world, demo.CCAA_EXAM, cand_b), cand_b), cand_b)
    make, provider, code, logged = FORGERIES[case]
    message = make(attempt, other)
    before, other_before = footprint(ccaa_app), footprint(other.order.application)
    caplog.set_level(logging.WARNING, logger="kaowu.payments")

    assert receive(message, provider=provider) == FAILURE

    assert footprint(ccaa_app) == before
    assert footprint(other.order.application) == other_before
    log = NotificationLog.objects.get()
    assert (log.accepted, log.outcome, log.provider, log.ip) == (False, code, provider, "10.0.0.1")
    assert log.out_trade_no == logged(attempt)
    warnings = [r for r in caplog.records if r.name == "kaowu.payments" and r.levelno == logging.WARNING]
    assert any(code in r.getMessage() for r in warnings), [r.getMessage() for r in warnings]
    assert not sms("order_paid")


def test_a_genuine_trade_number_is_not_reused_for_another_payment(world, cand_a, cand_b, attempt, caplog):
    """A gateway trade settles one payment: a signed message naming another payment with an already
    settled trade number is refused, and the other order stays unpaid."""
    receive(genuine(attempt))
    trade_no = Payment.objects.get(pk=attempt.pk).provider_trade_no
    other = start(order_for(awaiting(world, demo.CCAA_EXAM, cand_b), cand_b), cand_b)
    before = footprint(other.order.application)
    caplog.set_level(logging.WARNING, logger="kaowu.payments")

    message = sign_notification(
        "sandbox",
        {
            "out_trade_no": other.number,
            "trade_no": trade_no,
            "amount_fen": other.amount_fen,
            "status": "succeeded",
            "paid_at": Payment.objects.get(pk=attempt.pk).paid_at.isoformat(),
        },
    )
    assert receive(message) == FAILURE
    assert footprint(other.order.application) == before
    log = NotificationLog.objects.latest("pk")
    assert (log.accepted, log.outcome, log.out_trade_no) == (False, "trade_number_reused", other.number)
    assert any("trade_number_reused" in r.getMessage() for r in caplog.records if r.name == "kaowu.payments")


def test_a_replay_after_the_refund_changes_nothing(world, cand_a, ccaa_app, attempt):
    """Replayed inside the gateway's clock tolerance, the old message is a known payment: acknowledged
    (so the gateway stops), nothing changes. Replayed later, its timestamp gives it away."""
    message = genuine(attempt)
    receive(message)
    order = Order.objects.get(pk=attempt.order_id)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.refund_request(actor=cand_a, order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    before = footprint(ccaa_app)

    assert receive(message) == SUCCESS
    assert footprint(ccaa_app) == before
    assert NotificationLog.objects.latest("pk").outcome == "duplicate"

    old = genuine(attempt, timestamp=int(time.time()) - 3600)
    assert receive(old) == FAILURE
    assert footprint(ccaa_app) == before
    log = NotificationLog.objects.latest("pk")
    assert (log.accepted, log.outcome) == (False, "stale_timestamp")
    assert Refund.objects.count() == 1


# --- The notify view -----------------------------------------------------------------------------------


def test_the_notify_view_answers_as_the_gateway_expects(client, attempt):
    url = reverse("payments:notify", args=["sandbox"])
    headers, body = _bad_signature(attempt, None)
    response = client.post(url, data=body, content_type="application/json", headers=headers)
    assert (response.status_code, response.content, response["Content-Type"]) == (400, b"fail", "text/plain")
    assert Order.objects.get(pk=attempt.order_id).status == OrderStatus.UNPAID

    headers, body = genuine(attempt)
    response = client.post(url, data=body, content_type="application/json", headers=headers)
    assert (response.status_code, response.content) == (200, b"success")
    assert Order.objects.get(pk=attempt.order_id).status == OrderStatus.PAID
    assert list(NotificationLog.objects.order_by("pk").values_list("accepted", "ip")) == [
        (False, "127.0.0.1"),
        (True, "127.0.0.1"),
    ]

    unknown = reverse("payments:notify", args=["paypal"])
    assert client.post(unknown, data=body, content_type="application/json").status_code == 404
    assert client.get(url).status_code == 405


# --- 支付完毕 ---------------------------------------------------------------------------------------------


def test_payment_check_settles_what_the_gateway_says(world, cand_a, cand_b, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    payment = start(order, cand_a)
    # Nothing paid yet: the order stays as it is.
    assert services.payment_check(actor=cand_a, order=order).status == OrderStatus.UNPAID
    gateway_pays(payment)
    refused(lambda: services.payment_check(actor=cand_b, order=order), "payments.not_owner", 403)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.UNPAID

    with TestCase.captureOnCommitCallbacks(execute=True):
        order = services.payment_check(actor=cand_a, order=order)
    payment.refresh_from_db()
    assert (order.status, payment.status, payment.settled_by) == (OrderStatus.PAID, PaymentStatus.SUCCEEDED, "query")
    # The notification arriving afterwards is a duplicate.
    assert receive(genuine(payment)) == SUCCESS
    assert NotificationLog.objects.get().outcome == "duplicate"
    assert OrderEvent.objects.filter(order=order, action="pay").count() == 1


# --- Money for an order that is no longer unpaid ---------------------------------------------------------


def assert_refunded_automatically(payment: Payment, order_status: str) -> Refund:
    payment.refresh_from_db()
    order = payment.order
    assert order.status == order_status  # the order is left as it was
    assert payment.status == PaymentStatus.SUCCEEDED
    refund = Refund.objects.get(payment=payment)
    assert (refund.kind, refund.amount_fen, refund.status) == (
        RefundKind.AUTOMATIC,
        payment.amount_fen,
        RefundStatus.SUCCEEDED,
    )
    assert SandboxRefund.objects.get(out_refund_no=refund.number).amount_fen == payment.amount_fen
    (text,) = sms("payment_refunded_automatically")
    assert (text.phone, text.params["order"], text.params["amount"]) == (BUYER.phone, order.number, "240.00")
    return refund


def test_a_late_payment_for_a_cancelled_order_is_refunded(world, cand_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    payment = start(order, cand_a)
    services.order_cancel(actor=cand_a, order=order)
    gateway_pays(payment)
    locmem.clear()
    assert receive(genuine(payment)) == SUCCESS
    assert NotificationLog.objects.get().outcome == "refunded"
    assert_refunded_automatically(payment, OrderStatus.CANCELLED)
    ccaa_app.refresh_from_db()
    assert ccaa_app.status == Status.AWAITING_PAYMENT


def test_a_late_payment_for_an_expired_order_is_refunded(world, cand_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    payment = start(order, cand_a)
    assert services.orders_expire(at=order.expires_at) == 1
    gateway_pays(payment)
    locmem.clear()
    assert receive(genuine(payment)) == SUCCESS
    assert_refunded_automatically(payment, OrderStatus.EXPIRED)
    ccaa_app.refresh_from_db()
    assert ccaa_app.status == Status.AWAITING_PAYMENT
    assert not ccaa_app.seat_holds.exists()


def test_two_attempts_both_paid_settle_once_and_refund_the_other(world, cand_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    first, second = start(order, cand_a), start(order, cand_a)
    gateway_pays(first)
    gateway_pays(second)
    locmem.clear()
    assert receive(genuine(first)) == SUCCESS
    assert receive(genuine(second)) == SUCCESS
    assert list(NotificationLog.objects.order_by("pk").values_list("outcome", flat=True)) == ["settled", "refunded"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert OrderEvent.objects.filter(order=order, subject="order", action="pay").count() == 1
    assert not Refund.objects.filter(payment=first).exists()
    assert_refunded_automatically(second, OrderStatus.PAID)
    ccaa_app.refresh_from_db()
    assert ccaa_app.status == Status.PAID


def test_the_automatic_refund_text_reads_correctly(world, cand_a, ccaa_app):
    """The SMS says why the money goes back: "因订单已{reason}" must not read "订单已已取消"."""
    order = order_for(ccaa_app, cand_a)
    payment = start(order, cand_a)
    services.order_cancel(actor=cand_a, order=order)
    gateway_pays(payment)
    locmem.clear()
    receive(genuine(payment))
    (text,) = sms("payment_refunded_automatically")
    assert "已已" not in text.text, text.text


def test_starting_again_asks_about_the_earlier_attempt_first(world, cand_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    payment = start(order, cand_a)
    gateway_pays(payment)  # paid, but the notification is late
    with TestCase.captureOnCommitCallbacks(execute=True):
        error = refused(lambda: start(order, cand_a), "payments.already_paid", 409)
    assert "无需再次支付" in error.message
    payment.refresh_from_db()
    assert (payment.status, payment.settled_by, payment.order.status) == (
        PaymentStatus.SUCCEEDED,
        "query",
        OrderStatus.PAID,
    )
    assert Payment.objects.count() == 1


def test_starting_a_payment_needs_an_open_order_of_ones_own(world, cand_a, cand_b, ccaa_app, clock):
    order = order_for(ccaa_app, cand_a)
    refused(lambda: start(order, cand_b), "payments.not_owner", 403)
    refused(lambda: start(order, cand_a, provider="alipay"), "payments.provider_unavailable")
    clock(order.expires_at)
    refused(lambda: start(order, cand_a), "payments.order_closed", 409)
    assert not Payment.objects.exists()


# --- Payment before review (seed 001) -------------------------------------------------------------------


def test_paying_first_sends_the_application_into_review(world, cand_a):
    before_review(world)
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    assert (application.status, application.current_stage) == (Status.AWAITING_PAYMENT, None)
    assert not ReviewStep.objects.filter(application=application).exists()

    payment = start(order_for(application, cand_a), cand_a)
    gateway_pays(payment)
    assert receive(genuine(payment)) == SUCCESS

    application.refresh_from_db()
    assert application.status == Status.UNDER_REVIEW
    step = ReviewStep.objects.get(application=application)
    assert (step.status, step.stage, step.round) == (StepStatus.PENDING, application.current_stage, 1)
    assert step.stage.position == application.programme.review_stages.order_by("position").first().position
    assert list(application.transitions.order_by("pk").values_list("action", "to_status")) == [
        ("submit", Status.AWAITING_PAYMENT),
        ("pay", Status.UNDER_REVIEW),
    ]
    # Review then ends in 审核通过: nothing is owed any more.
    for reviewer in ("js_caa_province", "caa_nation"):
        application_services.review_approve(actor=world.staff(reviewer), application=application)
    application.refresh_from_db()
    assert application.status == Status.APPROVED


def test_a_paid_application_returned_by_review_goes_back_to_review_when_resubmitted(world, cand_a):
    """Paid before review (seed 001), returned for a correction: resubmitting must not ask for payment
    again (the order is paid; a second live order is impossible), it goes back to review."""
    before_review(world)
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    paid(application, cand_a)
    application_services.review_return(
        actor=world.staff("js_caa_province"), application=application, reason="请补充工作证明"
    )
    application.refresh_from_db()
    assert application.status == Status.RETURNED

    with TestCase.captureOnCommitCallbacks(execute=True):
        application_services.application_submit(actor=cand_a, application=application)
    application.refresh_from_db()
    assert application.status == Status.UNDER_REVIEW
    assert ReviewStep.objects.filter(application=application, round=2, status=StepStatus.PENDING).exists()


def test_the_receipt_link_points_at_this_site(settings, attempt):
    settings.KAOWU_SITE_URL = "https://kaowu.example.cn"
    receive(genuine(attempt))
    (receipt,) = sms("order_paid")
    assert receipt.params["receipt"].startswith("https://kaowu.example.cn/payments/orders/")
