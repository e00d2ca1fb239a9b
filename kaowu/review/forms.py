"""Forms of the reviewer workbench: queue filters, decisions (online and on site), bulk approval, the
失信 list import and prior passes. Field-level checks only; the rules live in the services."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kaowu.applications.selectors import QueueFilters
from kaowu.applications.workflow import Action
from kaowu.backoffice.permissions import managed_programmes
from kaowu.catalog.models import Region, RegionLevel, ReviewLevel, Subject, VerificationMode
from kaowu.core.documents import DocumentType
from kaowu.core.forms import KaowuForm
from kaowu.core.validators import validate_document_number

from .selectors import reviewer_batches, reviewer_subjects

# --- Queue (REV-1) ---------------------------------------------------------------------------------------

STATUS_CHOICES = [("pending", _("待审核")), ("decided", _("已审核")), ("all", _("全部"))]
MODE_CHOICES = [("", _("全部")), (VerificationMode.ONLINE, _("线上")), (VerificationMode.ON_SITE, _("现场"))]


class QueueFilterForm(KaowuForm):
    """The queue's filters (GET). Invalid values are reported and ignored; the rest still filter."""

    q = forms.CharField(
        label=_("搜索"),
        required=False,
        max_length=50,
        help_text=_("姓名、报名号、完整证件号码或手机号码"),
    )
    status = forms.ChoiceField(label=_("审核状态"), choices=STATUS_CHOICES, required=False)
    batch = forms.ModelChoiceField(label=_("批次"), queryset=None, required=False, empty_label=_("全部批次"))
    level = forms.ChoiceField(label=_("审核级别"), choices=[("", _("全部")), *ReviewLevel.choices], required=False)
    province = forms.ModelChoiceField(
        label=_("省份"),
        queryset=Region.objects.filter(level=RegionLevel.PROVINCE).order_by("code"),
        required=False,
        empty_label=_("全部省份"),
    )
    city = forms.ModelChoiceField(label=_("地市"), queryset=None, required=False, empty_label=_("全部地市"))
    subject = forms.ModelChoiceField(label=_("科目"), queryset=None, required=False, empty_label=_("全部科目"))
    mode = forms.ChoiceField(label=_("审核方式"), choices=MODE_CHOICES, required=False)
    dishonest = forms.BooleanField(label=_("仅失信人员"), required=False)
    needs_proof = forms.BooleanField(label=_("仅须证明材料"), required=False)

    def __init__(self, data, *, user):
        super().__init__(data)
        self.fields["batch"].queryset = reviewer_batches(user)
        self.fields["subject"].queryset = reviewer_subjects(user)
        self.fields["subject"].label_from_instance = lambda s: f"{s.programme.name} · {s.name}"
        cities = Region.objects.filter(level=RegionLevel.CITY).order_by("code")
        province = (data or {}).get("province", "")
        if province.isdigit() and len(province) == 6:
            cities = cities.filter(code__startswith=province[:2])
        self.fields["city"].queryset = cities

    def filters(self) -> QueueFilters:
        """The valid filters as ``QueueFilters`` (call after ``is_valid``)."""
        data = getattr(self, "cleaned_data", {})
        city, province = data.get("city"), data.get("province")
        region = city.code[:4] if city else province.code[:2] if province else ""
        batch, subject = data.get("batch"), data.get("subject")
        return QueueFilters(
            status=data.get("status") or "pending",
            batch=batch.pk if batch else None,
            level=data.get("level", ""),
            region=region,
            subject=subject.pk if subject else None,
            mode=data.get("mode", ""),
            dishonest=bool(data.get("dishonest")),
            needs_proof=bool(data.get("needs_proof")),
            search=data.get("q", ""),
        )


