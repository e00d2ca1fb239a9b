"""The candidate's payment pages (PAY-1 … PAY-6): 网上缴费 for an application, 我的订单, one order
with its payment attempts (支付, 支付完毕, 取消订单), the printable 收据, 退考退费 and 更换考区/考点.

Each view fetches what it shows with a permission-checking selector (``get_order_for``,
``get_application_for``: Http404 for anyone but the candidate, staff included), parses input with a
form, calls one service and renders or redirects. A ``KaowuError`` becomes an error on the form field it
names or a message, never a 500. What the gateways call (notification, return) is in ``gateway_views``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kaowu.accounts.views import candidate_required
from kaowu.applications import services as application_services
from kaowu.applications.models import Application, InvoiceKind
from kaowu.applications.selectors import get_application_for
from kaowu.applications.workflow import Status as ApplicationStatus
from kaowu.catalog.models import Site, WindowAction
from kaowu.catalog.selectors import batch_window
from kaowu.catalog.services import batch_is_open
from kaowu.core.context import current_ip
from kaowu.core.errors import KaowuError
from kaowu.core.masking import mask_phone

from . import selectors, services
from .forms import MEMBERSHIP, REGISTRATION, BuyerForm, CancelForm, ChangeSiteForm, ProviderForm, RefundForm
from .models import Order, Payment
from .providers import LABELS
from .workflow import OrderStatus

# Orders that were settled (paid, or waived for a member) have a receipt, also once refunded (marked so).
RECEIPT_STATES = (OrderStatus.PAID, OrderStatus.WAIVED, OrderStatus.REFUNDING, OrderStatus.REFUNDED)

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ((1000, "仟"), (100, "佰"), (10, "拾"), (1, ""))
_BIG_UNITS = ("", "万", "亿", "万亿")


def _four_digits(number: int) -> str:
    """1 … 9999 in capital numerals, one 零 for any run of inner zeros: 1004 → 壹仟零肆, 10 → 壹拾."""
    words, zero = "", False
    for value, unit in _SMALL_UNITS:
        digit = number // value % 10
        if digit == 0:
            zero = zero or bool(words)
            continue
        words += ("零" if zero else "") + _DIGITS[digit] + unit
        zero = False
    return words


def amount_in_words(fen: int) -> str:
    """An amount in fen as written on a receipt (人民币大写, as in 《支付结算办法》): 8000 → 捌拾元整,
    123456 → 壹仟贰佰叁拾肆元伍角陆分, 1000006 → 壹万元零陆分, 50 → 伍角, 0 → 零元整. ``fen`` ≥ 0 and
    below 10¹⁸."""
    if fen < 0 or fen >= 10**18:
        raise ValueError(f"amount out of range: {fen}")
    whole, jiao, cents = fen // 100, fen // 10 % 10, fen % 10
    groups = []
    while whole:
        whole, group = divmod(whole, 10000)
        groups.append(group)
    words, zero = "", False
    for index in reversed(range(len(groups))):
        group = groups[index]
        if group == 0:
            zero = zero or bool(words)
            continue
        # A lower group below a thousand, or after empty groups, reads with 零: 壹拾万零伍佰, 壹亿零壹万.
        if words and (zero or group < 1000):
            words += "零"
        words += _four_digits(group) + _BIG_UNITS[index]
        zero = False
    if not jiao and not cents:
        return (words or "零") + "元整"
    if words:
        words += "元" + ("" if jiao else "零")
    return words + (_DIGITS[jiao] + "角" if jiao else "") + (_DIGITS[cents] + "分" if cents else "")


def _apply_error(form, error: KaowuError) -> None:
    """The service's message on the field it names, or on the form."""
    form.add_error(error.field if error.field in form.fields else None, error.message)


# --- 我的订单 ----------------------------------------------------------------------------------------


@candidate_required
def orders(request: HttpRequest) -> HttpResponse:
    rows = [
        {"order": order, "has_receipt": order.status in RECEIPT_STATES} for order in selectors.orders_of(request.user)
    ]
    return render(request, "payments/orders.html", {"rows": rows})


