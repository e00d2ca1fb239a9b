"""A payment whose notification never arrives is still found: by the housekeeping job's query of stale
attempts, and by finance's 向支付平台查询 on the order (reconciliation's "平台漏记收款")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from kaowu.applications import services as application_services
from kaowu.applications.workflow import Status as ApplicationStatus
from kaowu.core.errors import KaowuError
from kaowu.core.models import AuditEntry
from kaowu.payments import services
from kaowu.payments.models import NotificationLog, Payment, Refund, RefundKind, SandboxTrade
from kaowu.payments.providers.sandbox import notification_payload, sign_notification
from kaowu.payments.workflow import OrderStatus, PaymentStatus

from .conftest import gateway_pays, order_for, start

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
