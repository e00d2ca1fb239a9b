"""The candidate's application pages (APP-1 … APP-9): the batch list, one page per flow step, the
confirmation (报名表) and submission, the status page, recall / withdraw / restart, and the record.

Each view fetches the application with ``selectors.get_application_for`` (Http404 for anyone but its
candidate), parses input with a form, calls one service and renders or redirects. A ``KaowuError``
becomes a message on the form or page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kaowu.accounts.models import Photo
from kaowu.accounts.selectors import education_records_of
from kaowu.accounts.views import candidate_required
from kaowu.catalog.models import Batch, FlowStep, Level, NoticeKind, Site, Specialty, WindowAction
from kaowu.catalog.selectors import batch_window, notice_current, subjects_for
from kaowu.catalog.services import EligibilityStatus, batch_is_open
from kaowu.core.errors import KaowuError
from kaowu.payments import selectors as payment_selectors
from kaowu.results.selectors import passed_subjects

from . import selectors, services
from .forms import (
    CommitmentForm,
    DishonestForm,
    InvoiceForm,
    PersonalForm,
    PositionForm,
    ProofsForm,
    RestartForm,
    ReviewPointForm,
    ScanForm,
    SiteForm,
    StartForm,
    StepForm,
    SubjectsForm,
    SubmitForm,
    WithdrawForm,
    review_points_for,
)
from .models import Application, ApplicationKind, StepStatus
from .workflow import EDITABLE_STATES, TRANSITIONS, Action, Status

NOTICES_TO_ACCEPT = (NoticeKind.EXAM_INSTRUCTIONS, NoticeKind.COMMITMENT_LETTER)


def _apply_error(form, error: KaowuError) -> None:
    """The service's message on the field it names, or on the form (hidden fields show no errors)."""
    on_field = error.field in form.fields and not form[error.field].is_hidden
    form.add_error(error.field if on_field else None, error.message)


def _can(application: Application, action: str) -> bool:
    """Whether the transition table lets the candidate try ``action`` now (the service decides the rest)."""
    return (application.status, action) in TRANSITIONS


def _next_url(application: Application, after: str | None = None) -> str:
    """The first unfinished step (after ``after``, if any is left there), or the confirmation page."""
    missing = selectors.missing_steps(application)
    flow = application.programme.flow
    if after in flow:
        missing = [s for s in missing if flow.index(s) > flow.index(after)] or missing
    if missing:
        return reverse("applications:step", args=[application.pk, missing[0]])
    return reverse("applications:confirm", args=[application.pk])


def _continue_url(application: Application) -> str:
    """Where "继续" leads: the next step while the candidate edits, else the status page."""
    if application.status in EDITABLE_STATES:
        return _next_url(application)
    return reverse("applications:detail", args=[application.pk])


def _not_editable(request: HttpRequest, application: Application) -> HttpResponse:
    if application.status == Status.UNDER_REVIEW:
        messages.info(request, _("报名已提交审核，如需修改请先“撤回修改”（审核通过前可撤回）。"))
    else:
        messages.info(
            request,
            _("报名当前状态为“%(status)s”，不能再修改。") % {"status": Status(application.status).label},
        )
    return redirect("applications:detail", application.pk)


# --- APP-1: the batches and the candidate's status in each ------------------------------------------


@dataclass
class BatchRow:
    entry: selectors.BatchEntry
    can_start: bool = False
    supported: bool = True
    action_label: str = ""
    action_url: str = ""


def _batch_row(entry: selectors.BatchEntry) -> BatchRow:
    application, batch = entry.application, entry.batch
    row = BatchRow(entry=entry, supported=set(batch.programme.flow) <= services.SUPPORTED_STEPS)
    if application is not None:
        editable = application.status in EDITABLE_STATES
        row.action_label, row.action_url = _("继续填写") if editable else _("查看"), _continue_url(application)
    live = application is not None and application.is_live
    row.can_start = row.supported and not live and batch_is_open(batch, WindowAction.REGISTER)
    return row


@candidate_required
def application_list(request: HttpRequest) -> HttpResponse:
    rows = [_batch_row(entry) for entry in selectors.batch_overview_for(request.user)]
    return render(request, "applications/list.html", {"rows": rows, "has_photo": hasattr(request.user, "photo")})