# --- 网上缴费 (PAY-1, PAY-5, PAY-6) ---------------------------------------------------------------------


@dataclass(frozen=True)
class FeeLine:
    description: str
    unit_fen: int
    quantity: int
    amount_fen: int


@dataclass(frozen=True)
class Preview:
    """What the order will charge, read the way ``services.order_create`` charges it: the subjects'
    fees, or the programme's registration fee or membership fee (the payer chooses), or nothing for a
    member of the year (会员免缴)."""

    lines: list[FeeLine]
    fee_choices: list[tuple[str, str]]
    member: bool

    @property
    def total_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    @property
    def total_quantity(self) -> int:
        return sum(line.quantity for line in self.lines)


def _preview(application: Application) -> Preview:
    """The lines ``order_create`` will freeze, or, where the payer chooses between the registration and
    the membership fee, the choices."""
    programme = application.programme
    member = selectors.is_member(application.candidate, programme, application.batch.year)
    if (programme.registration_fee_fen or programme.membership_fee_fen) and not member:
        choices = []
        if programme.registration_fee_fen:
            choices.append(
                (
                    REGISTRATION,
                    _("缴纳注册费 %(amount)s 元") % {"amount": services.yuan(programme.registration_fee_fen)},
                )
            )
        if programme.membership_fee_fen:
            choices.append(
                (
                    MEMBERSHIP,
                    _("入会缴纳个人会员费 %(amount)s 元（免缴本年度注册费）")
                    % {"amount": services.yuan(programme.membership_fee_fen)},
                )
            )
        return Preview(lines=[], fee_choices=choices, member=False)
    _kind, lines, waived = selectors.order_lines_for(application, join_membership=False)
    fee_lines = [FeeLine(line.description, line.unit_fen, line.quantity, line.amount_fen) for line in lines]
    return Preview(lines=fee_lines, fee_choices=[], member=waived)


@login_required
def pay(request: HttpRequest, pk: int) -> HttpResponse:
    """网上缴费: review the site and fees, name the buyer (and choose a fee), and make the order. An
    application with a live order goes to it: an order is never made twice."""
    application = get_application_for(request.user, pk)
    live = selectors.live_order_of(application)
    if live is not None:
        return redirect("payments:order", live.number)
    if application.status != ApplicationStatus.AWAITING_PAYMENT:
        messages.info(
            request,
            _("报名当前状态为“%(status)s”，无需缴费。") % {"status": ApplicationStatus(application.status).label},
        )
        return redirect("applications:detail", application.pk)
    try:
        preview = _preview(application)
    except KaowuError as error:  # a programme with nothing to bill: say so rather than fail
        messages.error(request, error.message)
        return redirect("applications:detail", application.pk)
    user = request.user
    form = BuyerForm(
        request.POST if request.method == "POST" else None,
        initial={"buyer_name": user.real_name, "buyer_phone": user.phone or "", "buyer_email": user.email},
        fee_choices=preview.fee_choices,
    )
    if request.method == "POST" and form.is_valid():
        try:
            order = services.order_create(
                actor=user, application=application, buyer=form.buyer(), join_membership=form.join_membership()
            )
        except KaowuError as error:
            _apply_error(form, error)
        else:
            if order.status == OrderStatus.WAIVED:
                messages.success(request, _("您是本年度个人会员，本次注册费免缴，无需支付。"))
            else:
                messages.success(request, _("订单已生成，请在支付截止时间前选择支付方式完成支付。"))
            return redirect("payments:order", order.number)
    context = {
        "application": application,
        "preview": preview,
        "form": form,
        "pay_window": batch_window(application.batch, WindowAction.PAY),
        "expiry_minutes": application.programme.order_expiry_minutes,
    }
    return render(request, "payments/pay.html", context)


# --- The order: 支付, 支付完毕, 取消订单 (PAY-2) -----------------------------------------------------------


