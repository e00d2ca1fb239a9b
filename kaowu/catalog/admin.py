"""Back office for programme configuration (OPS-1, CAT-1 … CAT-7).

Every admin here is scoped by staff role (``kaowu.backoffice.admin_scoping``): a programme
administrator sees and edits only the programmes they manage, other roles see their scope read-only.
Batches and their windows, batch copies, publication and notices are written through
``kaowu.catalog.services`` (which write ``AuditEntry``); the rest of the configuration (subjects, levels,
sittings, sites …) has no service of its own and is saved by the admin after the forms below have
validated it. Every save of it is recorded field by field by django-auditlog (``kaowu.catalog.apps``).
"""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from kaowu.backoffice.admin_scoping import ScopedAdminMixin, ScopedInlineMixin, scope_of
from kaowu.core.errors import KaowuError
from kaowu.core.validators import validate_uscc

from .models import (
    Batch,
    BatchWindow,
    EligibilityRule,
    FlowStep,
    Level,
    NoticeAcceptance,
    NoticeVersion,
    Organisation,
    OrganisationKind,
    Position,
    Programme,
    Region,
    ReviewStage,
    Site,
    SiteCapacity,
    Sitting,
    Specialty,
    Subject,
)
from .services import (
    WindowSpec,
    batch_copy,
    batch_create,
    batch_publish,
    batch_set_windows,
    batch_unpublish,
    batch_windows_validate,
    notice_publish,
)

# --- Helpers ----------------------------------------------------------------------------------------


def _adopt(target: models.Model, saved: models.Model) -> None:
    """Make the admin's unsaved instance the row a service just created, so the admin's log entry and
    redirect point at it."""
    for field in target._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


