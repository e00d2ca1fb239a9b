"""Reads of the finance back office, each scoped to the programmes the user's finance roles cover.

Scope is decided in one place: ``finance_programmes``. System administrators see every programme
(``programmes_for`` says so); a finance role sees the programmes owned within its organisation, or the one
programme it is narrowed to. Every list and fetcher here starts from that set, so an order, payment or
refund of another programme is simply not found (404 for a single one, absent from lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kaowu.backoffice.models import RoleKind
from kaowu.backoffice.permissions import is_system_admin, programmes_for, roles_of
from kaowu.catalog.models import Batch, Programme
from kaowu.core.masking import mask_phone

from ..models import Order, OrderEvent, Payment, Refund
from ..providers import LABELS
from ..selectors import settling_payments
from ..workflow import OrderAction, OrderStatus, PaymentAction, PaymentStatus, RefundAction, RefundStatus

FINANCE_ROLES = frozenset({RoleKind.FINANCE})


def has_finance_role(user: Any) -> bool:
    """Whether the user holds a finance role (system administrators need not)."""
    return any(role.role == RoleKind.FINANCE for role in roles_of(user))


def is_finance_staff(user: Any) -> bool:
    """Who may open the finance pages: finance staff and system administrators."""
    return is_system_admin(user) or has_finance_role(user)


def finance_programmes(user: Any) -> QuerySet[Programme]:
    return programmes_for(user, roles=FINANCE_ROLES)


def finance_batches(user: Any) -> QuerySet[Batch]:
    """Batches of the user's finance programmes, for the batch filters."""
    return (
        Batch.objects.filter(programme__in=finance_programmes(user))
        .select_related("programme")
        .order_by("-year", "programme__name", "name")
    )


def provider_choices() -> list[tuple[str, Any]]:
    """Providers to filter or reconcile by: those the deployment lists (``PAYMENT_PROVIDERS``, whether or
    not their keys are in place yet), and any that recorded payments before it was switched off (its money
    still has to be accounted for)."""
    listed = [code for code in settings.PAYMENT_PROVIDERS if code in LABELS]
    used = set(Payment.objects.order_by().values_list("provider", flat=True).distinct())
    return [(code, LABELS.get(code, code)) for code in [*listed, *sorted(used - set(listed))]]


def _day_range(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Whole local days from ``start`` to ``end`` (both included) as aware bounds [from, to)."""
    since = timezone.make_aware(datetime.combine(start, time.min)) if start else None
    until = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min)) if end else None
    return since, until


def _in_range(field: str, start: date | None, end: date | None) -> Q:
    since, until = _day_range(start, end)
    condition = Q()
    if since:
        condition &= Q(**{f"{field}__gte": since})
    if until:
        condition &= Q(**{f"{field}__lt": until})
    return condition


# --- Orders --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilters:
    batch: int | None = None
    status: str = ""
    provider: str = ""
    date_field: str = "created"  # created / paid
    date_from: date | None = None
    date_to: date | None = None
    search: str = ""

    def for_audit(self) -> dict[str, Any]:
        """The filters as recorded with an export (dates as ISO text; a phone number searched for masked)."""
        search = self.search
        return {
            "batch": self.batch,
            "status": self.status,
            "provider": self.provider,
            "date_field": self.date_field,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "search": mask_phone(search) if search.isdigit() and len(search) == 11 else search,
        }


def _order_search(term: str) -> Q:
    """Exact order, 报名号, payment or gateway trade number, exact phone (account or payer), or a name fragment."""
    payments = Payment.objects.filter(order=OuterRef("pk")).filter(Q(number=term) | Q(provider_trade_no=term))
    return (
        Q(number=term)
        | Q(application__number=term)
        | Q(candidate__real_name__contains=term)
        | Q(candidate__phone=term)
        | Q(buyer_phone=term)
        | Q(Exists(payments))
    )


def finance_orders(user: Any, filters: OrderFilters) -> QuerySet[Order]:
    """Orders of the user's finance programmes matching ``filters``, newest first, one row per order (the
    conditions on payments are subqueries, never joins, so totals count each order once)."""
    orders = Order.objects.filter(batch__programme__in=finance_programmes(user))
    if filters.batch:
        orders = orders.filter(batch_id=filters.batch)
    if filters.status:
        orders = orders.filter(status=filters.status)
    if filters.provider:
        orders = orders.filter(Exists(settling_payments().filter(order=OuterRef("pk"), provider=filters.provider)))
    field = "paid_at" if filters.date_field == "paid" else "created_at"
    orders = orders.filter(_in_range(field, filters.date_from, filters.date_to))
    if filters.search.strip():
        orders = orders.filter(_order_search(filters.search.strip()))
    return orders.order_by("-created_at", "-pk")


def with_settlement(orders: QuerySet[Order]) -> QuerySet[Order]:
    """``orders`` with what lists and exports show beside each: the settling payment's provider and gateway
    trade number, and the latest refund's kind and status (annotations, one query for the lot)."""
    settling = settling_payments().filter(order=OuterRef("pk")).order_by("paid_at", "pk")
    latest_refund = Refund.objects.filter(order=OuterRef("pk")).order_by("-created_at", "-pk")
    return orders.select_related("candidate", "application", "batch").annotate(
        paid_provider=Subquery(settling.values("provider")[:1]),
        paid_trade_no=Subquery(settling.values("provider_trade_no")[:1]),
        refund_kind=Subquery(latest_refund.values("kind")[:1]),
        refund_status=Subquery(latest_refund.values("status")[:1]),
    )


