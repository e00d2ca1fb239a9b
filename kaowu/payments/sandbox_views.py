"""The sandbox gateway's payment page (PAY-2): what the payer sees at "the gateway" after Kaowu redirects
there. No login: the gateway does not know Kaowu's users; the trade number in the URL is the payer's
ticket, as at real gateways. The form is CSRF protected like every Kaowu form.

The payer pays (确认支付, choosing how the notification comes), fails (模拟支付失败) or leaves the trade
pending (暂不支付，返回商户). For 网银 (``bank``) trades the payer first picks a bank. Paid, closed and
expired trades show their state and a link back to Kaowu instead of the form: nothing is charged twice.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from kaowu.core.errors import KaowuError
from kaowu.core.forms import KaowuForm

from .models import SandboxTrade, SandboxTradeStatus
from .providers.sandbox import (
    BANKS,
    GATEWAY_NAMES,
    LATE_NOTIFY_SECONDS,
    MERCHANT_NAME,
    NotifyMode,
    notify_delay,
    sandbox_trade_fail,
    sandbox_trade_pay,
    trade_close_if_expired,
)

PAY, FAIL, LATER = "pay", "fail", "later"


class GatewayForm(KaowuForm):
    """The buttons (``action``), the bank (only offered for 网银; required to pay, checked by the service)
    and how the notification is sent (absent: normal)."""

    action = forms.ChoiceField(
        label=_("操作"), choices=[(PAY, _("确认支付")), (FAIL, _("模拟支付失败")), (LATER, _("暂不支付"))]
    )
    bank = forms.ChoiceField(
        label=_("付款银行"),
        choices=BANKS,
        required=False,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    notify = forms.ChoiceField(
        label=_("通知方式"),
        choices=NotifyMode.choices,
        required=False,
        initial=NotifyMode.NORMAL,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )

    def __init__(self, *args, with_bank: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not with_bank:
            del self.fields["bank"]

    def clean_notify(self) -> str:
        return self.cleaned_data["notify"] or NotifyMode.NORMAL


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _page(request: HttpRequest, trade: SandboxTrade, template: str, status: int = 200, **context) -> HttpResponse:
    context.update(
        trade=trade,
        gateway_name=GATEWAY_NAMES[trade.provider],
        merchant=MERCHANT_NAME,
        amount_yuan=_yuan(trade.amount_fen),
    )
    return render(request, f"payments/sandbox/{template}", context, status=status)


def _state_page(request: HttpRequest, trade: SandboxTrade, *, status: int = 200) -> HttpResponse | None:
    """The page of a trade that can no longer be paid, or None while it can."""
    if trade.status == SandboxTradeStatus.SUCCEEDED:
        return _page(request, trade, "paid.html", status=status)
    if trade.status == SandboxTradeStatus.CLOSED:
        return _page(request, trade, "closed.html", status=status)
    return None


@require_http_methods(["GET", "POST"])
def gateway(request: HttpRequest, out_trade_no: str) -> HttpResponse:
    """The payment page of one trade (404 if the gateway never opened it); an open trade past its expiry is
    closed on sight. Pay redirects to the trade's return_url, fail shows 支付失败, later redirects without
    a change; a trade paid or closed meanwhile answers 409 with its state page."""
    trade = trade_close_if_expired(get_object_or_404(SandboxTrade, out_trade_no=out_trade_no))
    with_bank = trade.provider == "bank"
    if request.method == "POST":
        form = GatewayForm(request.POST, with_bank=with_bank)
        if form.is_valid():
            action, bank = form.cleaned_data["action"], form.cleaned_data.get("bank", "")
            if action == LATER:  # the trade stays pending: the payer may come back or pay another way
                return HttpResponseRedirect(trade.return_url)
            try:
                if action == PAY:
                    trade, paid = sandbox_trade_pay(
                        out_trade_no=out_trade_no, notify=form.cleaned_data["notify"], bank=bank
                    )
                    if paid:
                        return HttpResponseRedirect(trade.return_url)
                else:
                    trade, failed = sandbox_trade_fail(out_trade_no=out_trade_no, bank=bank)
                    if failed:
                        return _page(request, trade, "failed.html")
            except KaowuError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                # Paid or closed meanwhile (a double click, or the time ran out): say so, charge nothing.
                return _state_page(request, trade, status=409)
    else:
        form = GatewayForm(with_bank=with_bank)
    hints = {
        NotifyMode.NORMAL: _("支付后约 %(seconds)s 秒发送") % {"seconds": notify_delay()},
        NotifyMode.LATE: _("支付后 %(seconds)s 秒才发送，模拟通知迟到") % {"seconds": LATE_NOTIFY_SECONDS},
        NotifyMode.TWICE: _("立即发送一次，%(seconds)s 秒后再发送一次") % {"seconds": notify_delay()},
        NotifyMode.NONE: _("不发送，请回到考务平台点击“支付完毕”查询结果"),
    }
    notify_options = [(radio, hints[radio.data["value"]]) for radio in form["notify"]]
    return _state_page(request, trade) or _page(request, trade, "pay.html", form=form, notify_options=notify_options)
