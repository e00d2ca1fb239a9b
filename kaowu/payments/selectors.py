"""Reads of orders, payments and refunds for candidates, with the permission check in the fetcher."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from kaowu.applications.models import Application
from kaowu.core.errors import KaowuError

from .models import Membership, Order, OrderKind, OrderLine, Payment, Refund, RefundKind
from .workflow import LIVE_ORDER_STATES, OrderStatus, PaymentStatus


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


def settling_payments() -> QuerySet[Payment]:
    """Payments that paid their order: succeeded and not refunded as a duplicate or late payment."""
    return Payment.objects.filter(status=PaymentStatus.SUCCEEDED).exclude(refund__kind=RefundKind.AUTOMATIC)


def settling_payment_of(order: Order) -> Payment | None:
    """The attempt that paid ``order`` (others that also succeeded were refunded automatically)."""
    return settling_payments().filter(order=order).order_by("paid_at", "pk").first()


def order_lines_for(application: Application, *, join_membership: bool) -> tuple[str, list[OrderLine], bool]:
    """(order kind, unsaved lines, waived) for what ``application`` owes now: what ``order_create`` freezes
    and the 网上缴费 page shows beforehand. Raises ``KaowuError`` when the programme charges nothing
    it can bill (a configuration gap the candidate is told to report).

    Exams charge each registered subject's fee (a retake candidate registered only the subjects still to
    pass); a programme with a registration fee charges it, or, if the payer joins, the membership fee,
    and nothing at all for a member of the year (会员免缴)."""
    programme = application.programme
    if programme.registration_fee_fen or programme.membership_fee_fen:
        if is_member(application.candidate, programme, application.batch.year):
            line = OrderLine(description=str(_("注册费（会员免缴）")), unit_fen=0, quantity=1, amount_fen=0)
            return OrderKind.REGISTRATION, [line], True
        if join_membership:
            if not programme.membership_fee_fen:
                raise KaowuError("payments.no_membership", _("本项目不设个人会员，请缴纳注册费。"))
            fee = programme.membership_fee_fen
            return (
                OrderKind.MEMBERSHIP,
                [OrderLine(description=str(_("个人会员费")), unit_fen=fee, amount_fen=fee)],
                False,
            )
        fee = programme.registration_fee_fen
        if fee:
            return (
                OrderKind.REGISTRATION,
                [OrderLine(description=str(_("注册费")), unit_fen=fee, amount_fen=fee)],
                False,
            )
        raise KaowuError("payments.membership_required", _("本项目须缴纳个人会员费，请选择入会缴费。"))
    lines = [
        OrderLine(
            subject=s.subject, description=s.subject.name, unit_fen=s.subject.fee_fen, amount_fen=s.subject.fee_fen
        )
        for s in application.subjects.select_related("subject")
    ]
    if not lines or not sum(line.amount_fen for line in lines):
        raise KaowuError("payments.no_fee", _("本项目未设置报名费，无法生成订单，请联系考试机构。"), status=409)
    return OrderKind.SUBJECTS, lines, False
