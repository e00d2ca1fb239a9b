"""What the gateways call: the asynchronous notification (no session, no CSRF: the provider verifies the
signature) and the payer's return from the gateway, which asks the gateway at once (the same settlement
as 支付完毕) rather than trusting the query string."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from kaowu.core.context import current_ip
from kaowu.core.errors import KaowuError

from . import services
from .providers import configured
from .selectors import get_order_for
from .workflow import OrderStatus, PaymentStatus


@csrf_exempt
@require_POST
def notify(request: HttpRequest, provider: str) -> HttpResponse:
    if not configured(provider):
        return HttpResponse("unknown provider", status=404, content_type="text/plain")
    status, body, content_type = services.payment_notification_receive(
        provider=provider, headers=request.headers, body=request.body, ip=current_ip()
    )
    return HttpResponse(body, status=status, content_type=content_type)


@login_required
def returned(request: HttpRequest, number: str) -> HttpResponse:
    """The payer is back from the gateway (or pressed 支付完毕): settle what the gateway says now."""
    order = get_order_for(request.user, number)
    try:
        order = services.payment_check(actor=request.user, order=order)
    except KaowuError as error:
        messages.error(request, error.message)
    else:
        if order.status == OrderStatus.PAID:
            messages.success(request, _("缴费成功。"))
        elif order.status == OrderStatus.UNPAID:
            latest = order.payments.order_by("-created_at", "-pk").first()
            if latest is not None and latest.status == PaymentStatus.FAILED:
                messages.warning(request, _("本次支付未成功，没有扣款，可重新支付。"))
            else:
                messages.warning(
                    request,
                    _(
                        "暂未查询到支付成功的记录。若已扣款，请稍候再点“支付完毕”查询，切勿重复支付；若未支付，可重新支付。"
                    ),
                )
    return redirect("payments:order", number=order.number)
