"""Forms of the finance back office: list filters (GET), the manual refund and the reconciliation query.
Field-level checks only; scope and the refund rules live in the selectors and services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kaowu.core.forms import KaowuForm

from ..models import RefundKind
from ..workflow import OrderStatus, PaymentStatus, RefundStatus
from .selectors import OrderFilters, PaymentFilters, RefundFilters, finance_batches, provider_choices

DATE_FIELDS = [("created", _("下单时间")), ("paid", _("支付时间"))]


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class _FilterForm(KaowuForm):
    """Filters of a finance list. Invalid values are reported and ignored; the rest still filter, and the
    list never leaves the user's scope whatever is asked (the selectors start from it)."""

    q = forms.CharField(label=_("搜索"), required=False, max_length=64)
    batch = forms.ModelChoiceField(label=_("批次"), queryset=None, required=False, empty_label=_("全部批次"))

    def __init__(self, data, *, user: Any) -> None:
        super().__init__(data)
        self.fields["batch"].queryset = finance_batches(user)
        self.fields["batch"].label_from_instance = lambda b: f"{b.programme.name} · {b.name}"

    def _data(self) -> dict[str, Any]:
        return getattr(self, "cleaned_data", {})

    def _batch_id(self) -> int | None:
        batch = self._data().get("batch")
        return batch.pk if batch else None


class _DateRangeMixin(forms.Form):
    date_from = forms.DateField(label=_("起始日期"), required=False, widget=_date_input())
    date_to = forms.DateField(label=_("截止日期"), required=False, widget=_date_input())

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("截止日期不能早于起始日期，请重新选择。"))
        return data


class OrderFilterForm(_DateRangeMixin, _FilterForm):
    status = forms.ChoiceField(label=_("订单状态"), required=False, choices=[("", _("全部")), *OrderStatus.choices])
    provider = forms.ChoiceField(label=_("支付方式"), required=False)
    date_field = forms.ChoiceField(label=_("日期依据"), required=False, choices=DATE_FIELDS)

    field_order = ["q", "batch", "status", "provider", "date_field", "date_from", "date_to"]

    def __init__(self, data, *, user: Any) -> None:
        super().__init__(data, user=user)
        self.fields["q"].help_text = _("订单号、报名号、支付流水号、考生姓名或手机号码")
        self.fields["provider"].choices = [("", _("全部")), *provider_choices()]

    def filters(self) -> OrderFilters:
        """The valid filters (call after ``is_valid``)."""
        data = self._data()
        return OrderFilters(
            batch=self._batch_id(),
            status=data.get("status", ""),
            provider=data.get("provider", ""),
            date_field=data.get("date_field") or "created",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            search=data.get("q", ""),
        )


class PaymentFilterForm(_DateRangeMixin, _FilterForm):
    provider = forms.ChoiceField(label=_("支付方式"), required=False)
    status = forms.ChoiceField(label=_("支付状态"), required=False, choices=[("", _("全部")), *PaymentStatus.choices])

    field_order = ["q", "batch", "provider", "status", "date_from", "date_to"]

    def __init__(self, data, *, user: Any) -> None:
        super().__init__(data, user=user)
        self.fields["q"].help_text = _("支付流水号、支付平台交易号或订单号")
        self.fields["provider"].choices = [("", _("全部")), *provider_choices()]

    def filters(self) -> PaymentFilters:
        data = self._data()
        return PaymentFilters(
            batch=self._batch_id(),
            provider=data.get("provider", ""),
            status=data.get("status", ""),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            search=data.get("q", ""),
        )


class RefundFilterForm(_FilterForm):
    kind = forms.ChoiceField(label=_("退款类型"), required=False, choices=[("", _("全部")), *RefundKind.choices])
    status = forms.ChoiceField(label=_("退款状态"), required=False, choices=[("", _("全部")), *RefundStatus.choices])

    def __init__(self, data, *, user: Any) -> None:
        super().__init__(data, user=user)
        self.fields["q"].help_text = _("退款单号、订单号或支付流水号")

    def filters(self) -> RefundFilters:
        data = self._data()
        return RefundFilters(
            batch=self._batch_id(), kind=data.get("kind", ""), status=data.get("status", ""), search=data.get("q", "")
        )


class ManualRefundForm(KaowuForm):
    reason = forms.CharField(
        label=_("退款原因"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("将记录在订单和审计日志中，并告知考生。"),
        error_messages={"required": _("请填写退款原因。")},
    )
    confirm = forms.BooleanField(
        label=_("我已核实：全额退款后该报名将被撤销、考位释放，且不可恢复"),
        error_messages={"required": _("请勾选确认后再办理退款。")},
    )


class ReconciliationForm(KaowuForm):
    provider = forms.ChoiceField(label=_("支付方式"))
    day = forms.DateField(label=_("对账日期"), widget=_date_input())

    def __init__(self, data) -> None:
        super().__init__(data, initial={"day": timezone.localdate() - timedelta(days=1)})
        self.fields["provider"].choices = provider_choices()
