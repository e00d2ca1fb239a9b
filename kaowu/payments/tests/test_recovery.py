"""Money that goes astray is found and never kept twice: a payment whose notification never arrives (the
housekeeping job's query of stale attempts, finance's 向支付平台查询), a notification the application cannot
take now, a second membership fee, a cancellation while a payment is in flight, a late refund task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from kaowu.applications import services as application_services
from kaowu.applications.tests.conftest import fill
from kaowu.applications.workflow import Status as ApplicationStatus
from kaowu.catalog import demo
from kaowu.core.errors import KaowuError
from kaowu.core.models import AuditEntry
from kaowu.payments import services
from kaowu.payments.models import Membership, NotificationLog, Payment, Refund, RefundKind, SandboxTrade
from kaowu.payments.providers.base import ProviderError
from kaowu.payments.providers.sandbox import SandboxProvider, notification_payload, sign_notification
from kaowu.payments.workflow import OrderStatus, PaymentStatus, RefundStatus

from .conftest import awaiting, gateway_pays, order_for, paid, start
from .test_orders import same_year_batch, set_fees

pytestmark = pytest.mark.django_db


def test_housekeeping_settles_a_payment_whose_notification_was_lost(ccaa_app, cand_a):
    order = order_for(ccaa_app, cand_a)
    gateway_pays(start(order, cand_a))
    # Too fresh: the notification may still be on its way.
    assert services.payments_query_stale() == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.UNPAID
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert services.payments_query_stale(at=timezone.now() + timedelta(minutes=6)) == 1
    order.refresh_from_db()
    ccaa_app.refresh_from_db()
    assert (order.status, ccaa_app.status) == (OrderStatus.PAID, ApplicationStatus.PAID)
    assert Payment.objects.get(order=order).settled_by == "query"
    # Settled attempts are no longer stale.
    assert services.payments_query_stale(at=timezone.now() + timedelta(minutes=6)) == 0


def test_housekeeping_refunds_a_lost_payment_of_a_cancelled_order(ccaa_app, cand_a):
    order = order_for(ccaa_app, cand_a)
    payment = start(order, cand_a)
    services.order_cancel(actor=cand_a, order=order)
    gateway_pays(payment)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.payments_query_stale(at=timezone.now() + timedelta(minutes=6))
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    refund = Refund.objects.get(payment=payment)
    assert refund.kind == RefundKind.AUTOMATIC


def test_housekeeping_leaves_old_attempts_to_reconciliation(ccaa_app, cand_a):
    order = order_for(ccaa_app, cand_a)
    gateway_pays(start(order, cand_a))
    assert services.payments_query_stale(at=timezone.now() + timedelta(days=3)) == 0
    assert Payment.objects.get(order=order).status == PaymentStatus.PENDING


def test_finance_asks_the_gateway_about_an_order(client, world, ccaa_app, cand_a):
    order = order_for(ccaa_app, cand_a)
    gateway_pays(start(order, cand_a))
    url = reverse("finance:recheck", args=[order.number])

    client.force_login(world.staff("caa_finance"))  # finance of another programme
    assert client.post(url).status_code == 404
    client.force_login(world.staff("caa_nation"))  # a reviewer
    assert client.post(url).status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.UNPAID

    client.force_login(world.staff("ccaa_finance"))
    assert client.get(url).status_code == 405
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(url, follow=True)
    assert "已向支付平台查询" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert AuditEntry.objects.filter(action="payments.order.recheck", object_id=str(order.pk)).exists()


def test_recheck_service_is_for_finance_in_scope_only(world, ccaa_app, cand_a):
    order = order_for(ccaa_app, cand_a)
    for outsider in (cand_a, world.staff("caa_finance"), world.staff("ccaa_admin")):
        with pytest.raises(KaowuError) as info:
            services.payment_recheck(actor=outsider, order=order)
        assert (info.value.code, info.value.status) == ("payments.not_finance", 403)


def test_a_payment_the_application_cannot_take_is_left_at_the_gateway_and_logged(
    ccaa_app, cand_a, client, monkeypatch, caplog
):
    """A genuine notification that cannot be settled now (here: the application refuses the payment) is
    answered as a failure so that the gateway retries; nothing is half-recorded and nothing raises."""
    order = order_for(ccaa_app, cand_a)
    payment = start(order, cand_a)
    trade = gateway_pays(payment)

    def refuse(*, application):
        raise KaowuError("applications.no_provincial_body", "所选报考地区暂未设立省级审核机构。", status=409)

    original = application_services.application_pay
    monkeypatch.setattr(application_services, "application_pay", refuse)
    headers, body = sign_notification("sandbox", notification_payload(SandboxTrade.objects.get(pk=trade.pk)))
    response = client.post(
        reverse("payments:notify", args=["sandbox"]), data=body, content_type="application/json", headers=headers
    )
    assert response.status_code != 200
    log = NotificationLog.objects.get(out_trade_no=payment.number)
    assert (log.accepted, log.outcome) == (False, "applications.no_provincial_body")
    assert "not settled" in caplog.text
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status) == (OrderStatus.UNPAID, PaymentStatus.PENDING)

    # 支付完毕 and the job meet the same refusal without failing; once it is lifted the payment settles.
    assert services.payment_check(actor=cand_a, order=order).status == OrderStatus.UNPAID
    monkeypatch.setattr(application_services, "application_pay", original)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert services.payment_check(actor=cand_a, order=order).status == OrderStatus.PAID


# --- What the review of the money code found ---------------------------------------------------------


def test_a_second_membership_fee_for_the_same_year_is_refunded_not_kept(world, cand_a):
    """Two batches of one programme in one year, a membership order in each, both paid: the second fee
    is refunded automatically, its order closed, and the candidate's next order there is 会员免缴."""
    set_fees(demo.CCAA_EXAM, registration_fee_fen=30000, membership_fee_fen=100000)
    first = awaiting(world, demo.CCAA_EXAM, cand_a)
    second = application_services.application_start(actor=cand_a, batch=same_year_batch(world, demo.CCAA_EXAM))
    fill(second, cand_a)
    application_services.application_submit(actor=cand_a, application=second)
    first_order, second_order = (order_for(app, cand_a, join_membership=True) for app in (first, second))
    first_payment, second_payment = start(first_order, cand_a), start(second_order, cand_a)
    gateway_pays(first_payment)
    gateway_pays(second_payment)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert services.payment_check(actor=cand_a, order=first_order).status == OrderStatus.PAID
        assert services.payment_check(actor=cand_a, order=second_order).status == OrderStatus.EXPIRED
    assert Membership.objects.filter(candidate=cand_a).count() == 1
    refund = Refund.objects.get(payment=second_payment)
    assert (refund.kind, refund.status) == (RefundKind.AUTOMATIC, RefundStatus.SUCCEEDED)
    assert "会员" in refund.reason
    waived = order_for(second, cand_a)
    assert waived.status == OrderStatus.WAIVED