@candidate_required
@require_POST
def start(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(Batch.objects.select_related("programme"), pk=batch_id, is_published=True)
    form = StartForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择新考生或补考生。"))
        return redirect("applications:list")
    kind = form.cleaned_data["kind"] or ("" if batch.programme.allows_retake else ApplicationKind.NEW)
    try:
        application = services.application_start(actor=request.user, batch=batch, kind=kind)
    except KaowuError as error:
        live = selectors.live_application(request.user, batch) if error.code == "applications.already_applied" else None
        if live is not None:
            messages.info(request, error.message)
            return redirect(_continue_url(live))
        messages.error(request, error.message)
        return redirect("applications:list")
    messages.success(request, _("已开始报名，报名号 %(number)s。请按步骤填写。") % {"number": application.number})
    return redirect(_next_url(application))


# --- APP-3: one step per page ----------------------------------------------------------------------


def _progress(application: Application, current: str) -> list[dict[str, Any]]:
    """The flow as a progress list: finished steps marked, the current one flagged."""
    editable = application.status in EDITABLE_STATES
    items = []
    for number, step in enumerate(application.programme.flow, start=1):
        if step == FlowStep.CONFIRM:
            url = reverse("applications:confirm", args=[application.pk])
        else:
            url = reverse("applications:step", args=[application.pk, step])
        items.append(
            {
                "number": number,
                "label": FlowStep(step).label,
                "done": step in application.completed_steps,
                "current": step == current,
                "url": url if editable else "",
            }
        )
    return items


def _personal_context(request: HttpRequest, application: Application, form: StepForm) -> dict[str, Any]:
    user = request.user
    return {
        "profile": user.candidate_profile,
        "education_records": education_records_of(user),
        "has_photo": Photo.objects.filter(user=user).exists(),
    }


def _review_point_context(request: HttpRequest, application: Application, form: StepForm) -> dict[str, Any]:
    return {"points": review_points_for(application).select_related("region")}


def _candidate_type_context(request: HttpRequest, application: Application, form: StepForm | None) -> dict[str, Any]:
    batch = application.batch
    return {
        "passed": passed_subjects(application.candidate, application.programme, year=batch.year),
        "next_url": _next_url(application, after=FlowStep.CANDIDATE_TYPE),
    }


def _commitment_context(request: HttpRequest, application: Application, form: StepForm) -> dict[str, Any]:
    notices = [n for kind in NOTICES_TO_ACCEPT if (n := notice_current(application.programme, kind))]
    accepted = {a.notice_id: a for a in application.accepted_notices.all()}
    return {"notices": [(n, accepted.get(n.pk)) for n in notices]}


def _chosen_level(request: HttpRequest, application: Application) -> tuple[Level | None, Specialty | None]:
    """The level and specialty the subjects page shows: from the form or ``?level=&specialty=``, else
    the application's; a programme with one level needs no choice."""
    source = request.POST if request.method == "POST" else request.GET
    levels = list(application.programme.levels.order_by("position", "code"))
    wanted = source.get("level") or application.level_id
    level = next((lv for lv in levels if str(lv.pk) == str(wanted)), levels[0] if len(levels) == 1 else None)
    if level is None:
        return None, None
    wanted = source.get("specialty") or application.specialty_id
    specialty = next((s for s in level.specialties.all() if str(s.pk) == str(wanted)), None)
    return level, specialty


def _subjects_form_kwargs(request: HttpRequest, application: Application) -> dict[str, Any]:
    level, specialty = _chosen_level(request, application)
    return {"level": level, "specialty": specialty}


def _subjects_context(request: HttpRequest, application: Application, form: StepForm) -> dict[str, Any]:
    level, specialty = _chosen_level(request, application)
    programme, batch = application.programme, application.batch
    needs_level = level is None and programme.levels.exists()
    allowed = subjects_for(level, specialty) if level else programme.subjects.all()
    allowed_ids = set() if needs_level else set(allowed.values_list("pk", flat=True))
    passed = set(passed_subjects(application.candidate, programme, year=batch.year).values_list("pk", flat=True))
    carried = passed if application.kind == ApplicationKind.RETAKE else set()
    selected = {str(v) for v in (form["subjects"].value() or [])}
    sittings = []
    for sitting in batch.sittings.order_by("starts_at").prefetch_related("subjects"):
        subjects = [
            {"subject": s, "checked": str(s.pk) in selected, "carried": s.pk in carried}
            for s in sorted(sitting.subjects.all(), key=lambda s: (s.position, s.code))
            if s.pk in allowed_ids
        ]
        if subjects:
            sittings.append({"sitting": sitting, "subjects": subjects})
    return {
        "levels": programme.levels.order_by("position", "code"),
        "level": level,
        "specialty": specialty,
        "specialties": level.specialties.order_by("code") if level else [],
        "needs_level": needs_level,
        "sittings": sittings,
        "carried": [s for s in programme.subjects.all() if s.pk in carried],
    }


def _site_context(request: HttpRequest, application: Application, form: StepForm) -> dict[str, Any]:
    """Each site with its free seats at the sittings the candidate sits (all sittings before choosing)."""
    batch = application.batch
    sitting_ids = {s for s in application.subjects.values_list("sitting_id", flat=True) if s}
    sitting_ids = sitting_ids or set(batch.sittings.values_list("pk", flat=True))
    sites = []
    for site in Site.objects.filter(batch=batch).select_related("region").prefetch_related("capacities__sitting"):
        capacities = sorted(
            (c for c in site.capacities.all() if c.sitting_id in sitting_ids), key=lambda c: c.sitting.starts_at
        )
        offered = len(capacities) == len(sitting_ids)
        full = not offered or any(c.free == 0 for c in capacities)
        sites.append({"site": site, "capacities": capacities, "offered": offered, "full": full})
    return {"sites": sites, "selected": str(form["site"].value() or "")}


def _position_context(request: HttpRequest, application: Application, form: StepForm) -> dict[str, Any]:
    return {"positions": application.batch.positions.order_by("code"), "selected": str(form["position"].value() or "")}


def _proofs_context(request: HttpRequest, application: Application, form: StepForm) -> dict[str, Any]:
    attached = set(application.proofs.values_list("scan_id", flat=True))
    scans = request.user.scans.all()
    return {"scans": [(scan, scan.pk in attached) for scan in scans], "attached_count": len(attached)}


def _no_kwargs(request: HttpRequest, application: Application) -> dict[str, Any]:
    return {}


def _no_context(request: HttpRequest, application: Application, form: StepForm | None) -> dict[str, Any]:
    return {}


def _personal_form_kwargs(request: HttpRequest, application: Application) -> dict[str, Any]:
    return {"province_code": request.GET.get("province")}


@dataclass(frozen=True)
class StepPage:
    """How one flow step's page is built: its form, the service its POST calls, extra context."""

    template: str
    form_class: type[StepForm] | None = None
    service: Callable[..., Any] | None = None
    context: Callable[[HttpRequest, Application, Any], dict[str, Any]] = _no_context
    form_kwargs: Callable[[HttpRequest, Application], dict[str, Any]] = _no_kwargs


STEP_PAGES: dict[str, StepPage] = {
    FlowStep.PERSONAL: StepPage(
        "applications/step_personal.html",
        PersonalForm,
        services.application_confirm_personal,
        _personal_context,
        _personal_form_kwargs,
    ),
    FlowStep.REVIEW_POINT: StepPage(
        "applications/step_review_point.html",
        ReviewPointForm,
        services.application_choose_review_point,
        _review_point_context,
    ),
    FlowStep.CANDIDATE_TYPE: StepPage("applications/step_candidate_type.html", context=_candidate_type_context),
    FlowStep.COMMITMENT: StepPage(
        "applications/step_commitment.html",
        CommitmentForm,
        services.application_accept_commitment,
        _commitment_context,
    ),
    FlowStep.SUBJECTS: StepPage(
        "applications/step_subjects.html",
        SubjectsForm,
        services.application_choose_subjects,
        _subjects_context,
        _subjects_form_kwargs,
    ),
    FlowStep.SITE: StepPage("applications/step_site.html", SiteForm, services.application_choose_site, _site_context),
    FlowStep.POSITION: StepPage(
        "applications/step_position.html", PositionForm, services.application_choose_position, _position_context
    ),
    FlowStep.INVOICE: StepPage("applications/step_invoice.html", InvoiceForm, services.application_set_invoice),
    FlowStep.PROOFS: StepPage(
        "applications/step_proofs.html", ProofsForm, services.application_confirm_proofs, _proofs_context
    ),
}


def _eligibility_warning(request: HttpRequest, application: Application) -> None:
    """Seed 002: a declared education or work history that does not meet the rules is flagged, and the
    candidate decides whether to go on."""
    if application.eligibility_status in (EligibilityStatus.FAIL, EligibilityStatus.NEEDS_PROOF):
        reasons = "；".join(application.eligibility_reasons)
        messages.warning(request, _("%(reasons)s 请考生根据实际情况确定报考资格。") % {"reasons": reasons})


@login_required
def step_page(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    """One step of the programme's flow: GET shows it, POST saves it through the step's service."""
    application = selectors.get_application_for(request.user, pk)
    page = STEP_PAGES.get(step)
    if page is None or step not in application.programme.flow:
        raise Http404
    if application.status not in EDITABLE_STATES:
        return _not_editable(request, application)
    if request.method == "POST" and page.service is None:
        return HttpResponseNotAllowed(["GET"])
    form = None
    if page.form_class is not None:
        data = request.POST if request.method == "POST" else None
        form = page.form_class(data, application=application, **page.form_kwargs(request, application))
    if request.method == "POST" and form.is_valid():
        try:
            page.service(actor=request.user, application=application, **form.service_kwargs())
        except KaowuError as error:
            _apply_error(form, error)
        else:
            application.refresh_from_db()
            messages.success(request, _("“%(step)s”已保存。") % {"step": FlowStep(step).label})
            if step == FlowStep.SUBJECTS:
                _eligibility_warning(request, application)
            return redirect(_next_url(application, after=step))
    context = {
        "application": application,
        "form": form,
        "step": step,
        "step_label": FlowStep(step).label,
        "progress": _progress(application, step),
        **page.context(request, application, form),
    }
    return render(request, page.template, context)


@login_required
@require_POST
def proof_attach(request: HttpRequest, pk: int) -> HttpResponse:
    return _proof_change(request, pk, services.application_attach_proof, _("材料已添加。"))


@login_required
@require_POST
def proof_detach(request: HttpRequest, pk: int) -> HttpResponse:
    return _proof_change(request, pk, services.application_detach_proof, _("材料已移除。"))


def _proof_change(request: HttpRequest, pk: int, service: Callable[..., Any], done: str) -> HttpResponse:
    application = selectors.get_application_for(request.user, pk)
    form = ScanForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("scan", [])))
    else:
        try:
            service(actor=request.user, application=application, scan=form.cleaned_data["scan"])
        except KaowuError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, done)
    return redirect("applications:step", application.pk, FlowStep.PROOFS)