@dataclass(frozen=True)
class OrderTotals:
    count: int
    paid_count: int
    paid_fen: int
    refunding_fen: int
    refunded_fen: int
    unpaid_fen: int


def order_totals(orders: QuerySet[Order]) -> OrderTotals:
    """The number of ``orders`` and the amounts paid (kept), being refunded, refunded and unpaid, in one
    aggregate query."""

    def amount(*statuses: str) -> Sum:
        return Sum("amount_fen", filter=Q(status__in=statuses), default=0)

    figures = orders.order_by().aggregate(
        count=Count("pk"),
        paid_count=Count("pk", filter=Q(status=OrderStatus.PAID)),
        paid_fen=amount(OrderStatus.PAID),
        refunding_fen=amount(OrderStatus.REFUNDING),
        refunded_fen=amount(OrderStatus.REFUNDED),
        unpaid_fen=amount(OrderStatus.UNPAID),
    )
    return OrderTotals(**figures)


def get_order_for_finance(user: Any, number: str) -> Order:
    """The order ``number`` if one of the user's finance programmes has it; 404 otherwise (no hint that it
    exists elsewhere)."""
    order = (
        Order.objects.filter(number=number, batch__programme__in=finance_programmes(user))
        .select_related("application__batch", "candidate", "batch__programme")
        .prefetch_related("lines")
        .first()
    )
    if order is None:
        raise Http404
    return order


def get_refund_for_finance(user: Any, number: str, refund_number: str) -> Refund:
    """The refund ``refund_number`` of order ``number`` within the user's finance programmes; 404 otherwise."""
    order = get_order_for_finance(user, number)
    refund = Refund.objects.filter(order=order, number=refund_number).select_related("order__batch").first()
    if refund is None:
        raise Http404
    return refund


# --- An order's history --------------------------------------------------------------------------------------

_STATUS_LABELS = {"order": OrderStatus, "payment": PaymentStatus, "refund": RefundStatus}
_ACTION_LABELS = {"order": OrderAction, "payment": PaymentAction, "refund": RefundAction}
_SUBJECT_LABELS = {"order": _("订单"), "payment": _("支付"), "refund": _("退款")}
# A refund's first event is its creation, which is not a transition of the table.
_EXTRA_ACTIONS = {("refund", "request"): _("申请退款")}


def _label(choices: Any, value: str) -> Any:
    return choices(value).label if value in choices.values else value


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    subject: Any
    number: str
    action: Any
    from_status: Any
    to_status: Any
    actor: Any
    reason: str


def order_history(order: Order) -> list[HistoryRow]:
    """The order's events, oldest first, with the labels of their subject, action and statuses."""
    rows = []
    for event in OrderEvent.objects.filter(order=order).select_related("actor").order_by("created_at", "pk"):
        statuses = _STATUS_LABELS.get(event.subject)
        action = _EXTRA_ACTIONS.get((event.subject, event.action))
        if action is None and event.subject in _ACTION_LABELS:
            action = _label(_ACTION_LABELS[event.subject], event.action)
        rows.append(
            HistoryRow(
                at=event.created_at,
                subject=_SUBJECT_LABELS.get(event.subject, event.subject),
                number=event.subject_number,
                action=action or event.action,
                from_status=_label(statuses, event.from_status) if statuses and event.from_status else "",
                to_status=_label(statuses, event.to_status) if statuses else event.to_status,
                actor=event.actor,
                reason=event.reason,
            )
        )
    return rows


# --- Payments and refunds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentFilters:
    batch: int | None = None
    provider: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    search: str = ""


def finance_payments(user: Any, filters: PaymentFilters) -> QuerySet[Payment]:
    """Payment attempts of the user's finance programmes matching ``filters`` (started within the dates),
    newest first."""
    payments = Payment.objects.filter(order__batch__programme__in=finance_programmes(user))
    if filters.batch:
        payments = payments.filter(order__batch_id=filters.batch)
    if filters.provider:
        payments = payments.filter(provider=filters.provider)
    if filters.status:
        payments = payments.filter(status=filters.status)
    payments = payments.filter(_in_range("created_at", filters.date_from, filters.date_to))
    term = filters.search.strip()
    if term:
        payments = payments.filter(Q(number=term) | Q(provider_trade_no=term) | Q(order__number=term))
    return payments.select_related("order__batch").order_by("-created_at", "-pk")


@dataclass(frozen=True)
class RefundFilters:
    batch: int | None = None
    kind: str = ""
    status: str = ""
    search: str = ""


def finance_refunds(user: Any, filters: RefundFilters) -> QuerySet[Refund]:
    """Refunds of the user's finance programmes matching ``filters``: failed ones first (they wait for
    finance), then newest first."""
    refunds = Refund.objects.filter(batch__programme__in=finance_programmes(user))
    if filters.batch:
        refunds = refunds.filter(batch_id=filters.batch)
    if filters.kind:
        refunds = refunds.filter(kind=filters.kind)
    if filters.status:
        refunds = refunds.filter(status=filters.status)
    term = filters.search.strip()
    if term:
        refunds = refunds.filter(Q(number=term) | Q(order__number=term) | Q(payment__number=term))
    failed_first = Case(When(status=RefundStatus.FAILED, then=Value(0)), default=Value(1), output_field=IntegerField())
    return (
        refunds.select_related("order", "payment", "batch", "requested_by")
        .annotate(failed_first=failed_first)
        .order_by("failed_first", "-created_at", "-pk")
    )