def test_cancelling_asks_the_gateway_first(ccaa_app, cand_a):
    order = order_for(ccaa_app, cand_a)
    gateway_pays(start(order, cand_a))  # paid, but the notification is late
    with TestCase.captureOnCommitCallbacks(execute=True), pytest.raises(KaowuError) as info:
        services.order_cancel(actor=cand_a, order=order)
    assert (info.value.code, info.value.status) == ("payments.order_transition_not_allowed", 409)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert not Refund.objects.exists()


def test_a_failed_refund_is_not_sent_again_by_a_late_task(ccaa_app, cand_a, monkeypatch):
    order = paid(ccaa_app, cand_a)
    calls = []

    def refuse(self, request):
        calls.append(request.out_refund_no)
        raise ProviderError("网关超时")

    monkeypatch.setattr(SandboxProvider, "refund", refuse)
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund = services.refund_request(actor=cand_a, order=order)
    refund.refresh_from_db()
    assert (refund.status, len(calls)) == (RefundStatus.FAILED, 1)
    # A duplicate or late task for the same refund changes nothing and calls no gateway.
    assert services.refund_process(refund=refund).status == RefundStatus.FAILED
    assert len(calls) == 1


def test_finance_refund_of_an_order_that_is_not_paid_is_refused(world, ccaa_app, cand_a):
    order = order_for(ccaa_app, cand_a)
    services.order_cancel(actor=cand_a, order=order)
    with pytest.raises(KaowuError) as info:
        services.refund_manual(actor=world.staff("ccaa_finance"), order=order, reason="误操作测试")
    assert (info.value.code, info.value.status) == ("payments.order_transition_not_allowed", 409)
    ccaa_app.refresh_from_db()
    assert ccaa_app.status == ApplicationStatus.AWAITING_PAYMENT


def test_no_new_charge_while_money_already_taken_waits_to_be_recorded(ccaa_app, cand_a, monkeypatch):
    order = order_for(ccaa_app, cand_a)
    gateway_pays(start(order, cand_a))

    def refuse(*, application):
        raise KaowuError("applications.no_provincial_body", "所选报考地区暂未设立省级审核机构。", status=409)

    monkeypatch.setattr(application_services, "application_pay", refuse)
    with pytest.raises(KaowuError) as info:
        start(order, cand_a)
    assert (info.value.code, info.value.status) == ("payments.payment_processing", 409)
    assert Payment.objects.filter(order=order).count() == 1