def _order_context(order: Order) -> dict[str, Any]:
    """What every page about one order shows: the order, its application, its lines and invoice."""
    lines = list(order.lines.all())
    return {
        "order": order,
        "application": order.application,
        "lines": lines,
        "total_quantity": sum(line.quantity for line in lines),
        "invoice_kind_label": InvoiceKind(order.invoice_kind).label,
    }


def _order_page(request: HttpRequest, order: Order, provider_form: ProviderForm, *, status: int = 200) -> HttpResponse:
    payable = order.is_payable
    context = {
        **_order_context(order),
        "payments": [(payment, LABELS.get(payment.provider, payment.provider)) for payment in order.payments.all()],
        "refunds": order.refunds.all(),
        "provider_form": provider_form if payable else None,
        "overdue": payable and order.expires_at <= timezone.now(),
        "has_receipt": order.status in RECEIPT_STATES,
    }
    return render(request, "payments/order.html", context, status=status)


@login_required
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _order_page(request, selectors.get_order_for(request.user, number), ProviderForm())


def _is_mobile(request: HttpRequest) -> bool:
    """A phone browser gets the gateways' mobile pages (Alipay WAP, WeChat H5) instead of desktop ones."""
    return "Mobile" in request.headers.get("User-Agent", "")


@login_required
@require_POST
def start(request: HttpRequest, number: str) -> HttpResponse:
    """支付: a new attempt at the chosen gateway; off to the gateway's page, or a QR code to scan (WeChat
    on a desktop). Earlier attempts are asked about first, so a paid order is never charged again."""
    order = selectors.get_order_for(request.user, number)
    form = ProviderForm(request.POST)
    if not form.is_valid():
        return _order_page(request, order, form, status=400)
    provider = form.cleaned_data["provider"]
    try:
        payment, started = services.payment_start(
            actor=request.user,
            order=order,
            provider=provider,
            mobile=_is_mobile(request),
            client_ip=current_ip() or request.META.get("REMOTE_ADDR", ""),
            notify_url=request.build_absolute_uri(reverse("payments:notify", args=[provider])),
            return_url=request.build_absolute_uri(reverse("payments:returned", args=[order.number])),
        )
    except KaowuError as error:
        if error.field in form.fields:
            form.add_error(error.field, error.message)
            return _order_page(request, order, form, status=error.status)
        if error.code == "payments.already_paid":
            messages.success(request, error.message)
        else:
            messages.error(request, error.message)
        return redirect("payments:order", order.number)
    if started.qr_code:
        return _qr_page(request, order, payment, started.qr_code)
    return redirect(started.redirect_url)


def _qr_page(request: HttpRequest, order: Order, payment: Payment, code: str) -> HttpResponse:
    """The gateway's code as an inline SVG QR code (no image request, no script), scaled by CSS."""
    svg = segno.make(code, error="m").svg_inline(border=4, omitsize=True, title=_("付款二维码"))
    # segno draws the code as a path and escapes the title: the markup holds no text from outside.
    qr_svg = mark_safe(svg)  # noqa: S308
    context = {"order": order, "payment": payment, "provider_label": LABELS[payment.provider], "qr_svg": qr_svg}
    return render(request, "payments/qr.html", context)


@login_required
@require_POST
def cancel(request: HttpRequest, number: str) -> HttpResponse:
    """取消订单, asked twice: the first POST shows what cancelling means, the confirmation's POST cancels."""
    order = selectors.get_order_for(request.user, number)
    form = CancelForm(request.POST)
    if not (form.is_valid() and form.cleaned_data["confirm"]):
        if not order.is_payable:
            messages.info(request, _("订单当前状态为“%(status)s”，不能取消。") % {"status": order.get_status_display()})
            return redirect("payments:order", order.number)
        return render(request, "payments/cancel.html", _order_context(order))
    try:
        services.order_cancel(actor=request.user, order=order)
    except KaowuError as error:
        messages.error(request, error.message)
        return redirect("payments:order", order.number)
    messages.success(
        request,
        _("订单已取消。如需修改报考科目或考区，请点击“撤回修改”，修改后重新提交并缴费；无需修改的可直接重新缴费。"),
    )
    return redirect("applications:detail", order.application_id)


