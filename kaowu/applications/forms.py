"""Forms of the candidate's application pages. They parse input and offer the choices that fit the
application (its batch, programme and province); the rules themselves (window, one subject per sitting,
passed subjects, full sites …) are checked by ``kaowu.applications.services``.

Each step form's ``service_kwargs()`` gives the keyword arguments of that step's service.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from kaowu.accounts.models import Scan
from kaowu.catalog.models import (
    Level,
    Organisation,
    OrganisationKind,
    Position,
    Region,
    RegionLevel,
    Site,
    Specialty,
    Subject,
)
from kaowu.core.forms import KaowuForm
from kaowu.core.validators import validate_uscc

from .models import Application, ApplicationKind, InvoiceKind


class StepForm(KaowuForm):
    """A step form bound to one application. Errors of hidden fields are shown as page errors, since the
    error summary lists only visible fields."""

    def __init__(self, *args: Any, application: Application, **kwargs: Any) -> None:
        self.application = application
        super().__init__(*args, **kwargs)

    def full_clean(self) -> None:
        super().full_clean()
        for field in self.hidden_fields():
            for error in self.errors.pop(field.name, []):
                self.add_error(None, error)

    def service_kwargs(self) -> dict[str, Any]:
        return {}


class PersonalForm(StepForm):
    """报考省份 and, optionally, 地市. The city list is that of the province shown (``province_code``)."""

    province = forms.ModelChoiceField(
        label=_("报考省份"),
        queryset=Region.objects.filter(level=RegionLevel.PROVINCE),
        empty_label=_("请选择省份"),
        error_messages={"required": _("请选择报考省份。"), "invalid_choice": _("请选择列表中的省份。")},
    )
    city = forms.ModelChoiceField(
        label=_("报考地市"),
        queryset=Region.objects.none(),
        required=False,
        empty_label=_("不限地市（仅选省份）"),
        error_messages={"invalid_choice": _("所选地市不属于该省份，请重新选择。")},
        help_text=_("地市可不选。列表为所选省份的地市；未出现时请先保存省份，再回到本步选择地市。"),
    )

    def __init__(self, *args: Any, province_code: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        region = self.application.region
        if self.is_bound:
            province_code = self.data.get("province") or province_code
        province_code = province_code or (region.province_code if region else None)
        if province_code:
            self.fields["province"].initial = province_code
            self.fields["city"].queryset = Region.objects.filter(level=RegionLevel.CITY, parent_id=province_code)
        if region is not None and region.level == RegionLevel.CITY and region.province_code == province_code:
            self.fields["city"].initial = region.pk

    def service_kwargs(self) -> dict[str, Any]:
        return {"region": self.cleaned_data["city"] or self.cleaned_data["province"]}


def review_points_for(application: Application):
    """The review points of the programme's bodies in the application's province."""
    if application.region is None:
        return Organisation.objects.none()
    return Organisation.objects.filter(
        kind=OrganisationKind.REVIEW_POINT,
        path__startswith=application.programme.owner.path,
        region__code__startswith=application.region.province_code[:2],
    ).order_by("region__code", "name")


class ReviewPointForm(StepForm):
    review_point = forms.ModelChoiceField(
        label=_("审核点"),
        queryset=Organisation.objects.none(),
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择审核点。"), "invalid_choice": _("请选择所在省份的审核点。")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["review_point"].queryset = review_points_for(self.application)
        self.fields["review_point"].initial = self.application.review_point_id

    def service_kwargs(self) -> dict[str, Any]:
        return {"review_point": self.cleaned_data["review_point"]}


class CommitmentForm(StepForm):
    agree = forms.BooleanField(
        label=_("我已阅读并同意"),
        error_messages={"required": _("请阅读报考须知和承诺书，并勾选“我已阅读并同意”。")},
    )


class SubjectsForm(StepForm):
    """Subjects (one per sitting), years of work and full-time study, for the level and specialty chosen
    on the page (hidden fields: the page reloads with ``?level=&specialty=`` to change them)."""

    level = forms.ModelChoiceField(
        queryset=Level.objects.none(),
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": _("请选择本考试的报考级别。")},
    )
    specialty = forms.ModelChoiceField(
        queryset=Specialty.objects.none(),
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": _("所选专业不属于该级别，请重新选择。")},
    )
    subjects = forms.ModelMultipleChoiceField(
        label=_("报考科目"),
        queryset=Subject.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": _("请至少选择一个报考科目。"),
            "invalid_choice": _("所选科目不属于本考试，请重新选择。"),
            "invalid_pk_value": _("所选科目不属于本考试，请重新选择。"),
        },
    )
    work_years = forms.IntegerField(
        label=_("专业工作年限（年）"),
        required=False,
        min_value=0,
        max_value=60,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "invalid": _("专业工作年限请填写整数。"),
            "min_value": _("专业工作年限应在 0 到 60 年之间。"),
            "max_value": _("专业工作年限应在 0 到 60 年之间。"),
        },
        help_text=_("按报考条件规定的截止日期计算，不足一年的不计。"),
    )
    is_full_time_student = forms.BooleanField(label=_("我是普通全日制高等院校在校生"), required=False)

    def __init__(self, *args: Any, level: Level | None = None, specialty: Specialty | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        programme = self.application.programme
        self.fields["level"].queryset = programme.levels.all()
        self.fields["specialty"].queryset = Specialty.objects.filter(level__programme=programme)
        # Every subject of the programme parses; the service says which of them this level allows.
        self.fields["subjects"].queryset = programme.subjects.all()
        self.initial.update(
            level=level.pk if level else None,
            specialty=specialty.pk if specialty else None,
            subjects=list(self.application.subjects.values_list("subject_id", flat=True)),
            work_years=self.application.work_years,
            is_full_time_student=self.application.is_full_time_student,
        )

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "level": data["level"],
            "specialty": data["specialty"],
            "subjects": list(data["subjects"]),
            "work_years": data["work_years"],
            "is_full_time_student": data["is_full_time_student"],
        }


class SiteForm(StepForm):
    site = forms.ModelChoiceField(
        label=_("考区/考点"),
        queryset=Site.objects.none(),
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择考区/考点。"), "invalid_choice": _("请选择本批次的考区/考点。")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(batch=self.application.batch)
        self.fields["site"].initial = self.application.site_id

    def service_kwargs(self) -> dict[str, Any]:
        return {"site": self.cleaned_data["site"]}


class PositionForm(StepForm):
    position = forms.ModelChoiceField(
        label=_("报考岗位"),
        queryset=Position.objects.none(),
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择报考岗位。"), "invalid_choice": _("请选择本批次的招聘岗位。")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["position"].queryset = Position.objects.filter(batch=self.application.batch)
        self.fields["position"].initial = self.application.position_id

    def service_kwargs(self) -> dict[str, Any]:
        return {"position": self.cleaned_data["position"]}


class InvoiceForm(StepForm):
    """不需要 / 个人 (title: the candidate's own name, fixed) / 企业 (title and 统一社会信用代码)."""

    NONE = "none"  # the form's value for 不需要发票 (stored as ``InvoiceKind.NONE``, the empty string)

    kind = forms.ChoiceField(
        label=_("是否需要发票"),
        choices=[(NONE, InvoiceKind.NONE.label), (InvoiceKind.PERSONAL, _("个人")), (InvoiceKind.COMPANY, _("企业"))],
        widget=forms.RadioSelect,
        error_messages={
            "required": _("请选择是否需要发票及发票类型。"),
            "invalid_choice": _("请选择是否需要发票及发票类型。"),
        },
    )
    title = forms.CharField(
        label=_("企业发票抬头"),
        max_length=100,
        required=False,
        help_text=_("选择“企业”时填写单位全称；选择“个人”时抬头为您的姓名，不可修改。"),
    )
    uscc = forms.CharField(
        label=_("统一社会信用代码（税号）"),
        max_length=18,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        application = self.application
        if "invoice" in application.completed_steps:
            self.initial["kind"] = application.invoice_kind or self.NONE
        if application.invoice_kind == InvoiceKind.COMPANY:
            self.initial.update(title=application.invoice_title, uscc=application.invoice_uscc)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("kind") == InvoiceKind.COMPANY:
            if not data.get("title", "").strip():
                self.add_error("title", _("请填写发票抬头（单位全称）。"))
            uscc = data.get("uscc", "").strip().upper()
            if not uscc:
                self.add_error("uscc", _("请填写统一社会信用代码。"))
            else:
                try:
                    validate_uscc(uscc)
                except ValidationError as error:
                    self.add_error("uscc", error)
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        kind = InvoiceKind.NONE if data["kind"] == self.NONE else data["kind"]
        return {"kind": kind, "title": data["title"], "uscc": data["uscc"]}


class ProofsForm(StepForm):
    """Finishing the proofs step has no input: the proofs are attached one by one (``ScanForm``)."""


class ScanForm(KaowuForm):
    """One of the candidate's own scans, to attach to or detach from the application."""

    scan = forms.ModelChoiceField(
        queryset=Scan.objects.none(),
        error_messages={"required": _("请选择材料。"), "invalid_choice": _("只能使用本人上传的材料。")},
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scan"].queryset = Scan.objects.filter(user=user)


class StartForm(KaowuForm):
    kind = forms.ChoiceField(
        choices=ApplicationKind.choices,
        required=False,
        error_messages={"invalid_choice": _("请选择新考生或补考生。")},
    )


class SubmitForm(KaowuForm):
    confirm = forms.BooleanField(
        label=_("我确认以上报考信息无误"),
        error_messages={"required": _("请核对报考信息，并勾选“我确认以上报考信息无误”。")},
    )


class DishonestForm(KaowuForm):
    confirm = forms.BooleanField(
        label=_("我已阅读上述告知，确认继续报名"),
        error_messages={"required": _("请阅读失信人员报考告知，并勾选确认。")},
    )


class WithdrawForm(KaowuForm):
    reason = forms.CharField(
        label=_("放弃原因（选填）"), max_length=200, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    confirm = forms.BooleanField(
        label=_("我确认放弃本次报名"),
        error_messages={"required": _("请勾选“我确认放弃本次报名”。")},
    )


class RestartForm(KaowuForm):
    confirm = forms.BooleanField(
        label=_("我确认以新考生身份重新报名全部科目"),
        error_messages={"required": _("请勾选确认后再重新报名。")},
    )
