"""The payments test world: applications awaiting payment for seed 004 (pay straight after submission)
and seed 000 (pay after province and nation approve), a buyer, orders, and payments settled the way a
gateway would: by the sandbox gateway's ledger and its signed notifications.

Everything is built through the services; only the sandbox ledger (the gateway's side) is written
directly, as the gateway itself would.
"""

from __future__ import annotations

import pytest
from django.test import TestCase
from django.utils import timezone

from kaowu.applications import services as application_services
from kaowu.applications.models import Application
from kaowu.applications.tests import conftest as applications_world
from kaowu.applications.tests.conftest import World, submitted
from kaowu.catalog import demo
from kaowu.payments import services
from kaowu.payments.models import Order, Payment, SandboxTrade, SandboxTradeStatus

# The applications test world's fixtures, shared (pytest finds fixtures by module attribute).
world, cand_a, cand_b = applications_world.world, applications_world.cand_a, applications_world.cand_b

BUYER = services.Buyer(name="张三", phone="13912345678", email="payer@example.com")


def awaiting(world: World, code: str, actor, **choices) -> Application:
    """An application of programme ``code`` that now awaits payment (approved by every level if needed)."""
    application = submitted(world, code, actor, **choices)
    reviewers = {demo.AUCTIONEER_EXAM: ["js_caa_province", "caa_nation"]}.get(code, [])
    for username in reviewers:
        with TestCase.captureOnCommitCallbacks(execute=True):
            application_services.review_approve(actor=world.staff(username), application=application)
    application.refresh_from_db()
    assert application.status == "awaiting_payment", application.status
    return application


def order_for(application: Application, actor, **kwargs) -> Order:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return services.order_create(actor=actor, application=application, buyer=BUYER, **kwargs)


def start(order: Order, actor, provider: str = "sandbox") -> Payment:
    payment, _start = services.payment_start(
        actor=actor,
        order=order,
        provider=provider,
        mobile=True,
        client_ip="127.0.0.1",
        notify_url=f"/payments/notify/{provider}/",
        return_url=f"/payments/orders/{order.number}/return/",
    )
    return payment


def gateway_pays(payment: Payment) -> SandboxTrade:
    """The payer pays at the sandbox gateway (its ledger says so); Kaowu has not heard of it yet."""
    trade = SandboxTrade.objects.get(out_trade_no=payment.number)
    trade.status, trade.paid_at = SandboxTradeStatus.SUCCEEDED, timezone.now()
    trade.save()
    return trade


def paid(application: Application, actor, **kwargs) -> Order:
    """Order, pay at the sandbox gateway and settle through 支付完毕 (the query path)."""
    order = order_for(application, actor, **kwargs)
    gateway_pays(start(order, actor))
    with TestCase.captureOnCommitCallbacks(execute=True):
        order = services.payment_check(actor=actor, order=order)
    assert order.status == "paid", order.status
    return order


@pytest.fixture
def ccaa_app(world, cand_a) -> Application:
    """Seed 004 (CCAA): awaiting payment straight after submission."""
    return awaiting(world, demo.CCAA_EXAM, cand_a)


@pytest.fixture
def auction_app(world, cand_a) -> Application:
    """Seed 000 (auctioneer exam): awaiting payment after province and nation approved."""
    return awaiting(world, demo.AUCTIONEER_EXAM, cand_a)