# --- 收据 (PAY-6) -------------------------------------------------------------------------------------


@login_required
def receipt(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.get_order_for(request.user, number)
    if order.status not in RECEIPT_STATES:
        messages.info(request, _("订单尚未支付成功，支付成功后才能查看收据。"))
        return redirect("payments:order", order.number)
    payment = selectors.settling_payment_of(order)
    context = {
        **_order_context(order),
        "candidate": order.candidate,
        "payee": order.batch.programme.owner.name,
        "amount_words": amount_in_words(order.amount_fen),
        "payment": payment,
        "provider_label": LABELS.get(payment.provider, payment.provider) if payment else "",
        "buyer_phone": mask_phone(order.buyer_phone) if order.buyer_phone else "",
    }
    return render(request, "payments/receipt.html", context)


# --- 退考退费 (PAY-3) ------------------------------------------------------------------------------------


@login_required
def refund(request: HttpRequest, pk: int) -> HttpResponse:
    """退费: the paid subjects and amount, the window and the once-only rule; after the confirmation the
    application is withdrawn, its seats released and the fee refunded in full."""
    application = get_application_for(request.user, pk)
    batch = application.batch
    order = selectors.paid_order_of(application)
    form = RefundForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if order is None:
            form.add_error(None, _("该报名没有已缴费的订单，无需退费。"))
        else:
            try:
                services.refund_request(actor=request.user, order=order, reason=form.cleaned_data["reason"])
            except KaowuError as error:
                _apply_error(form, error)
            else:
                messages.success(
                    request,
                    _("退费申请已提交，报名已作废。费用将原路全额退回，到账时间可能较长，请耐心等待并留意短信通知。"),
                )
                return redirect("payments:order", order.number)
    context = {
        **(_order_context(order) if order is not None else {}),
        "application": application,
        "order": order,
        "used": selectors.candidate_refund_of(request.user, batch),
        "window": batch_window(batch, WindowAction.REFUND),
        "window_open": batch_is_open(batch, WindowAction.REFUND),
        "form": form,
    }
    return render(request, "payments/refund.html", context)


# --- 更换考区/考点 (PAY-4) -------------------------------------------------------------------------------


def _free_seats(application: Application) -> dict[int, int | None]:
    """Site id → the fewest seats free at the sittings the application sits (None: a sitting is not held
    there). Empty when the application sits no scheduled sitting (no seats to count)."""
    sitting_ids = {s for s in application.subjects.values_list("sitting_id", flat=True) if s}
    if not sitting_ids:
        return {}
    free: dict[int, int | None] = {}
    for site in Site.objects.filter(batch_id=application.batch_id).prefetch_related("capacities"):
        rows = [c for c in site.capacities.all() if c.sitting_id in sitting_ids]
        free[site.pk] = min(c.free for c in rows) if len(rows) == len(sitting_ids) else None
    return free


@login_required
def change_site(request: HttpRequest, pk: int) -> HttpResponse:
    """更换考点城市: after payment, inside the change window, move to another site of the batch with a free
    seat; the fee does not change. A site filled meanwhile is refused with the ones that still have room."""
    application = get_application_for(request.user, pk)
    form = ChangeSiteForm(
        request.POST if request.method == "POST" else None,
        application=application,
        free_seats=_free_seats(application),
    )
    if request.method == "POST" and form.is_valid():
        site = form.cleaned_data["site"]
        try:
            application_services.application_change_site(actor=request.user, application=application, site=site)
        except KaowuError as error:
            _apply_error(form, error)
        else:
            messages.success(request, _("考区/考点已更换为“%(site)s”，费用不变。") % {"site": site.name})
            return redirect("applications:detail", application.pk)
    context: dict[str, Any] = {
        "application": application,
        "form": form,
        "paid": application.status == ApplicationStatus.PAID,
        "window": batch_window(application.batch, WindowAction.CHANGE_SITE),
        "window_open": batch_is_open(application.batch, WindowAction.CHANGE_SITE),
    }
    return render(request, "payments/change_site.html", context)