# --- The 报名表, confirmation and submission (APP-3, APP-5) --------------------------------------------


def _summary(application: Application) -> dict[str, Any]:
    """Everything the candidate declared and chose, for the confirmation page and the record."""
    candidate = application.candidate
    lines = list(application.subjects.select_related("subject", "sitting"))
    return {
        "candidate": candidate,
        "profile": candidate.candidate_profile,
        "education_records": education_records_of(candidate),
        "has_photo": Photo.objects.filter(user=candidate).exists(),
        "subject_lines": lines,
        "total_fee_fen": sum(line.subject.fee_fen for line in lines),
        "carried": (
            passed_subjects(candidate, application.programme, year=application.batch.year)
            if application.kind == ApplicationKind.RETAKE
            else []
        ),
        "proofs": application.proofs.select_related("scan"),
        "acceptances": application.accepted_notices.select_related("notice").order_by("notice__kind"),
        "flow": application.programme.flow,
    }


def _is_listed(application: Application) -> bool:
    """On the 失信 list now: read again, as submission does, since the list may change after the start."""
    return selectors.dishonest_entry_for(application.programme, application.candidate) is not None


def _confirm_context(application: Application, form: SubmitForm, error: KaowuError | None = None) -> dict[str, Any]:
    missing = selectors.missing_steps(application)
    return {
        "application": application,
        "form": form,
        "error": error,
        "missing": [(s, FlowStep(s).label, reverse("applications:step", args=[application.pk, s])) for s in missing],
        "needs_dishonest": _is_listed(application) and application.dishonest_confirmed_at is None,
        "progress": _progress(application, FlowStep.CONFIRM),
        **_summary(application),
    }


