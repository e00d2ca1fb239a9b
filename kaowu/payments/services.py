"""Every write to orders, payments and refunds (PAY-1 … PAY-6). See docs/adr/0007-payments.md.

Rules every service here keeps:

- **One lock order**: the application's row, then the order's, then the payment's or refund's. Settlement,
  refunds, cancellation and expiry all take them in that order, so none waits on another the other way.
- **Settlement is idempotent**: ``_settle`` runs under those locks and looks at what is already recorded;
  a payment already settled is a duplicate and changes nothing. The notification, the "支付完毕" query,
  the return from the gateway and the expiry job all settle through it, so whichever comes first wins
  and the rest are no-ops. A gateway trade number is unique in the database too.
- **Nothing is kept twice**: a payment that succeeds for an order that is no longer unpaid (paid by
  another attempt, cancelled, expired) is refunded automatically and the candidate is told.
- **Gateways are called outside the row locks** where a payer waits (starting a payment, querying), and
  refunds are sent from a task: a slow gateway never holds an application's lock.
- Every status change goes through ``kaowu.payments.workflow`` and leaves an ``OrderEvent`` and an audit
  row; candidates are told after commit.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from kaowu.applications import services as application_services
from kaowu.applications.models import Application
from kaowu.applications.workflow import Status as ApplicationStatus
from kaowu.backoffice.models import RoleKind
from kaowu.backoffice.permissions import programmes_for
from kaowu.catalog.models import WindowAction
from kaowu.catalog.selectors import batch_window
from kaowu.catalog.services import require_window
from kaowu.core.audit import audit_record
from kaowu.core.errors import KaowuError
from kaowu.core.masking import mask_phone
from kaowu.core.validators import normalize_mobile, validate_mainland_mobile
from kaowu.notifications.services import notify
from kaowu.notifications.sms.templates import placeholders

from .models import (
    Membership,
    NotificationLog,
    Order,
    OrderEvent,
    OrderKind,
    OrderLine,
    Payment,
    Refund,
    RefundKind,
)
from .providers import channel_for, get_provider
from .providers.base import NotificationRejected, PaymentRequest, PaymentResult, ProviderError, RefundRequest
from .providers.base import PaymentStatus as GatewayStatus
from .providers.base import RefundStatus as GatewayRefundStatus
from .selectors import order_lines_for
from .workflow import (
    LIVE_ORDER_STATES,
    ActorKind,
    OrderAction,
    OrderStatus,
    PaymentAction,
    PaymentStatus,
    RefundAction,
    RefundStatus,
    allows,
    transition_apply,
    transition_for,
)

logger = logging.getLogger("kaowu.payments")

# A refund the gateway keeps failing is retried this many times by the housekeeping job, then left to
# finance (shown as 退款失败 with the last error, and retried by hand).
REFUND_MAX_ATTEMPTS = 5


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _number(prefix: str) -> str:
    """A unique, unguessable order/payment/refund number (≤ 32 characters: WeChat's limit)."""
    return f"{prefix}{timezone.localtime():%Y%m%d%H%M%S}{secrets.token_hex(5).upper()}"


def _record(
    order: Order,
    obj: Order | Payment | Refund,
    *,
    table: str,
    action: str,
    actor: Any,
    actor_kind: str,
    reason: str = "",
) -> None:
    """Apply ``action`` to ``obj`` (its row locked) through the transition table, save it, and write the
    order's event and the audit row."""
    previous = transition_apply(obj, table=table, action=action, actor_kind=actor_kind)
    obj.save()
    OrderEvent.objects.create(
        order=order,
        subject=table,
        subject_number=obj.number,
        action=action,
        from_status=previous,
        to_status=obj.status,
        actor=actor if getattr(actor, "pk", None) else None,
        reason=reason[:300],
    )
    audit_record(
        actor=actor,
        action=f"payments.{table}.{action}",
        obj=obj,
        before={"status": previous},
        after={"status": obj.status, "reason": reason},
    )


def _notify(order: Order, event: str, title: Any, **params: Any) -> None:
    """Tell the candidate (inbox, SMS, e-mail) after commit, in the platform language (SMS texts are
    registered in Chinese); receipts also go to the payer's phone and e-mail given at payment."""
    known = {
        "batch": order.batch.name,
        "number": order.application.number or "",
        "order": order.number,
        "amount": yuan(order.amount_fen),
        **{k: str(v) for k, v in params.items()},
    }
    with translation.override(settings.LANGUAGE_CODE):
        notify(
            user=order.candidate,
            event=event,
            title=str(title),
            # An SMS template takes exactly its own parameters (the providers check them).
            params={name: known[name] for name in placeholders(event)},
            sms_phone=order.buyer_phone or None,
            email_address=order.buyer_email or None,
        )


# --- Orders (PAY-1, PAY-5) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Buyer:
    """购买人 (seed 001): who pays and where the receipt goes."""

    name: str
    phone: str
    email: str = ""


def _clean_buyer(buyer: Buyer) -> Buyer:
    name = buyer.name.strip()
    if not name or len(name) > 50:
        raise KaowuError("payments.buyer_name", _("请填写购买人姓名（50 字以内）。"), field="buyer_name")
    phone = normalize_mobile(buyer.phone)
    try:
        validate_mainland_mobile(phone)
    except ValidationError as error:
        raise KaowuError("payments.buyer_phone", error.messages[0], field="buyer_phone") from error
    email = buyer.email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError as error:
            raise KaowuError("payments.buyer_email", _("请填写正确的邮箱地址。"), field="buyer_email") from error
    return Buyer(name=name, phone=phone, email=email)


def order_create(*, actor: Any, application: Application, buyer: Buyer, join_membership: bool = False) -> Order:
    """生成订单 (PAY-1): the candidate's application, 待缴费 inside the batch's payment window and without
    another live order, gets an order whose lines and amount are frozen from now on. Seats given back
    when an earlier order expired are taken again (a full site is refused with the alternatives). A member
    of the year gets a 会员免缴 order that settles at once (PAY-5). The order expires after the programme's
    time limit, and never later than the payment window's end. Audited; no notification until paid."""
    buyer = _clean_buyer(buyer)
    with transaction.atomic():
        application = application_services.application_lock(application)
        if getattr(actor, "pk", None) != application.candidate_id:
            raise KaowuError("payments.not_owner", _("只有考生本人可以为自己的报名缴费。"), status=403)
        if application.status != ApplicationStatus.AWAITING_PAYMENT:
            raise KaowuError(
                "payments.not_awaiting_payment",
                _("报名当前状态为“%(status)s”，无需缴费。"),
                status=409,
                params={"status": ApplicationStatus(application.status).label},
            )
        require_window(application.batch, WindowAction.PAY)
        if application.orders.filter(status=OrderStatus.UNPAID).exists():
            raise KaowuError(
                "payments.order_exists", _("您已有待支付的订单，请直接支付，或取消该订单后重新下单。"), status=409
            )
        kind, lines, waived = order_lines_for(application, join_membership=join_membership)
        now = timezone.now()
        window = batch_window(application.batch, WindowAction.PAY)
        expires_at = min(now + timedelta(minutes=application.programme.order_expiry_minutes), window.closes_at)
        order = Order.objects.create(
            number=_number("D"),
            application=application,
            candidate=application.candidate,
            batch=application.batch,
            kind=kind,
            amount_fen=sum(line.amount_fen for line in lines),
            description=f"{application.batch.name} {OrderKind(kind).label}"[:128],
            buyer_name=buyer.name,
            buyer_email=buyer.email,
            buyer_phone=buyer.phone,
            invoice_kind=application.invoice_kind,
            invoice_title=application.invoice_title,
            invoice_uscc=application.invoice_uscc,
            expires_at=expires_at,
        )
        for line in lines:
            line.order = order
        OrderLine.objects.bulk_create(lines)
        audit_record(
            actor=actor,
            action="payments.order.create",
            obj=order,
            after={"amount_fen": order.amount_fen, "kind": kind, "buyer_phone": mask_phone(buyer.phone)},
        )
        if waived:
            _record(order, order, table="order", action=OrderAction.WAIVE, actor=None, actor_kind=ActorKind.SYSTEM)
            application_services.application_pay(application=application)
        # Seats last (locks taken late): after an expired order gave them back, or none if still held.
        if not application.seat_holds.exists():
            application_services.seats.seats_hold_chosen(application)
    if waived:
        _notify(order, "order_waived", _("会员免缴"))
    return order


def order_cancel(*, actor: Any, order: Order) -> None:
    """取消订单: the candidate drops an unpaid order (to change subjects or site, then order again). A
    payment still in flight at the gateway is refunded automatically if it succeeds later; the seats stay
    held while the application waits for payment. The gateway is asked first: an order found paid is
    not cancelled (the payer would otherwise order and pay again)."""
    if getattr(actor, "pk", None) != order.candidate_id:
        raise KaowuError("payments.not_owner", _("只能取消自己的订单。"), status=403)
    _query_pending(order)
    with transaction.atomic():
        application_services.application_lock(order.application)
        order = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
        order.closed_at = timezone.now()
        _record(order, order, table="order", action=OrderAction.CANCEL, actor=actor, actor_kind=ActorKind.CANDIDATE)


def orders_expire(*, at: datetime | None = None) -> int:
    """Close unpaid orders past their time limit and give their seats back (a periodic job). Pending
    payments are asked about first, so a payer who paid just in time is settled rather than refunded.
    Returns how many orders expired; each is audited and its candidate told."""
    at = at or timezone.now()
    expired = 0
    for order in Order.objects.filter(status=OrderStatus.UNPAID, expires_at__lte=at).select_related("application"):
        _query_pending(order)
        with transaction.atomic():
            application = application_services.application_lock(order.application)
            order = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
            if order.status != OrderStatus.UNPAID:
                continue
            order.closed_at = at
            _record(order, order, table="order", action=OrderAction.EXPIRE, actor=None, actor_kind=ActorKind.SYSTEM)
            application_services.seats.seats_release(application)
        expired += 1
        _notify(order, "order_expired", _("订单超时已关闭"))
    return expired


def applications_lapse(*, at: datetime | None = None) -> int:
    """Withdraw applications still 待缴费 after their batch's payment window closed (逾期未缴费), once no
    unpaid order remains (``orders_expire`` runs first). Returns how many; each is audited and told."""
    at = at or timezone.now()
    lapsed = 0
    waiting = Application.objects.filter(
        status=ApplicationStatus.AWAITING_PAYMENT,
        batch__windows__action=WindowAction.PAY,
        batch__windows__closes_at__lte=at,
    ).exclude(orders__status__in=LIVE_ORDER_STATES)
    for pk in waiting.values_list("pk", flat=True):
        with transaction.atomic():
            application = application_services.application_lock(Application(pk=pk))
            if application.status != ApplicationStatus.AWAITING_PAYMENT:
                continue
            if application.orders.filter(status__in=LIVE_ORDER_STATES).exists():
                continue
            application_services.application_lapse(application=application)
        lapsed += 1
        with translation.override(settings.LANGUAGE_CODE):
            notify(
                user=application.candidate,
                event="application_lapsed",
                title=str(_("未在缴费期内缴费")),
                params={"batch": application.batch.name, "number": application.number or ""},
            )
    return lapsed


# --- Payments (PAY-2) -------------------------------------------------------------------------------


def payment_start(
    *,
    actor: Any,
    order: Order,
    provider: str,
    mobile: bool,
    client_ip: str,
    notify_url: str,
    return_url: str,
) -> tuple[Payment, Any]:
    """网上支付: a new attempt at ``provider`` for the candidate's unpaid, unexpired order. Earlier attempts
    still pending are asked about first: if one was paid (its notification late), the order settles and
    ``payments.already_paid`` says so instead of charging again (seed 000's "check your bank first").
    Returns the payment and the provider's ``PaymentStart`` (redirect URL or QR code)."""
    gateway = get_provider(provider)
    if getattr(actor, "pk", None) != order.candidate_id:
        raise KaowuError("payments.not_owner", _("只能支付自己的订单。"), status=403)
    if _query_pending(order):
        raise KaowuError(
            "payments.payment_processing",
            _("已收到您的付款，正在处理，请勿重复支付。请稍后点“支付完毕”查询，或联系考试机构。"),
            status=409,
        )
    with transaction.atomic():
        application_services.application_lock(order.application)
        order = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
        if order.status == OrderStatus.PAID:
            raise KaowuError("payments.already_paid", _("该订单已支付成功，无需再次支付。"), status=409)
        if order.status != OrderStatus.UNPAID or order.expires_at <= timezone.now():
            raise KaowuError("payments.order_closed", _("订单已关闭，请返回缴费页面重新下单。"), status=409)
        payment = Payment.objects.create(
            number=_number("P"),
            order=order,
            provider=provider,
            channel=channel_for(provider, mobile=mobile),
            amount_fen=order.amount_fen,
        )
        audit_record(actor=actor, action="payments.payment.start", obj=payment, after={"provider": provider})
    request = PaymentRequest(
        out_trade_no=payment.number,
        amount_fen=payment.amount_fen,
        subject=order.description,
        notify_url=notify_url,
        return_url=return_url,
        client_ip=client_ip,
        channel=payment.channel,
        expires_at=order.expires_at,
    )
    try:
        start = gateway.create_payment(request)
    except ProviderError as error:
        logger.warning("payment %s: gateway refused to start: %s", payment.number, error)
        raise KaowuError(
            "payments.gateway_unavailable", _("支付平台暂时无法连接，请稍后重试或选择其他支付方式。"), status=502
        ) from error
    return payment, start


class SettlementRefused(Exception):
    """A verified-looking result that must not be believed (unknown payment, wrong amount); ``code`` is
    logged with the notification."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


def _settle(result: PaymentResult, *, provider: str, source: str) -> str:
    """Record what the gateway says about one payment, once. Returns the outcome: ``settled`` (the order
    is paid now), ``duplicate`` (already recorded: nothing changes), ``refunded`` (money for an order no
    longer unpaid: refunded automatically), ``failed`` / ``closed`` / ``pending``.

    Raises ``SettlementRefused`` for an unknown payment number or an amount that is not the payment's
    (a tampered or mixed-up notification): nothing changes."""
    payment = Payment.objects.filter(number=result.out_trade_no, provider=provider).select_related("order").first()
    if payment is None:
        raise SettlementRefused("unknown_payment", result.out_trade_no)
    if result.status == GatewayStatus.SUCCEEDED and result.amount_fen != payment.amount_fen:
        raise SettlementRefused("amount_mismatch", f"{result.amount_fen} != {payment.amount_fen}")
    refund = None
    with transaction.atomic():
        application = application_services.application_lock(payment.order.application)
        order = Order.objects.select_for_update(of=("self",)).select_related("batch").get(pk=payment.order_id)
        payment = Payment.objects.select_for_update(of=("self",)).get(pk=payment.pk)
        if result.status == GatewayStatus.SUCCEEDED:
            if payment.status == PaymentStatus.SUCCEEDED:
                return "duplicate"
            payment.provider_trade_no = result.provider_trade_no
            payment.paid_at = result.paid_at or timezone.now()
            payment.settled_by = source
            payment.evidence = dict(result.raw)
            try:
                with transaction.atomic():
                    _record(
                        order,
                        payment,
                        table="payment",
                        action=PaymentAction.SUCCEED,
                        actor=None,
                        actor_kind=ActorKind.SYSTEM,
                    )
            except IntegrityError as error:
                raise SettlementRefused("trade_number_reused", result.provider_trade_no) from error
            # A second membership fee for a year already paid for (two batches ordered at once) is not kept:
            # the member's order here is then made again, 会员免缴.
            already_member = (
                order.kind == OrderKind.MEMBERSHIP
                and Membership.objects.filter(
                    candidate_id=order.candidate_id, programme_id=order.batch.programme_id, year=order.batch.year
                ).exists()
            )
            if (
                order.status == OrderStatus.UNPAID
                and application.status == ApplicationStatus.AWAITING_PAYMENT
                and not already_member
            ):
                order.paid_at = payment.paid_at
                _record(order, order, table="order", action=OrderAction.PAY, actor=None, actor_kind=ActorKind.SYSTEM)
                if order.kind == OrderKind.MEMBERSHIP:
                    Membership.objects.create(
                        candidate=order.candidate, programme=order.batch.programme, year=order.batch.year, order=order
                    )
                application_services.application_pay(application=application)
                outcome = "settled"
            else:
                reason = str(_("您已是本年度个人会员")) if already_member else _late_reason(order)
                if already_member and order.status == OrderStatus.UNPAID:
                    order.closed_at = timezone.now()
                    _record(
                        order,
                        order,
                        table="order",
                        action=OrderAction.EXPIRE,
                        actor=None,
                        actor_kind=ActorKind.SYSTEM,
                        reason=reason,
                    )
                refund = _refund_create(order, payment, kind=RefundKind.AUTOMATIC, actor=None, reason=reason)
                outcome = "refunded"
        elif result.status in (GatewayStatus.FAILED, GatewayStatus.CLOSED):
            action = PaymentAction.FAIL if result.status == GatewayStatus.FAILED else PaymentAction.CLOSE
            if not allows("payment", payment.status, action):
                return "duplicate"
            _record(order, payment, table="payment", action=action, actor=None, actor_kind=ActorKind.SYSTEM)
            return result.status
        else:
            return "pending"
    if outcome == "settled":
        _notify(
            order,
            "order_paid",
            _("缴费成功"),
            receipt=settings.KAOWU_SITE_URL + reverse("payments:receipt", args=[order.number]),
        )
    else:
        _notify(
            order,
            "payment_refunded_automatically",
            _("重复或逾期支付将自动退款"),
            amount=yuan(payment.amount_fen),
            reason=reason,
        )
        _queue_refund(refund)
    return outcome


_LATE_REASONS = {
    OrderStatus.PAID: _("该订单已由另一笔支付付清"),
    OrderStatus.WAIVED: _("该订单已免缴"),
    OrderStatus.CANCELLED: _("该订单已取消"),
    OrderStatus.EXPIRED: _("该订单已超时关闭"),
    OrderStatus.REFUNDING: _("该订单已申请退款"),
    OrderStatus.REFUNDED: _("该订单已退款"),
}


def _late_reason(order: Order) -> str:
    """Why a payment cannot be kept, as the candidate's SMS says it ("因{reason}，将原路全额退回")."""
    # An unpaid order whose application ended meanwhile (withdrawn, lapsed) has no reason of its own.
    return str(_LATE_REASONS.get(order.status, _("报名已结束")))


def payment_notification_receive(
    *, provider: str, headers: Mapping[str, str], body: bytes, ip: str | None = None
) -> tuple[int, str, str]:
    """An asynchronous notification from ``provider``: verified by the provider, settled idempotently,
    logged whatever happens (``NotificationLog``). Forged, tampered, stale or unknown ones change nothing
    and are answered as failures, as is a genuine one the application cannot take now (the gateway
    retries). Never raises for what a gateway sends. Returns the (status, body, content type) the
    gateway expects."""
    gateway = get_provider(provider, enabled_only=False)
    out_trade_no = ""
    try:
        result = gateway.parse_notification(headers=headers, body=body)
        out_trade_no = result.out_trade_no
        outcome = _settle(result, provider=provider, source="notify")
    except (NotificationRejected, SettlementRefused) as error:
        logger.warning("payment notification from %s refused: %s (%s)", provider, error.code, out_trade_no or "-")
        NotificationLog.objects.create(
            provider=provider,
            out_trade_no=out_trade_no[:64],
            accepted=False,
            outcome=error.code,
            detail=error.detail[:300],
            ip=ip,
        )
        return gateway.notification_response(accepted=False)
    except KaowuError as error:
        # Genuine, but the application could not take the payment now (e.g. its review chain cannot be
        # opened): nothing is recorded, the gateway keeps the money and retries, and reconciliation and
        # the housekeeping query find it. Logged as an error for someone to look at.
        logger.error("payment notification from %s not settled: %s (%s)", provider, error.code, out_trade_no)
        NotificationLog.objects.create(
            provider=provider,
            out_trade_no=out_trade_no[:64],
            accepted=False,
            outcome=error.code[:40],
            detail=error.message[:300],
            ip=ip,
        )
        return gateway.notification_response(accepted=False)
    NotificationLog.objects.create(
        provider=provider, out_trade_no=out_trade_no[:64], accepted=True, outcome=outcome, ip=ip
    )
    return gateway.notification_response(accepted=True)


def _query_pending(order: Order) -> bool:
    """Ask the gateway about every attempt of ``order`` not yet known to have succeeded or closed, and
    settle what it says. A gateway that cannot be reached is skipped (logged): its notification or the
    next query will do. Returns True if a gateway reported money that could not be recorded now (the
    caller must not invite the payer to pay again)."""
    unrecorded = False
    for payment in order.payments.filter(status__in=[PaymentStatus.PENDING, PaymentStatus.FAILED]):
        result = None
        try:
            result = get_provider(payment.provider, enabled_only=False).query_payment(payment.number)
            _settle(result, provider=payment.provider, source="query")
        except ProviderError as error:
            logger.warning("payment %s: query failed: %s", payment.number, error)
        except (SettlementRefused, KaowuError) as error:  # the gateway keeps the money; someone must look
            logger.error("payment %s: not settled: %s", payment.number, getattr(error, "code", error))
            unrecorded = unrecorded or (result is not None and result.status == GatewayStatus.SUCCEEDED)
    return unrecorded


def payments_query_stale(*, at: datetime | None = None) -> int:
    """Ask the gateways about attempts still pending a few minutes after they started (a periodic job): a
    notification that never came (lost, or for an order cancelled meanwhile) is recovered here, settled
    or refunded like any other. Attempts older than two days are left to reconciliation. Returns how many
    orders were asked about."""
    at = at or timezone.now()
    stale = Payment.objects.filter(
        status=PaymentStatus.PENDING, created_at__lte=at - timedelta(minutes=5), created_at__gte=at - timedelta(days=2)
    )
    orders = Order.objects.filter(pk__in=stale.values("order_id"))
    for order in orders:
        try:
            _query_pending(order)
        except Exception:  # one order's trouble must not stop the job for everyone else
            logger.exception("order %s: gateway query failed", order.number)
    return len(orders)


def payment_recheck(*, actor: Any, order: Order) -> Order:
    """向支付平台查询 (finance): ask the gateways about every attempt of ``order`` not yet known to have
    succeeded, settling (or refunding) what they report, as reconciliation's "missing in Kaowu" asks.
    Audited. Returns the order as it now stands."""
    _require_finance(actor, order)
    audit_record(actor=actor, action="payments.order.recheck", obj=order)
    _query_pending(order)
    return Order.objects.get(pk=order.pk)


def payment_check(*, actor: Any, order: Order) -> Order:
    """支付完毕 / returning from the gateway: ask the gateway about the order's attempts and settle as the
    notification would. Returns the order as it now stands (paid, or still unpaid if no money arrived)."""
    if getattr(actor, "pk", None) != order.candidate_id:
        raise KaowuError("payments.not_owner", _("只能查询自己的订单。"), status=403)
    _query_pending(order)
    return Order.objects.get(pk=order.pk)


# --- Refunds (PAY-3) ----------------------------------------------------------------------------------


def _refund_create(order: Order, payment: Payment, *, kind: str, actor: Any, reason: str) -> Refund:
    """A refund of ``payment`` in full (rows locked by the caller); sent to the gateway after commit."""
    refund = Refund.objects.create(
        number=_number("R"),
        payment=payment,
        order=order,
        candidate=order.candidate,
        batch=order.batch,
        kind=kind,
        amount_fen=payment.amount_fen,
        reason=reason[:200],
        requested_by=actor if getattr(actor, "pk", None) else None,
    )
    OrderEvent.objects.create(
        order=order,
        subject="refund",
        subject_number=refund.number,
        action="request",
        from_status="",
        to_status=refund.status,
        actor=refund.requested_by,
        reason=reason[:300],
    )
    audit_record(
        actor=actor, action="payments.refund.request", obj=refund, after={"kind": kind, "amount_fen": refund.amount_fen}
    )
    return refund


def _queue_refund(refund: Refund | None) -> None:
    if refund is None:
        return
    from .tasks import refund_process_task

    transaction.on_commit(lambda: refund_process_task.delay(refund.pk), robust=True)


def _withdraw_with_refund(*, actor: Any, actor_kind: str, order: Order, kind: str, reason: str) -> Refund:
    if kind == RefundKind.CANDIDATE and getattr(actor, "pk", None) != order.candidate_id:
        # Before anything else: someone else's order's state is none of the actor's business.
        raise KaowuError("payments.not_owner", _("只能为自己的报名申请退费。"), status=403)
    application = application_services.application_lock(order.application)
    order = Order.objects.select_for_update(of=("self",)).select_related("batch").get(pk=order.pk)
    if order.status == OrderStatus.WAIVED:
        raise KaowuError("payments.nothing_to_refund", _("该订单为会员免缴，没有可退的费用。"), status=409)
    if order.status in (OrderStatus.REFUNDING, OrderStatus.REFUNDED):
        raise KaowuError("payments.already_refunded", _("该订单已申请退款，请勿重复申请。"), status=409)
    if (
        kind == RefundKind.CANDIDATE
        and Refund.objects.filter(candidate=order.candidate, batch=order.batch, kind=RefundKind.CANDIDATE).exists()
    ):
        raise KaowuError(
            "payments.refund_used", _("每人每批次只有一次退费机会，您已申请过退费，不能再次申请。"), status=409
        )
    transition_for("order", order.status, OrderAction.REFUND, actor_kind)  # e.g. a cancelled order: 409
    used = _membership_used(order)
    if used is not None:
        raise KaowuError(
            "payments.membership_in_use",
            _("本年度个人会员资格已用于免缴“%(batch)s”的注册费，会员费不能退还。如有疑问请联系财务人员。"),
            status=409,
            params={"batch": used.batch.name},
        )
    payment = order.payments.select_for_update(of=("self",)).get(status=PaymentStatus.SUCCEEDED, refund__isnull=True)
    _record(order, order, table="order", action=OrderAction.REFUND, actor=actor, actor_kind=actor_kind, reason=reason)
    Membership.objects.filter(order=order).delete()
    refund = _refund_create(order, payment, kind=kind, actor=actor, reason=reason)
    # Last: the withdrawal releases the seats, and seat counters are the busiest rows (locks taken late).
    application_services.application_refund(actor=actor, actor_kind=actor_kind, application=application, reason=reason)
    return refund


def _membership_used(order: Order) -> Order | None:
    """For a membership order: the 会员免缴 order its membership has already waived, if any. Such a
    membership fee is not refunded (the waived fee would then never be paid)."""
    if order.kind != OrderKind.MEMBERSHIP:
        return None
    return (
        Order.objects.filter(
            candidate_id=order.candidate_id,
            batch__programme_id=order.batch.programme_id,
            batch__year=order.batch.year,
            status=OrderStatus.WAIVED,
        )
        .select_related("batch")
        .first()
    )


def refund_request(*, actor: Any, order: Order, reason: str = "") -> Refund:
    """退考退费 (PAY-3, seed 004): inside the batch's refund window the candidate gives up a paid
    application for a full refund: the application is withdrawn and its seats released at once, and the
    refund goes to the gateway after commit. Once per person per batch (a second request is refused, also
    when ten arrive at once: the application's lock serialises them and a unique constraint backs it)."""
    with transaction.atomic():
        refund = _withdraw_with_refund(
            actor=actor,
            actor_kind=ActorKind.CANDIDATE,
            order=order,
            kind=RefundKind.CANDIDATE,
            reason=reason.strip() or str(_("考生申请退考")),
        )
    _notify(refund.order, "refund_requested", _("已申请退考退费"))
    _queue_refund(refund)
    return refund


def refund_after_rejection(*, application: Application, actor: Any, **_signal: Any) -> None:
    """Receiver of ``application_rejected`` (inside the review's transaction, application locked): a fee
    paid before review (seed 001) is refunded in full; the candidate is told after commit."""
    order = application.orders.select_for_update(of=("self",)).filter(status=OrderStatus.PAID).first()
    if order is None:
        return
    if _membership_used(order) is not None:
        # The membership already waived another fee this year: it stays, and so does its fee. Finance
        # decides (manual refund) if the association wants otherwise.
        logger.warning("order %s: membership in use, not refunded after rejection", order.number)
        return
    reason = str(_("审核不通过，全额退费"))
    payment = order.payments.select_for_update(of=("self",)).get(status=PaymentStatus.SUCCEEDED, refund__isnull=True)
    _record(
        order, order, table="order", action=OrderAction.REFUND, actor=None, actor_kind=ActorKind.SYSTEM, reason=reason
    )
    Membership.objects.filter(order=order).delete()
    refund = _refund_create(order, payment, kind=RefundKind.REJECTED, actor=None, reason=reason)
    _notify(order, "refund_requested", _("审核不通过，将全额退费"))
    _queue_refund(refund)


def _require_finance(actor: Any, order: Order) -> None:
    if not programmes_for(actor, roles=frozenset({RoleKind.FINANCE})).filter(pk=order.batch.programme_id).exists():
        raise KaowuError("payments.not_finance", _("只有该项目的财务人员可以办理退款。"), status=403)


def refund_manual(*, actor: Any, order: Order, reason: str) -> Refund:
    """财务人工退款: finance of the programme refunds a paid order in full with a reason, outside the
    candidate's window and once-only rule; the application is withdrawn. Audited."""
    reason = reason.strip()
    if not reason:
        raise KaowuError("payments.reason_required", _("请填写退款原因。"), field="reason")
    _require_finance(actor, order)
    with transaction.atomic():
        refund = _withdraw_with_refund(
            actor=actor, actor_kind=ActorKind.FINANCE, order=order, kind=RefundKind.MANUAL, reason=reason
        )
    _notify(refund.order, "refund_requested", _("已办理退款"))
    _queue_refund(refund)
    return refund


def refund_process(*, refund: Refund) -> Refund:
    """Send a requested (or retried) refund to the gateway, or ask about one in progress, and record the
    answer. The refund's row lock is held across the gateway call so two workers never send it at once;
    the gateway refunds one ``out_refund_no`` once anyway. A succeeded refund completes its order's
    退款中 and tells the candidate; a failure is kept with its reason for the next retry."""
    finished = False
    with transaction.atomic():
        refund = (
            Refund.objects.select_for_update(of=("self",)).select_related("payment", "order__batch").get(pk=refund.pk)
        )
        if refund.status not in (RefundStatus.REQUESTED, RefundStatus.PROCESSING):
            return refund  # done, or failed and waiting for a retry (a late or duplicate task)
        order = refund.order
        gateway = get_provider(refund.payment.provider, enabled_only=False)
        try:
            if refund.status == RefundStatus.PROCESSING:
                answer = gateway.query_refund(out_trade_no=refund.payment.number, out_refund_no=refund.number)
            else:
                refund.attempts += 1
                answer = gateway.refund(
                    RefundRequest(
                        out_trade_no=refund.payment.number,
                        out_refund_no=refund.number,
                        amount_fen=refund.amount_fen,
                        total_fen=refund.payment.amount_fen,
                        reason=refund.reason,
                    )
                )
        except ProviderError as error:
            refund.last_error = str(error)[:300]
            action = RefundAction.FAIL
        else:
            refund.provider_refund_no = answer.provider_refund_no or refund.provider_refund_no
            action = {
                GatewayRefundStatus.SUCCEEDED: RefundAction.SUCCEED,
                GatewayRefundStatus.PROCESSING: RefundAction.PROCESS,
                GatewayRefundStatus.FAILED: RefundAction.FAIL,
            }[answer.status]
            if action == RefundAction.FAIL:
                refund.last_error = str(answer.raw.get("reason") or answer.raw or _("支付平台拒绝退款"))[:300]
        if action == RefundAction.PROCESS and refund.status == RefundStatus.PROCESSING:
            refund.save()  # still in progress at the gateway
            return refund
        if action == RefundAction.SUCCEED:
            refund.finished_at = timezone.now()
            finished = True
        _record(
            order,
            refund,
            table="refund",
            action=action,
            actor=None,
            actor_kind=ActorKind.SYSTEM,
            reason=refund.last_error if action == RefundAction.FAIL else "",
        )
    if finished:
        _order_refunded(refund)
        _notify(order, "refund_succeeded", _("退款成功"), amount=yuan(refund.amount_fen))
    return refund


def _order_refunded(refund: Refund) -> None:
    """退款完成: the order a succeeded refund returned (not a duplicate payment's) leaves 退款中. A
    transaction of its own, taking the locks in the one order (application, order), after the refund's
    has been released; the housekeeping job repeats it for any order left behind."""
    if refund.kind == RefundKind.AUTOMATIC:
        return
    with transaction.atomic():
        application_services.application_lock(refund.order.application)
        order = Order.objects.select_for_update(of=("self",)).get(pk=refund.order_id)
        if order.status != OrderStatus.REFUNDING:
            return
        order.closed_at = refund.finished_at
        _record(order, order, table="order", action=OrderAction.REFUND_DONE, actor=None, actor_kind=ActorKind.SYSTEM)


def refund_retry(*, actor: Any, refund: Refund) -> Refund:
    """Finance sends a failed refund again (after fixing what the gateway complained about). Audited."""
    _require_finance(actor, refund.order)
    with transaction.atomic():
        refund = Refund.objects.select_for_update(of=("self",)).select_related("order").get(pk=refund.pk)
        _record(
            refund.order, refund, table="refund", action=RefundAction.RETRY, actor=actor, actor_kind=ActorKind.FINANCE
        )
    return refund_process(refund=refund)


def refunds_resume(*, at: datetime | None = None) -> int:
    """Push unfinished refunds on (a periodic job): requested ones whose task was lost, ones in progress at
    the gateway, and failed ones with attempts left. Returns how many were looked at."""
    at = at or timezone.now()
    stale = at - timedelta(minutes=2)
    pending = Refund.objects.filter(
        Q(status=RefundStatus.REQUESTED, created_at__lte=stale)
        | Q(status=RefundStatus.PROCESSING)
        | Q(status=RefundStatus.FAILED, attempts__lt=REFUND_MAX_ATTEMPTS)
    )
    count = 0
    for refund in pending:
        try:
            _refund_resume(refund)
        except Exception:  # one refund's trouble (a provider switched off, a bug) must not stop the rest
            logger.exception("refund %s: could not be resumed", refund.number)
        count += 1
    left = Refund.objects.filter(status=RefundStatus.SUCCEEDED, order__status=OrderStatus.REFUNDING)
    for refund in left.exclude(kind=RefundKind.AUTOMATIC):
        _order_refunded(refund)
    return count


def _refund_resume(refund: Refund) -> None:
    """Send one unfinished refund on; a failed one is put back to 已申请 first (a retry)."""
    if refund.status == RefundStatus.FAILED:
        with transaction.atomic():
            locked = Refund.objects.select_for_update(of=("self",)).select_related("order").get(pk=refund.pk)
            if locked.status != RefundStatus.FAILED:
                return
            _record(
                locked.order, locked, table="refund", action=RefundAction.RETRY, actor=None, actor_kind=ActorKind.SYSTEM
            )
    refund_process(refund=refund)