def _add_kaowu_error(form: forms.BaseForm, error: KaowuError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def _scope_value(form: forms.ModelForm, name: str):
    """The value of a scope field (``programme``, ``batch``, ``level``): from the form when it is
    editable, otherwise from the saved instance (the field is read-only once the object exists)."""
    if name in form.fields:
        return form.cleaned_data.get(name)
    if getattr(form.instance, f"{name}_id", None):
        return getattr(form.instance, name)
    return None


def _check_unique_code(form: forms.ModelForm, scope_name: str, message) -> None:
    code = form.cleaned_data.get("code")
    scope = _scope_value(form, scope_name)
    if not code or scope is None:
        return
    model = form._meta.model
    if model.objects.filter(**{scope_name: scope, "code": code}).exclude(pk=form.instance.pk).exists():
        form.add_error("code", message % {"code": code})


def _check_subjects_of_programme(form: forms.ModelForm, programme: Programme | None) -> None:
    subjects = form.cleaned_data.get("subjects")
    if programme is None or not subjects:
        return
    foreign = [s.name for s in subjects if s.programme_id != programme.pk]
    if foreign:
        form.add_error(
            "subjects",
            _("科目“%(subjects)s”不属于项目“%(programme)s”，请只选择本项目的科目。")
            % {"subjects": "、".join(foreign), "programme": programme.name},
        )


def _check_ends_after_start(form: forms.ModelForm, start: str, end: str) -> None:
    starts_at, ends_at = form.cleaned_data.get(start), form.cleaned_data.get(end)
    if starts_at and ends_at and ends_at <= starts_at:
        form.add_error(end, _("结束时间须晚于开始时间，请调整后再保存。"))


_LIST_SEPARATORS = re.compile(r"[\s,，、;；]+")


def _split_list(text: str) -> list[str]:
    return [item for item in _LIST_SEPARATORS.split(text or "") if item]


# Relation filters offer only the related rows of the viewer's (scoped) queryset, so no other
# organisation's names leak through their choices. Their titles are the fields' verbose names.
SCOPED_FILTER = admin.RelatedOnlyFieldListFilter


class ScopedModelAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """A ``ModelAdmin`` scoped by staff role (``kaowu.backoffice.admin_scoping``)."""


class KaowuInlineFormSet(BaseInlineFormSet):
    """Names duplicated columns by their Chinese labels (Django's message gives field names)."""

    def get_unique_error_message(self, unique_check):
        labels = [str(self.model._meta.get_field(name).verbose_name) for name in unique_check if name != self.fk.name]
        return _("“%(fields)s”有重复，每一行须各不相同，请修改后再保存。") % {"fields": "、".join(labels)}


# --- Regions (only as a search source for the region fields) -----------------------------------------


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    """Not listed on the index: the GB/T 2260 table is loaded by migration, never edited here. It exists
    so that the region fields of organisations and sites can search 3,000 divisions by name or code."""

    search_fields = ["name", "code"]
    ordering = ["code"]

    def has_module_permission(self, request):
        return False

    def has_view_permission(self, request, obj=None):
        return scope_of(request).has_roles

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Organisations -----------------------------------------------------------------------------------


ORGANISATION_FIELDS = [
    "name",
    "short_name",
    "kind",
    "parent",
    "region",
    "address",
    "phone",
    "office_hours",
    "uscc",
    "in_preparation",
]


class OrganisationForm(forms.ModelForm):
    class Meta:
        model = Organisation
        fields = ORGANISATION_FIELDS

    def clean_uscc(self) -> str:
        value = (self.cleaned_data.get("uscc") or "").strip().upper()
        if value:
            validate_uscc(value)
        return value


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    """System administrators maintain the organisation tree; every other role sees its own scope."""

    form = OrganisationForm
    autocomplete_fields = ["region"]
    list_display = ["name", "short_name", "kind", "parent", "region", "in_preparation"]
    list_filter = ["kind", "in_preparation"]
    search_fields = ["name", "short_name", "uscc"]
    fields = ORGANISATION_FIELDS

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("parent", "region")
        scope = scope_of(request)
        return queryset if scope.everything else queryset.filter(pk__in=scope.organisations)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(_("没有找到该记录，或您无权查看。"))
        return obj

    def has_module_permission(self, request):
        return scope_of(request).has_roles

    def has_view_permission(self, request, obj=None):
        scope = scope_of(request)
        if obj is None:
            return scope.has_roles
        return scope.everything or obj.pk in scope.organisations

    def has_add_permission(self, request):
        return scope_of(request).everything

    def has_change_permission(self, request, obj=None):
        return scope_of(request).everything

    def has_delete_permission(self, request, obj=None):
        return scope_of(request).everything


# --- Programmes --------------------------------------------------------------------------------------

_FLOW_HELP = _("按顺序填写步骤代码，用逗号分隔。可用的步骤：%(steps)s。")


PROGRAMME_FIELDS = [
    "owner",
    "code",
    "name",
    "kind",
    "description",
    "flow",
    "payment_stage",
    "resubmission_restart",
    "allows_retake",
    "consultation_phone",
    "is_active",
]


class ProgrammeForm(forms.ModelForm):
    flow = forms.CharField(label=_("报名步骤"), widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = Programme
        fields = PROGRAMME_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "flow" in self.fields:
            steps = "；".join(f"{value}（{label}）" for value, label in FlowStep.choices)
            self.fields["flow"].help_text = _FLOW_HELP % {"steps": steps}
            if self.instance.pk and isinstance(self.instance.flow, list) and not self.is_bound:
                self.initial["flow"] = ", ".join(self.instance.flow)

    def clean_flow(self) -> list[str]:
        steps = _split_list(self.cleaned_data.get("flow", ""))
        if not steps:
            raise ValidationError(_("请至少填写一个报名步骤。"))
        unknown = [s for s in steps if s not in FlowStep.values]
        if unknown:
            raise ValidationError(
                _("未知的步骤代码：%(codes)s。请使用下方列出的步骤代码。") % {"codes": "、".join(unknown)}
            )
        repeated = sorted({s for s in steps if steps.count(s) > 1})
        if repeated:
            raise ValidationError(_("步骤“%(codes)s”重复填写，每个步骤只能出现一次。") % {"codes": "、".join(repeated)})
        return steps


class ReviewStageForm(forms.ModelForm):
    class Meta:
        model = ReviewStage
        fields = ["position", "level", "mode"]


class ReviewStageInline(ScopedInlineMixin, admin.TabularInline):
    model = ReviewStage
    form = ReviewStageForm
    formset = KaowuInlineFormSet
    extra = 0
    fields = ["position", "level", "mode"]


@admin.register(Programme)
class ProgrammeAdmin(ScopedModelAdmin):
    """Programme administrators change their programme's settings and review chain; creating a
    programme, or moving it to another organisation, is for system administrators."""

    form = ProgrammeForm
    inlines = [ReviewStageInline]
    list_display = ["name", "code", "owner", "kind", "payment_stage", "is_active"]
    list_filter = ["kind", "is_active", ("owner", SCOPED_FILTER)]
    search_fields = ["name", "code"]
    fields = PROGRAMME_FIELDS

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not scope_of(request).everything:
            fields += ["owner", "code"]
        return fields

    def has_add_permission(self, request):
        return scope_of(request).everything

    def has_delete_permission(self, request, obj=None):
        return scope_of(request).everything


# --- Batches and windows ----------------------------------------------------------------------------


class BatchWindowForm(forms.ModelForm):
    class Meta:
        model = BatchWindow
        fields = ["action", "opens_at", "closes_at"]

    def clean(self):
        cleaned = super().clean()
        _check_ends_after_start(self, "opens_at", "closes_at")
        return cleaned


class BatchWindowFormSet(KaowuInlineFormSet):
    """The windows of a batch are checked together, by the same rules ``batch_create`` applies."""

    def window_specs(self) -> list[WindowSpec]:
        return [
            WindowSpec(form.cleaned_data["action"], form.cleaned_data["opens_at"], form.cleaned_data["closes_at"])
            for form in self.forms
            if form.cleaned_data and not self._should_delete_form(form)
        ]

    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        try:
            batch_windows_validate(self.window_specs())
        except KaowuError as error:
            raise ValidationError(error.message, code=error.code) from error


class BatchWindowInline(ScopedInlineMixin, admin.TabularInline):
    model = BatchWindow
    form = BatchWindowForm
    formset = BatchWindowFormSet
    extra = 1
    fields = ["action", "opens_at", "closes_at"]


class BatchForm(forms.ModelForm):
    code = forms.SlugField(
        label=_("代码"),
        max_length=40,
        help_text=_("字母、数字、连字符或下划线，如 2027-1；同一项目内不能重复。"),
        error_messages={"invalid": _("批次代码只能包含字母、数字、连字符和下划线，如 2027-1。")},
    )
    year = forms.IntegerField(
        label=_("年度"),
        min_value=2000,
        max_value=9998,
        error_messages={
            "min_value": _("请填写四位数的年度，如 2027。"),
            "max_value": _("请填写四位数的年度，如 2027。"),
            "invalid": _("请填写四位数的年度，如 2027。"),
        },
    )

    class Meta:
        model = Batch
        fields = ["programme", "code", "name", "year"]  # published only through the actions (services)

    def clean(self):
        cleaned = super().clean()
        _check_unique_code(self, "programme", _("本项目已有代码为“%(code)s”的批次，请换一个代码。"))
        return cleaned


class BatchCopyForm(forms.Form):
    code = forms.SlugField(
        label=_("新批次代码"),
        max_length=40,
        error_messages={"invalid": _("批次代码只能包含字母、数字、连字符和下划线，如 2027-1。")},
    )
    name = forms.CharField(label=_("新批次名称"), max_length=120)
    year = forms.IntegerField(
        label=_("年度"),
        min_value=2000,
        max_value=9998,
        help_text=_("所有时间安排、场次时间将按年度差顺延。"),
        error_messages={
            "min_value": _("请填写四位数的年度，如 2027。"),
            "max_value": _("请填写四位数的年度，如 2027。"),
        },
    )


def _next_year_text(text: str, year: int) -> str:
    if str(year) in text:
        return text.replace(str(year), str(year + 1))
    return f"{text}-{year + 1}"


@admin.register(Batch)
class BatchAdmin(ScopedModelAdmin):
    form = BatchForm
    inlines = [BatchWindowInline]
    list_display = ["name", "code", "programme", "year", "is_published", "copied_from"]
    list_filter = [("programme", SCOPED_FILTER), "year", "is_published"]
    search_fields = ["name", "code"]
    actions = ["copy_batch", "publish_batches", "unpublish_batches"]

    # Saved by the change form itself; windows go through ``batch_set_windows``, publication through the
    # "发布" / "取消发布" actions (``batch_publish`` / ``batch_unpublish``).
    EDITABLE_FIELDS = ("code", "name", "year")

    def get_fields(self, request, obj=None):
        if obj is None:  # a new batch starts unpublished (batch_create)
            return ["programme", "code", "name", "year"]
        return ["programme", "code", "name", "year", "is_published", "copied_from"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["is_published", "copied_from"]
        return fields

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        managed = scope_of(request).managed
        if len(managed) == 1 and "programme" not in initial:
            initial["programme"] = next(iter(managed))
        return initial

    def save_model(self, request, obj, form, change):
        # A new batch is created with its windows in one service call, in save_related below. A change
        # writes only the fields the form edits, so it never overwrites a concurrent (un)publication.
        if change:
            changed = [name for name in self.EDITABLE_FIELDS if name in form.changed_data]
            if changed:
                obj.save(update_fields=changed)

    def save_related(self, request, form, formsets, change):
        windows = next((fs for fs in formsets if fs.model is BatchWindow), None)
        specs = windows.window_specs() if windows is not None else []
        if not change:
            batch = batch_create(
                actor=request.user,
                programme=form.cleaned_data["programme"],
                code=form.cleaned_data["code"],
                name=form.cleaned_data["name"],
                year=form.cleaned_data["year"],
                windows=specs,
            )
            _adopt(form.instance, batch)
        elif windows is not None and windows.has_changed():
            batch_set_windows(actor=request.user, batch=form.instance, windows=specs)
        for formset in formsets:
            # Saved by the service, not by formset.save(); the admin's change message reads these.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @admin.action(description=_("发布"), permissions=["change"])
    def publish_batches(self, request, queryset):
        self._set_published(request, queryset, publish=True)

    @admin.action(description=_("取消发布"), permissions=["change"])
    def unpublish_batches(self, request, queryset):
        self._set_published(request, queryset, publish=False)

    def _set_published(self, request, queryset, *, publish: bool) -> None:
        """Publish or unpublish each selected batch the user manages, one service call per batch."""
        scope = scope_of(request)
        done: list[str] = []
        refused: list[str] = []
        for batch in queryset.order_by("pk"):
            if not scope.can_manage(batch.programme_id):
                refused.append(batch.name)
                continue
            try:
                if publish:
                    batch_publish(actor=request.user, batch=batch)
                else:
                    batch_unpublish(actor=request.user, batch=batch)
            except KaowuError as error:
                failed = _("“%(batch)s”未能发布：%(reason)s") if publish else _("“%(batch)s”未能取消发布：%(reason)s")
                self.message_user(request, failed % {"batch": batch.name, "reason": error.message}, messages.ERROR)
            else:
                done.append(batch.name)
        if refused:
            self.message_user(
                request,
                _("您无权发布或取消发布以下批次：%(batches)s。") % {"batches": "、".join(refused)},
                messages.ERROR,
            )
        if done:
            message = _("已发布：%(batches)s。") if publish else _("已取消发布：%(batches)s。")
            self.message_user(request, message % {"batches": "、".join(done)}, messages.SUCCESS)

    @admin.action(description=_("复制为新批次"), permissions=["add"])
    def copy_batch(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("请只选择一个批次进行复制。"), messages.WARNING)
            return None
        source = queryset.get()
        if not scope_of(request).can_manage(source.programme_id):
            self.message_user(request, _("您无权复制该批次。"), messages.ERROR)
            return None
        if "apply" in request.POST:
            form = BatchCopyForm(request.POST)
            if form.is_valid():
                try:
                    batch = batch_copy(actor=request.user, source=source, **form.cleaned_data)
                except KaowuError as error:
                    _add_kaowu_error(form, error)
                else:
                    self.message_user(
                        request,
                        format_html(str(_("已复制为新批次“{}”，请核对时间安排、场次和考点后再发布。")), batch.name),
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:catalog_batch_change", args=[batch.pk]))
        else:
            form = BatchCopyForm(
                initial={
                    "code": _next_year_text(source.code, source.year),
                    "name": _next_year_text(source.name, source.year),
                    "year": source.year + 1,
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("复制为新批次"),
            "subtitle": source.name,
            "opts": self.model._meta,
            "source": source,
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/catalog/batch/copy_batch.html", context)


# --- Subjects, levels, specialties, eligibility ------------------------------------------------------


class SubjectForm(forms.ModelForm):
    fee_yuan = forms.DecimalField(
        label=_("报名费（元）"),
        min_value=Decimal("0"),
        max_digits=10,
        decimal_places=2,
        help_text=_("以元为单位，可到分，如 80 或 80.50。"),
        error_messages={
            "min_value": _("报名费不能为负数，请填写 0 或正数（单位：元）。"),
            "max_decimal_places": _("报名费最多精确到分（两位小数）。"),
            "invalid": _("请填写金额数字，如 80 或 80.50。"),
        },
    )

    class Meta:
        model = Subject
        fields = ["programme", "code", "name", "fee_yuan", "is_practical", "position"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["fee_yuan"] = Decimal(self.instance.fee_fen) / 100

    def clean(self):
        cleaned = super().clean()
        fee = cleaned.get("fee_yuan")
        if fee is not None:
            self.instance.fee_fen = int((fee * 100).to_integral_value())
        _check_unique_code(self, "programme", _("本项目已有代码为“%(code)s”的科目，请换一个代码。"))
        return cleaned


@admin.register(Subject)
class SubjectAdmin(ScopedModelAdmin):
    form = SubjectForm
    list_display = ["code", "name", "programme", "fee_yuan", "is_practical", "position"]
    list_filter = [("programme", SCOPED_FILTER), "is_practical"]
    list_select_related = ["programme"]
    search_fields = ["code", "name"]
    fields = ["programme", "code", "name", "fee_yuan", "is_practical", "position"]

    @admin.display(description=_("报名费（元）"), ordering="fee_fen")
    def fee_yuan(self, subject: Subject) -> str:
        return f"{Decimal(subject.fee_fen) / 100:.2f}"


class LevelForm(forms.ModelForm):
    class Meta:
        model = Level
        fields = ["programme", "code", "name", "position", "subjects"]

    def clean(self):
        cleaned = super().clean()
        _check_unique_code(self, "programme", _("本项目已有代码为“%(code)s”的级别，请换一个代码。"))
        _check_subjects_of_programme(self, _scope_value(self, "programme"))
        return cleaned


@admin.register(Level)
class LevelAdmin(ScopedModelAdmin):
    form = LevelForm
    list_display = ["code", "name", "programme", "position"]
    list_filter = [("programme", SCOPED_FILTER)]
    list_select_related = ["programme"]
    search_fields = ["code", "name"]
    filter_horizontal = ["subjects"]


class SpecialtyForm(forms.ModelForm):
    class Meta:
        model = Specialty
        fields = ["level", "code", "name", "subjects"]

    def clean(self):
        cleaned = super().clean()
        _check_unique_code(self, "level", _("该级别下已有代码为“%(code)s”的专业，请换一个代码。"))
        level = _scope_value(self, "level")
        _check_subjects_of_programme(self, level.programme if level is not None else None)
        return cleaned


@admin.register(Specialty)
class SpecialtyAdmin(ScopedModelAdmin):
    form = SpecialtyForm
    list_display = ["code", "name", "level"]
    list_filter = [("level__programme", SCOPED_FILTER)]
    list_select_related = ["level"]
    search_fields = ["code", "name"]
    filter_horizontal = ["subjects"]


class EligibilityRuleForm(forms.ModelForm):
    allowed_majors = forms.CharField(
        label=_("限定专业"),
        required=False,
        help_text=_("填写专业关键词，用逗号或顿号分隔；所学专业名称中包含任一关键词即符合。留空表示不限。"),
    )

    class Meta:
        model = EligibilityRule
        fields = [
            "level",
            "specialty",
            "min_education",
            "min_degree",
            "allowed_majors",
            "min_work_years",
            "full_time_students_need_certificate",
            "description",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["allowed_majors"] = "、".join(self.instance.allowed_majors or [])

    def clean_allowed_majors(self) -> list[str]:
        return list(dict.fromkeys(_split_list(self.cleaned_data.get("allowed_majors", ""))))

    def clean(self):
        cleaned = super().clean()
        level, specialty = _scope_value(self, "level"), cleaned.get("specialty")
        if level is not None and specialty is not None and specialty.level_id != level.pk:
            self.add_error(
                "specialty", _("专业“%(specialty)s”不属于级别“%(level)s”。") % {"specialty": specialty, "level": level}
            )
        return cleaned


@admin.register(EligibilityRule)
class EligibilityRuleAdmin(ScopedModelAdmin):
    form = EligibilityRuleForm
    list_display = ["__str__", "level", "specialty", "min_education", "min_degree", "min_work_years"]
    list_filter = [("level__programme", SCOPED_FILTER)]


# --- Sittings, sites, positions ----------------------------------------------------------------------


class SittingForm(forms.ModelForm):
    class Meta:
        model = Sitting
        fields = ["batch", "name", "starts_at", "ends_at", "subjects"]

    def clean(self):
        cleaned = super().clean()
        _check_ends_after_start(self, "starts_at", "ends_at")
        batch = _scope_value(self, "batch")
        subjects = cleaned.get("subjects")
        if batch is None or not subjects:
            return cleaned
        _check_subjects_of_programme(self, batch.programme)
        clashes = (
            Sitting.subjects.through.objects.filter(sitting__batch=batch, subject__in=subjects)
            .exclude(sitting_id=self.instance.pk)
            .select_related("subject", "sitting")
        )
        for clash in clashes:
            self.add_error(
                "subjects",
                _("科目“%(subject)s”已安排在本批次的场次“%(sitting)s”，同一科目在一个批次中只能安排一个场次。")
                % {"subject": clash.subject.name, "sitting": clash.sitting.name},
            )
        return cleaned


@admin.register(Sitting)
class SittingAdmin(ScopedModelAdmin):
    form = SittingForm
    list_display = ["name", "batch", "starts_at", "ends_at"]
    list_filter = [("batch", SCOPED_FILTER)]
    list_select_related = ["batch"]
    filter_horizontal = ["subjects"]


class SiteCapacityForm(forms.ModelForm):
    capacity = forms.IntegerField(
        label=_("座位数"),
        min_value=0,
        error_messages={"min_value": _("座位数不能为负数，请填写 0 或正整数。"), "invalid": _("座位数须为整数。")},
    )

    class Meta:
        model = SiteCapacity
        fields = ["sitting", "capacity"]


class SiteCapacityFormSet(KaowuInlineFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        if self.instance.batch_id and "sitting" in form.fields:
            form.fields["sitting"].queryset = form.fields["sitting"].queryset.filter(batch_id=self.instance.batch_id)

    def clean(self):
        super().clean()
        for form in self.forms:
            sitting = form.cleaned_data.get("sitting") if form.cleaned_data else None
            if sitting is not None and self.instance.batch_id and sitting.batch_id != self.instance.batch_id:
                form.add_error("sitting", _("请选择本考点所属批次的场次。"))


class SiteCapacityInline(ScopedInlineMixin, admin.TabularInline):
    model = SiteCapacity
    form = SiteCapacityForm
    formset = SiteCapacityFormSet
    extra = 1
    readonly_fields = ["held"]


class SiteForm(forms.ModelForm):
    class Meta:
        model = Site
        fields = ["batch", "region", "name", "address", "review_point"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "review_point" in self.fields:
            self.fields["review_point"].queryset = Organisation.objects.filter(kind=OrganisationKind.REVIEW_POINT)

    def clean(self):
        cleaned = super().clean()
        batch, point = cleaned.get("batch"), cleaned.get("review_point")
        if batch is not None and point is not None and not point.path.startswith(batch.programme.owner.path):
            self.add_error("review_point", _("请选择本项目主办机构下属的审核点。"))
        return cleaned


@admin.register(Site)
class SiteAdmin(ScopedModelAdmin):
    form = SiteForm
    autocomplete_fields = ["region"]
    inlines = [SiteCapacityInline]
    list_display = ["name", "batch", "region", "address"]
    list_filter = [("batch", SCOPED_FILTER)]
    list_select_related = ["batch", "region"]
    search_fields = ["name", "address"]
    fields = ["batch", "region", "name", "address", "review_point"]


class PositionForm(forms.ModelForm):
    class Meta:
        model = Position
        fields = ["batch", "code", "name", "unit", "posts", "requirements"]

    def clean(self):
        cleaned = super().clean()
        _check_unique_code(self, "batch", _("本批次已有代码为“%(code)s”的岗位，请换一个代码。"))
        return cleaned


@admin.register(Position)
class PositionAdmin(ScopedModelAdmin):
    form = PositionForm
    list_display = ["code", "name", "unit", "posts", "batch"]
    list_filter = [("batch", SCOPED_FILTER)]
    list_select_related = ["batch"]
    search_fields = ["code", "name", "unit"]


# --- Notices -----------------------------------------------------------------------------------------


class NoticeVersionForm(forms.ModelForm):
    class Meta:
        model = NoticeVersion
        fields = ["programme", "kind", "title", "body"]


@admin.register(NoticeVersion)
class NoticeVersionAdmin(ScopedModelAdmin):
    """Publishing adds a version (``notice_publish``); a published version is never edited or deleted,
    so what a candidate accepted stays exactly what they read."""

    form = NoticeVersionForm
    list_display = ["title", "programme", "kind", "version", "published_at", "published_by"]
    list_filter = ["kind", ("programme", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["programme", "published_by"]
    search_fields = ["title"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["programme", "kind", "title", "body"]
        return ["programme", "kind", "version", "title", "body", "published_at", "published_by"]

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        scope = scope_of(request)
        if scope.everything:
            return queryset
        if not scope.has_roles:
            return queryset.none()
        # Platform-wide notices (user agreement …) are public texts: every role may read them.
        return queryset.filter(models.Q(programme__in=scope.visible) | models.Q(programme__isnull=True))

    def has_view_permission(self, request, obj=None):
        if obj is not None and obj.programme_id is None:
            return scope_of(request).has_roles
        return super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "programme" in form.base_fields:
            everything = scope_of(request).everything
            form.base_fields["programme"].required = not everything
            if everything:
                form.base_fields["programme"].help_text = _("留空表示全平台通用（如用户协议、注册须知）。")
        return form

    def save_model(self, request, obj, form, change):
        notice = notice_publish(
            actor=request.user,
            programme=form.cleaned_data.get("programme"),
            kind=form.cleaned_data["kind"],
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
        )
        _adopt(obj, notice)


class NoticeAcceptanceForm(forms.ModelForm):
    class Meta:
        model = NoticeAcceptance
        fields = ["user", "notice", "accepted_at", "ip"]


@admin.register(NoticeAcceptance)
class NoticeAcceptanceAdmin(ScopedModelAdmin):
    form = NoticeAcceptanceForm

    list_display = ["user", "notice", "accepted_at", "ip"]
    list_filter = [("notice__programme", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["user", "notice"]
    search_fields = ["user__username", "user__real_name"]
    fields = ["user", "notice", "accepted_at", "ip"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