@login_required
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    application = selectors.get_application_for(request.user, pk)
    if application.status not in EDITABLE_STATES:
        return _not_editable(request, application)
    return render(request, "applications/confirm.html", _confirm_context(application, SubmitForm()))


@login_required
@require_POST
def submit(request: HttpRequest, pk: int) -> HttpResponse:
    application = selectors.get_application_for(request.user, pk)
    if application.status not in EDITABLE_STATES:
        return _not_editable(request, application)
    form = SubmitForm(request.POST)
    status, error = 200, None
    if form.is_valid():
        try:
            services.application_submit(actor=request.user, application=application)
        except KaowuError as refused:
            error, status = refused, refused.status
            form.add_error(None, refused.message)
            application = selectors.get_application_for(request.user, pk)
        else:
            messages.success(request, _("报名已提交。请按状态页的提示办理下一步。"))
            return redirect("applications:detail", application.pk)
    return render(request, "applications/confirm.html", _confirm_context(application, form, error), status=status)


@login_required
def dishonest(request: HttpRequest, pk: int) -> HttpResponse:
    """APP-5: a candidate on the 失信 list reads the special notice and confirms it before submitting."""
    application = selectors.get_application_for(request.user, pk)
    if application.status not in EDITABLE_STATES:
        return _not_editable(request, application)
    entry = selectors.dishonest_entry_for(application.programme, request.user)
    if entry is None:
        return redirect("applications:confirm", application.pk)
    form = DishonestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.application_confirm_dishonest(actor=request.user, application=application)
        except KaowuError as error:
            _apply_error(form, error)
        else:
            messages.success(request, _("已确认失信人员报考告知，请核对报名信息后提交。"))
            return redirect("applications:confirm", application.pk)
    return render(request, "applications/dishonest.html", {"application": application, "form": form, "entry": entry})


