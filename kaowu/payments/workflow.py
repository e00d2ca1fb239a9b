"""Orders, payments and refunds: their states, actions and the explicit transition tables (PAY-1 … PAY-3).

``Order.status``, ``Payment.status`` and ``Refund.status`` are assigned only by ``transition_apply``
below; the services in ``kaowu.payments.services`` decide whether an action may happen (windows, the
application's state, amounts) and call it. See docs/adr/0007-payments.md.

::

    order    unpaid ──pay──▶ paid ──refund──▶ refunding ──refund_done──▶ refunded
               │  ╲  ╲          (candidate 退考; finance; the system when review rejects a paid application)
               │  ╲  ╲
               │   ╲  waive (会员免缴: created already paid for by the year's membership) ─▶ waived
               │    cancel (candidate) ─▶ cancelled
               expire (system: time limit or payment window over) ─▶ expired

    payment  pending ──succeed──▶ succeeded        (one attempt at a gateway; an order may have several)
               │  ╲                 ▲
               │   fail ─▶ failed ──┘ succeed      (the gateway's word wins: a later success still counts)
               close ─▶ closed ──────┘ succeed

    refund   requested ──process──▶ processing ──succeed──▶ succeeded
               ▲  │  ╲                 │
               │  │   succeed          fail
               │  fail ─▶ failed ◀─────┘
               └──retry (the job, up to 5 times; then finance)──┘

A payment that succeeds for an order that is no longer unpaid (paid by another attempt, cancelled,
expired, refunded) leaves the order as it is and is refunded automatically: Kaowu never keeps money twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from kaowu.core.errors import KaowuError


class OrderStatus(models.TextChoices):
    UNPAID = "unpaid", _("待支付")
    PAID = "paid", _("已支付")
    WAIVED = "waived", _("会员免缴")
    CANCELLED = "cancelled", _("已取消")
    EXPIRED = "expired", _("已关闭（超时未支付）")
    REFUNDING = "refunding", _("退款中")
    REFUNDED = "refunded", _("已退款")


# An application has at most one order that is, or may become, money kept: unpaid, paid (or waived), or
# being refunded.
LIVE_ORDER_STATES = (OrderStatus.UNPAID, OrderStatus.PAID, OrderStatus.WAIVED, OrderStatus.REFUNDING)


class OrderAction(models.TextChoices):
    PAY = "pay", _("支付")
    WAIVE = "waive", _("会员免缴")
    CANCEL = "cancel", _("取消订单")
    EXPIRE = "expire", _("超时关闭")
    REFUND = "refund", _("申请退款")
    REFUND_DONE = "refund_done", _("退款完成")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("待支付")
    SUCCEEDED = "succeeded", _("支付成功")
    FAILED = "failed", _("支付失败")
    CLOSED = "closed", _("已关闭")


class PaymentAction(models.TextChoices):
    SUCCEED = "succeed", _("支付成功")
    FAIL = "fail", _("支付失败")
    CLOSE = "close", _("关闭")


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", _("已申请")
    PROCESSING = "processing", _("退款处理中")
    SUCCEEDED = "succeeded", _("已退款")
    FAILED = "failed", _("退款失败")


class RefundAction(models.TextChoices):
    PROCESS = "process", _("提交退款")
    SUCCEED = "succeed", _("退款成功")
    FAIL = "fail", _("退款失败")
    RETRY = "retry", _("重试退款")


class ActorKind(models.TextChoices):
    CANDIDATE = "candidate", _("考生本人")
    FINANCE = "finance", _("财务人员")
    SYSTEM = "system", _("系统")


@dataclass(frozen=True)
class Transition:
    actors: frozenset[str]
    target: str


def _t(actors: set[str], target: str) -> Transition:
    return Transition(frozenset(actors), target)


_C, _F, _S = ActorKind.CANDIDATE, ActorKind.FINANCE, ActorKind.SYSTEM

ORDER_TRANSITIONS: dict[tuple[str, str], Transition] = {
    (OrderStatus.UNPAID, OrderAction.PAY): _t({_S}, OrderStatus.PAID),
    (OrderStatus.UNPAID, OrderAction.WAIVE): _t({_S}, OrderStatus.WAIVED),
    (OrderStatus.UNPAID, OrderAction.CANCEL): _t({_C}, OrderStatus.CANCELLED),
    (OrderStatus.UNPAID, OrderAction.EXPIRE): _t({_S}, OrderStatus.EXPIRED),
    (OrderStatus.PAID, OrderAction.REFUND): _t({_C, _F, _S}, OrderStatus.REFUNDING),
    (OrderStatus.REFUNDING, OrderAction.REFUND_DONE): _t({_S}, OrderStatus.REFUNDED),
}

# The gateway is the authority on whether money moved, so its word is taken from any state but success.
PAYMENT_TRANSITIONS: dict[tuple[str, str], Transition] = {
    (PaymentStatus.PENDING, PaymentAction.SUCCEED): _t({_S}, PaymentStatus.SUCCEEDED),
    (PaymentStatus.FAILED, PaymentAction.SUCCEED): _t({_S}, PaymentStatus.SUCCEEDED),
    (PaymentStatus.CLOSED, PaymentAction.SUCCEED): _t({_S}, PaymentStatus.SUCCEEDED),
    (PaymentStatus.PENDING, PaymentAction.FAIL): _t({_S}, PaymentStatus.FAILED),
    (PaymentStatus.PENDING, PaymentAction.CLOSE): _t({_S}, PaymentStatus.CLOSED),
    (PaymentStatus.FAILED, PaymentAction.CLOSE): _t({_S}, PaymentStatus.CLOSED),
}

REFUND_TRANSITIONS: dict[tuple[str, str], Transition] = {
    (RefundStatus.REQUESTED, RefundAction.PROCESS): _t({_S}, RefundStatus.PROCESSING),
    (RefundStatus.REQUESTED, RefundAction.SUCCEED): _t({_S}, RefundStatus.SUCCEEDED),
    (RefundStatus.REQUESTED, RefundAction.FAIL): _t({_S}, RefundStatus.FAILED),
    (RefundStatus.PROCESSING, RefundAction.SUCCEED): _t({_S}, RefundStatus.SUCCEEDED),
    (RefundStatus.PROCESSING, RefundAction.FAIL): _t({_S}, RefundStatus.FAILED),
    (RefundStatus.FAILED, RefundAction.RETRY): _t({_S, _F}, RefundStatus.REQUESTED),
}

TABLES: dict[str, dict[tuple[str, str], Transition]] = {
    "order": ORDER_TRANSITIONS,
    "payment": PAYMENT_TRANSITIONS,
    "refund": REFUND_TRANSITIONS,
}
_LABELS = {
    "order": (OrderStatus, OrderAction),
    "payment": (PaymentStatus, PaymentAction),
    "refund": (RefundStatus, RefundAction),
}


def transition_for(table: str, status: str, action: str, actor_kind: str) -> Transition:
    """The entry of ``table`` ("order", "payment", "refund") for ``action`` from ``status`` by
    ``actor_kind``, or a ``KaowuError`` (409 not allowed in this state, 403 not by this actor)."""
    statuses, actions = _LABELS[table]
    transition = TABLES[table].get((status, action))
    if transition is None:
        raise KaowuError(
            f"payments.{table}_transition_not_allowed",
            _("当前状态为“%(status)s”，不能%(action)s。"),
            status=409,
            params={"status": statuses(status).label, "action": actions(action).label},
        )
    if actor_kind not in transition.actors:
        raise KaowuError(
            "payments.actor_not_allowed",
            _("您无权执行“%(action)s”。"),
            status=403,
            params={"action": actions(action).label},
        )
    return transition


def allows(table: str, status: str, action: str) -> bool:
    return (status, action) in TABLES[table]


def transition_apply(obj: models.Model, *, table: str, action: str, actor_kind: str) -> str:
    """Move ``obj`` (an Order, Payment or Refund whose row the caller holds locked) along ``table`` and
    return its previous status; the caller saves it and records the change."""
    transition = transition_for(table, obj.status, action, actor_kind)  # type: ignore[attr-defined]
    previous = obj.status  # type: ignore[attr-defined]
    obj.status = transition.target  # type: ignore[attr-defined]
    return previous