class ApplicationIdsField(forms.Field):
    """The ids of the checked rows (``<input type=checkbox name=applications value=pk>``)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        values = value if isinstance(value, list | tuple) else [value] if value else []
        try:
            return list(dict.fromkeys(int(v) for v in values))
        except (TypeError, ValueError):
            raise ValidationError(_("所选报名无效，请刷新页面后重新选择。")) from None


class BulkApproveForm(KaowuForm):
    applications = ApplicationIdsField(
        label=_("所选报名"), error_messages={"required": _("请先勾选要批量通过的报名。")}
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


# --- Decisions (REV-2, REV-4) ----------------------------------------------------------------------------

# Common reasons offered as a starting point; the reviewer may add or write their own. Keys are stable
# so a page rendered in one language and posted in another still means the same thing.
REASON_TEMPLATES: dict[str, list[tuple[str, str]]] = {
    Action.APPROVE: [
        ("approve.complete", _("材料齐全，符合报考条件。")),
        ("approve.originals", _("原件与报名信息一致，核验通过。")),
    ],
    Action.RETURN: [
        ("return.photo", _("证件照不符合要求，请上传近期正面免冠证件照。")),
        ("return.education", _("学历信息与上传的学历证书不一致，请核对修改后重新提交。")),
        ("return.unclear", _("证明材料不清晰或不完整，请重新上传清晰完整的扫描件。")),
        ("return.work_years", _("工作年限证明不足，请补充上传单位出具的工作年限证明。")),
        ("return.student", _("全日制在校生须上传加盖学院或系以上公章的在校证明。")),
    ],
    Action.REJECT: [
        ("reject.education", _("学历不符合报考条件。")),
        ("reject.work_years", _("专业工作年限不符合报考条件。")),
        ("reject.false", _("提供的材料与原件不符。")),
        ("reject.absent", _("未在规定时间内到现场审核。")),
    ],
}
_TEMPLATE_TEXT = {key: text for templates in REASON_TEMPLATES.values() for key, text in templates}
_TEMPLATE_ACTION = {key: action for action, templates in REASON_TEMPLATES.items() for key, _text in templates}

# Originals checked at the review point (REV-4); the ticked ones are written into the decision's reason.
ORIGINALS = [
    ("id_card", _("身份证原件")),
    ("diploma", _("学历证书原件")),
    ("degree", _("学位证书原件")),
    ("form", _("报名表")),
    ("work_years", _("工作年限证明")),
    ("student", _("在校证明")),
]

DECISIONS = [(action, action.label) for action in (Action.APPROVE, Action.RETURN, Action.REJECT)]


class DecisionForm(KaowuForm):
    """One decision. ``action`` comes from the button pressed; ``reason`` is composed of the chosen common
    reason, the reviewer's own words and, on site, the originals checked."""

    action = forms.ChoiceField(label=_("审核结果"), choices=DECISIONS, widget=forms.HiddenInput)
    template = forms.ChoiceField(label=_("常用意见"), required=False)
    text = forms.CharField(
        label=_("审核意见"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("驳回或不通过时必须填写原因（可选常用意见），考生将看到该原因。"),
    )
    on_site = forms.BooleanField(required=False, widget=forms.HiddenInput)
    originals = forms.MultipleChoiceField(
        label=_("已核验的原件"), choices=ORIGINALS, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [
            ("", _("— 选择常用意见 —")),
            *[(Action(action).label, templates) for action, templates in REASON_TEMPLATES.items()],
        ]

    def clean(self):
        data = super().clean()
        template, action = data.get("template"), data.get("action")
        if template and action and _TEMPLATE_ACTION[template] != action:
            self.add_error(
                "template", _("所选常用意见不适用于“%(action)s”，请重新选择。") % {"action": Action(action).label}
            )
        return data

    @property
    def reason(self) -> str:
        data = self.cleaned_data
        parts = [str(_TEMPLATE_TEXT[data["template"]])] if data.get("template") else []
        if data.get("text", "").strip():
            parts.append(data["text"].strip())
        if data.get("on_site") and data.get("originals"):
            labels = dict(ORIGINALS)
            parts.append(_("已核验：%(items)s。") % {"items": "、".join(str(labels[k]) for k in data["originals"])})
        return " ".join(parts)


class OnSiteLookupForm(KaowuForm):
    q = forms.CharField(label=_("报名号或证件号码"), max_length=40)


# --- 失信 list (APP-5) and prior passes (APP-2) ---------------------------------------------------------


class DishonestImportForm(KaowuForm):
    programme = forms.ModelChoiceField(label=_("项目"), queryset=None)
    file = forms.FileField(
        label=_("名单文件"),
        widget=forms.FileInput(attrs={"accept": ".xlsx,.csv"}),
        help_text=_(
            "Excel（.xlsx）或 CSV（UTF-8 或 GBK 编码）。第一行为表头：姓名、证件号码、失信情形（可选）、"
            "有效期至（可选，如 2027-12-31）、证件类型（可选，默认居民身份证）。"
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = managed_programmes(user).order_by("name")


class SubjectPassForm(KaowuForm):
    real_name = forms.CharField(label=_("考生姓名"), max_length=64)
    doc_type = forms.ChoiceField(label=_("证件类型"), choices=DocumentType.choices, initial=DocumentType.ID_CARD)
    doc_number = forms.CharField(label=_("证件号码"), max_length=40)
    subject = forms.ModelChoiceField(label=_("已通过科目"), queryset=None)
    year = forms.IntegerField(label=_("通过年度"), min_value=2000)
    valid_until_year = forms.IntegerField(
        label=_("有效至年度"), min_value=2000, required=False, help_text=_("留空表示长期有效。")
    )
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subject"].queryset = (
            Subject.objects.filter(programme__in=managed_programmes(user))
            .select_related("programme")
            .order_by("programme__name", "position", "code")
        )
        self.fields["subject"].label_from_instance = lambda s: f"{s.programme.name} · {s.code} {s.name}"
        # A pass recorded here is an earlier year's (or this year's) result, never a future one.
        self.fields["year"].validators.append(MaxValueValidator(timezone.localdate().year))

    def clean_doc_number(self) -> str:
        doc_type = self.cleaned_data.get("doc_type", DocumentType.ID_CARD)
        return validate_document_number(doc_type, self.cleaned_data["doc_number"])