# --- APP-6: the status page; APP-7: recall, withdraw, restart -----------------------------------------


def _rounds(application: Application) -> list[dict[str, Any]]:
    rounds: dict[int, list] = {}
    for review_step in selectors.review_history(application):
        rounds.setdefault(review_step.round, []).append(review_step)
    return [{"round": number, "steps": steps} for number, steps in sorted(rounds.items(), reverse=True)]


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    application = selectors.get_application_for(request.user, pk)
    batch = application.batch
    history = selectors.review_history(application)
    pending = history.filter(round=application.round, status=StepStatus.PENDING).first()
    decided = history.filter(status__in=[StepStatus.RETURNED, StepStatus.REJECTED]).order_by("-decided_at").first()
    editable = application.status in EDITABLE_STATES
    context = {
        "application": application,
        "status_label": selectors.status_label(application),
        "rounds": _rounds(application),
        "has_review": application.programme.review_stages.exists(),
        "pending": pending,
        "decided": decided,
        "windows": batch.windows.order_by("opens_at"),
        "review_closes": selectors.window_closes(batch, WindowAction.REVIEW),
        "pay_window": batch_window(batch, WindowAction.PAY),
        "next_url": _next_url(application) if editable else "",
        "missing": selectors.missing_steps(application) if editable else [],
        "can_recall": _can(application, Action.RECALL),
        "can_withdraw": _can(application, Action.WITHDRAW),
        "can_restart": editable and application.kind == ApplicationKind.RETAKE,
        "progress": _progress(application, ""),
        # PAY-1 … PAY-4: the order, and what a paid candidate may still do while its window is open.
        "live_order": payment_selectors.live_order_of(application),
        "can_change_site": application.status == Status.PAID and batch_is_open(batch, WindowAction.CHANGE_SITE),
        "can_refund": application.status == Status.PAID and batch_is_open(batch, WindowAction.REFUND),
    }
    return render(request, "applications/detail.html", context)


@login_required
@require_POST
def recall(request: HttpRequest, pk: int) -> HttpResponse:
    application = selectors.get_application_for(request.user, pk)
    try:
        services.application_recall(actor=request.user, application=application)
    except KaowuError as error:
        messages.error(request, error.message)
        return redirect("applications:detail", application.pk)
    messages.success(request, _("已撤回修改。请修改报名信息后重新提交，否则报名不会进入审核。"))
    return redirect("applications:confirm", application.pk)


@login_required
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """放弃报名, after a confirmation page: the application ends and its seats are released."""
    application = selectors.get_application_for(request.user, pk)
    form = WithdrawForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.application_withdraw(
                actor=request.user, application=application, reason=form.cleaned_data["reason"]
            )
        except KaowuError as error:
            _apply_error(form, error)
        else:
            messages.success(request, _("已放弃本次报名。报名时间内可以重新报名。"))
            return redirect("applications:detail", application.pk)
    return render(
        request,
        "applications/withdraw.html",
        {"application": application, "form": form, "allowed": _can(application, Action.WITHDRAW)},
    )


@login_required
def restart(request: HttpRequest, pk: int) -> HttpResponse:
    """重新报名 (seed 000): a retake candidate starts again as a new candidate, after a confirmation."""
    application = selectors.get_application_for(request.user, pk)
    form = RestartForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.application_restart_as_new(actor=request.user, application=application)
        except KaowuError as error:
            _apply_error(form, error)
        else:
            messages.success(request, _("您已改为新考生身份，请重新选择报考科目。"))
            return redirect(_next_url(selectors.get_application_for(request.user, pk)))
    passed = passed_subjects(application.candidate, application.programme, year=application.batch.year)
    return render(request, "applications/restart.html", {"application": application, "form": form, "passed": passed})


# --- APP-9: the whole record ------------------------------------------------------------------------


@login_required
def record(request: HttpRequest, pk: int) -> HttpResponse:
    application = selectors.get_application_for(request.user, pk)
    context = {
        "application": application,
        "status_label": selectors.status_label(application),
        "rounds": _rounds(application),
        "transitions": application.transitions.select_related("stage", "actor"),
        **_summary(application),
    }
    return render(request, "applications/record.html", context)
