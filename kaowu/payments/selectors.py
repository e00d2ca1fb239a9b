"""Reads of orders, payments and refunds for candidates, with the permission check in the fetcher."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from kaowu.applications.models import Application

from .models import Membership, Order, Refund, RefundKind
from .workflow import LIVE_ORDER_STATES, OrderStatus


def get_order_for(user: Any, number: str) -> Order:
    """The order ``number`` if ``user`` is its candidate; 404 otherwise (no hint that it exists)."""
    order = (
        Order.objects.select_related("application", "batch__programme")
        .prefetch_related("lines", "payments", "refunds")
        .filter(number=number, candidate_id=getattr(user, "pk", None))
        .first()
    )
    if order is None:
        raise Http404
    return order


def orders_of(user: Any) -> QuerySet[Order]:
    """我的订单: every order of the candidate, newest first, with what the list shows."""
    return (
        Order.objects.filter(candidate_id=getattr(user, "pk", None))
        .select_related("batch", "application")
        .prefetch_related("lines", "refunds")
    )


def live_order_of(application: Application) -> Order | None:
    """The application's unpaid, paid or refunding order, if any."""
    return application.orders.filter(status__in=LIVE_ORDER_STATES).prefetch_related("lines").first()


def paid_order_of(application: Application) -> Order | None:
    return application.orders.filter(status=OrderStatus.PAID).prefetch_related("lines", "payments").first()


def candidate_refund_of(user: Any, batch: Any) -> Refund | None:
    """The refund the candidate asked for in ``batch`` (每人一次), if any."""
    return Refund.objects.filter(candidate_id=getattr(user, "pk", None), batch=batch, kind=RefundKind.CANDIDATE).first()


def is_member(user: Any, programme: Any, year: int) -> bool:
    return Membership.objects.filter(candidate_id=getattr(user, "pk", None), programme=programme, year=year).exists()
