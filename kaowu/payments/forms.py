"""Forms of the candidate's payment pages. They parse input and offer the choices that fit the order or
application; the rules (payment window, one live order, the buyer's phone, once-only refunds, full sites …)
are checked by ``kaowu.payments.services`` and ``kaowu.applications.services``, whose ``KaowuError`` the
views put on the field it names."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kaowu.applications.models import Application
from kaowu.catalog.models import Site
from kaowu.core.forms import KaowuForm

from .providers import LABELS, enabled_providers
from .services import Buyer

REGISTRATION, MEMBERSHIP = "registration", "membership"


class BuyerForm(KaowuForm):
    """购买人 (seed 001: 邮箱和手机号用于接收收据) and, where the programme has a membership, which fee to pay:
    the registration fee, or the membership fee that waives the year's registration fees."""

    buyer_name = forms.CharField(
        label=_("购买人姓名"),
        max_length=50,
        error_messages={"required": _("请填写购买人姓名。"), "max_length": _("购买人姓名不能超过 50 个字。")},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    buyer_phone = forms.CharField(
        label=_("手机号"),
        max_length=20,
        error_messages={"required": _("请填写接收收据的手机号。")},
        help_text=_("用于接收缴费成功短信和收据链接。"),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    buyer_email = forms.EmailField(
        label=_("邮箱"),
        max_length=254,
        error_messages={"required": _("请填写接收收据的邮箱。"), "invalid": _("请填写正确的邮箱地址。")},
        help_text=_("用于接收电子收据，请正确填写。"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    fee = forms.ChoiceField(
        label=_("缴费项目"),
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={
            "required": _("请选择缴纳注册费或入会缴纳个人会员费。"),
            "invalid_choice": _("请选择列表中的缴费项目。"),
        },
    )

    def __init__(self, *args: Any, fee_choices: list[tuple[str, str]], **kwargs: Any) -> None:
        """``fee_choices``: (value, label) of the fees the payer may choose; empty when there is no choice
        (fees per subject, or 会员免缴), which removes the field."""
        super().__init__(*args, **kwargs)
        if fee_choices:
            self.fields["fee"].choices = fee_choices
            if len(fee_choices) == 1:
                self.fields["fee"].initial = fee_choices[0][0]
        else:
            del self.fields["fee"]

    def buyer(self) -> Buyer:
        data = self.cleaned_data
        return Buyer(name=data["buyer_name"], phone=data["buyer_phone"], email=data["buyer_email"])

    def join_membership(self) -> bool:
        return self.cleaned_data.get("fee") == MEMBERSHIP


class ProviderForm(KaowuForm):
    """支付方式: one of the providers this deployment offers (``settings.PAYMENT_PROVIDERS``)."""

    provider = forms.ChoiceField(
        label=_("支付方式"),
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={
            "required": _("请选择支付方式。"),
            "invalid_choice": _("该支付方式暂不可用，请选择其他支付方式。"),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(code, LABELS[code]) for code in enabled_providers()]
        self.fields["provider"].choices = choices
        if len(choices) == 1:
            self.fields["provider"].initial = choices[0][0]


class CancelForm(KaowuForm):
    """取消订单 is asked twice: the order page's button posts without ``confirm`` and gets the confirmation
    page, whose button posts it."""

    confirm = forms.BooleanField(required=False)


class RefundForm(KaowuForm):
    reason = forms.CharField(
        label=_("退考原因（选填）"), max_length=200, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    confirm = forms.BooleanField(
        label=_("我已知晓退考后报名作废且每人仅有一次退费机会"),
        error_messages={"required": _("请先勾选“我已知晓退考后报名作废且每人仅有一次退费机会”。")},
    )


class ChangeSiteForm(KaowuForm):
    """The batch's other sites, each with its free seats at the sittings the candidate sits."""

    site = forms.ModelChoiceField(
        label=_("新的考区/考点"),
        queryset=Site.objects.none(),
        empty_label=_("请选择考区/考点"),
        error_messages={
            "required": _("请选择要更换的考区/考点。"),
            "invalid_choice": _("请选择本批次的其他考区/考点。"),
        },
    )

    def __init__(self, *args: Any, application: Application, free_seats: dict[int, int | None], **kwargs: Any) -> None:
        """``free_seats``: site id → the fewest seats free at the sittings the application sits (None: the
        site does not hold one of those sittings; absent: nothing to count)."""
        super().__init__(*args, **kwargs)
        field = self.fields["site"]
        field.queryset = Site.objects.filter(batch_id=application.batch_id).exclude(pk=application.site_id)

        def label(site: Site) -> str:
            if site.pk not in free_seats:
                return site.name
            free = free_seats[site.pk]
            if free is None:
                return str(_("%(site)s（未安排您所报科目的场次）") % {"site": site.name})
            if free == 0:
                return str(_("%(site)s（已满）") % {"site": site.name})
            return str(_("%(site)s（余 %(free)s 个座位）") % {"site": site.name, "free": free})

        field.label_from_instance = label
