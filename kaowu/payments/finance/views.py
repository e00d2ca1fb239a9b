"""The finance back office (issue 5): orders, payment attempts and refunds by batch with filters and
totals, the Excel export, one order's whole story with manual refund and retry, and reconciliation.

Every page needs a signed-in finance member or system administrator (others get a 403 page, anonymous
visitors the login page). What they see comes from ``kaowu.payments.finance.selectors``, which starts
from the programmes their finance roles cover: an order of another programme is a 404. Refunds are one
call of ``kaowu.payments.services``, which checks the finance scope again and records everything.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kaowu.backoffice.permissions import is_system_admin
from kaowu.core.errors import KaowuError

from .. import services
from ..reconciliation import reconcile
from ..workflow import OrderStatus, RefundStatus
from .exports import orders_export
from .forms import ManualRefundForm, OrderFilterForm, PaymentFilterForm, ReconciliationForm, RefundFilterForm
from .selectors import (
    finance_orders,
    finance_payments,
    finance_refunds,
    get_order_for_finance,
    get_refund_for_finance,
    is_finance_staff,
    order_history,
    order_totals,
    with_settlement,
)

PAGE_SIZE = 50


def _forbidden(request: HttpRequest) -> HttpResponse:
    message = _("此页面仅供财务人员使用。如需财务权限，请联系系统管理员。")
    return render(request, "core/error.html", {"error": {"message": message, "code": "forbidden"}}, status=403)


def finance_required(view):
    """Signed in, and holding a finance role or system administration."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_finance_staff(request.user):
            return _forbidden(request)
        return view(request, *args, **kwargs)

    return wrapped


# --- Orders ----------------------------------------------------------------------------------------------


@finance_required
@require_GET
def orders(request: HttpRequest) -> HttpResponse:
    form = OrderFilterForm(request.GET or None, user=request.user)
    form.is_valid()
    found = finance_orders(request.user, form.filters())
    page = Paginator(with_settlement(found), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "totals": order_totals(found)}
    return render(request, "payments/finance/orders.html", context)


@finance_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    """导出 Excel of the orders the list shows with the same filters (all pages). Invalid filters are not
    ignored here, as they are on the list: an export must be exactly what finance asked for."""
    form = OrderFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        messages.error(request, _("筛选条件有误，未导出。请按提示修改筛选条件后再导出。"))
        return redirect(f"{reverse('finance:orders')}?{request.GET.urlencode()}")
    filters = form.filters()
    file, _rows = orders_export(actor=request.user, orders=finance_orders(request.user, filters), filters=filters)
    name = f"orders-{timezone.localtime():%Y%m%d-%H%M%S}.xlsx"
    return FileResponse(
        file,
        as_attachment=True,
        filename=name,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def _render_order(request: HttpRequest, order, form: ManualRefundForm, status: int = 200) -> HttpResponse:
    context = {
        "order": order,
        "lines": order.lines.all(),
        "payments": order.payments.select_related("refund").order_by("created_at", "pk"),
        "refunds": order.refunds.select_related("payment", "requested_by").order_by("created_at", "pk"),
        "history": order_history(order),
        "form": form if order.status == OrderStatus.PAID else None,
        # The application is shown in the admin to system administrators only; finance sees its number.
        "application_admin": is_system_admin(request.user),
    }
    return render(request, "payments/finance/order.html", context, status=status)


@finance_required
@require_GET
def order(request: HttpRequest, number: str) -> HttpResponse:
    return _render_order(request, get_order_for_finance(request.user, number), ManualRefundForm())


@finance_required
@require_POST
def refund(request: HttpRequest, number: str) -> HttpResponse:
    """财务人工退款 of a paid order, with a reason and an explicit confirmation."""
    found = get_order_for_finance(request.user, number)
    form = ManualRefundForm(request.POST)
    if not form.is_valid():
        return _render_order(request, found, form, status=400)
    try:
        made = services.refund_manual(actor=request.user, order=found, reason=form.cleaned_data["reason"])
    except KaowuError as error:
        if error.field == "reason":
            form.add_error("reason", error.message)
            return _render_order(request, found, form, status=error.status)
        # The order's state no longer allows it (refunded meanwhile, application not refundable): say why.
        messages.error(request, error.message)
        return redirect("finance:order", number=found.number)
    messages.success(
        request,
        _("已办理退款（退款单号 %(number)s），报名已撤销。退款将原路退回，结果见下方退款记录。")
        % {"number": made.number},
    )
    return redirect("finance:order", number=found.number)


@finance_required
@require_POST
def refund_retry(request: HttpRequest, number: str, refund_number: str) -> HttpResponse:
    """重试退款: send a failed refund to its gateway again and say what the gateway answered."""
    failed = get_refund_for_finance(request.user, number, refund_number)
    try:
        done = services.refund_retry(actor=request.user, refund=failed)
    except KaowuError as error:
        messages.error(request, error.message)
    else:
        if done.status == RefundStatus.SUCCEEDED:
            messages.success(request, _("退款 %(number)s 已成功。") % {"number": done.number})
        elif done.status == RefundStatus.FAILED:
            messages.error(
                request,
                _("退款 %(number)s 再次失败：%(error)s。请核实支付平台账户后再重试，或联系支付平台处理。")
                % {"number": done.number, "error": done.last_error},
            )
        else:
            messages.info(
                request, _("退款 %(number)s 已提交，支付平台处理中，请稍后刷新查看结果。") % {"number": done.number}
            )
    return redirect("finance:order", number=number)


@finance_required
@require_POST
def recheck(request: HttpRequest, number: str) -> HttpResponse:
    """向支付平台查询: recover a payment whose notification never arrived (reconciliation's 平台漏记收款)."""
    order = get_order_for_finance(request.user, number)
    try:
        order = services.payment_recheck(actor=request.user, order=order)
    except KaowuError as error:
        messages.error(request, error.message)
    else:
        messages.info(
            request, _("已向支付平台查询，订单状态：%(status)s。") % {"status": OrderStatus(order.status).label}
        )
    return redirect("finance:order", number=number)


# --- Payments and refunds ----------------------------------------------------------------------------------


@finance_required
@require_GET
def payments(request: HttpRequest) -> HttpResponse:
    form = PaymentFilterForm(request.GET or None, user=request.user)
    form.is_valid()
    page = Paginator(finance_payments(request.user, form.filters()), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "payments/finance/payments.html", {"form": form, "page": page})


@finance_required
@require_GET
def refunds(request: HttpRequest) -> HttpResponse:
    form = RefundFilterForm(request.GET or None, user=request.user)
    form.is_valid()
    page = Paginator(finance_refunds(request.user, form.filters()), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "payments/finance/refunds.html", {"form": form, "page": page})


# --- Reconciliation ----------------------------------------------------------------------------------------


@finance_required
@require_GET
def reconciliation(request: HttpRequest) -> HttpResponse:
    """对账 of one provider and day. A gateway's bill covers the merchant account, not a programme, so the
    report cannot be narrowed to the user's scope: it is shown whole to every finance member and system
    administrator (trade numbers and amounts, no personal data)."""
    form = ReconciliationForm(request.GET or None)
    report, error = None, ""
    if form.is_valid():
        try:
            report = reconcile(provider=form.cleaned_data["provider"], day=form.cleaned_data["day"])
        except KaowuError as refused:
            error = refused.message
    context = {"form": form, "report": report, "error": error}
    return render(request, "payments/finance/reconciliation.html", context)
