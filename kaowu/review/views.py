"""The reviewer workbench (REV-1, REV-2, REV-4) and the programme administrators' 失信 list import (APP-5)
and prior-pass entry (APP-2).

Reviewer pages need a staff member with a reviewer role (others get a 403 page, anonymous visitors the
login page); applications are fetched through ``kaowu.applications.selectors``, so one outside the
reviewer's scope is a 404. Every decision is one call of a ``kaowu.applications.services.review_*``
service, which checks the transition table, the review window, the scope and the on-site rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kaowu.accounts.selectors import find_candidate
from kaowu.applications import services as application_services
from kaowu.applications.models import Application, ReviewStep
from kaowu.applications.selectors import (
    find_for_on_site,
    get_application_for_reviewer,
    is_reviewer,
    review_history,
    review_queue,
    reviewable_applications,
)
from kaowu.applications.workflow import Action
from kaowu.backoffice.permissions import managed_programmes
from kaowu.core.errors import KaowuError
from kaowu.results.services import subject_pass_record

from . import services
from .forms import (
    BulkApproveForm,
    DecisionForm,
    DishonestImportForm,
    OnSiteLookupForm,
    QueueFilterForm,
    SubjectPassForm,
)
from .selectors import decidable_step, dishonest_entries_for, subject_passes_for

PAGE_SIZE = 50

DECIDE = {
    Action.APPROVE: application_services.review_approve,
    Action.RETURN: application_services.review_return,
    Action.REJECT: application_services.review_reject,
}
# Where a service's field error belongs on the decision form.
_DECISION_FIELDS = {"reason": "text"}


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "core/error.html", {"error": {"message": message, "code": "forbidden"}}, status=403)


def _render(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Render a workbench page with what its navigation offers this user."""
    context |= {
        "nav_reviewer": is_reviewer(request.user),
        "nav_manager": managed_programmes(request.user).exists(),
    }
    return render(request, template, context, status=status)


def reviewer_required(view):
    """Signed in, and holding a reviewer role (company, review point, province or nation)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_reviewer(request.user):
            return _forbidden(request, _("此页面仅供审核人员使用。如需审核权限，请联系系统管理员。"))
        return view(request, *args, **kwargs)

    return wrapped


def manager_required(view):
    """Signed in, and managing at least one programme (programme administrator or system administrator)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not managed_programmes(request.user).exists():
            return _forbidden(request, _("此页面仅供项目管理员使用。如需权限，请联系系统管理员。"))
        return view(request, *args, **kwargs)

    return wrapped


def _apply_error(form, error: KaowuError, fields: dict[str, str] | None = None) -> None:
    name = (fields or {}).get(error.field, error.field)
    form.add_error(name if name in form.fields else None, error.message)


# --- Queue and bulk approval (REV-1, REV-2) ------------------------------------------------------------


@reviewer_required
def queue(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET or None, user=request.user)
    form.is_valid()
    steps = (
        review_queue(request.user, form.filters())
        .select_related("application__region", "organisation")
        .prefetch_related("application__subjects__subject")
    )
    page = Paginator(steps, PAGE_SIZE).get_page(request.GET.get("page"))
    return _render(request, "review/queue.html", {"form": form, "page": page})


def _back_to_queue(request: HttpRequest, target: str) -> str:
    queue_url = reverse("review:queue")
    allowed = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    return target if allowed and target.startswith(queue_url) else queue_url


@reviewer_required
@require_POST
def bulk_approve(request: HttpRequest) -> HttpResponse:
    """批量通过 the checked applications; each refusal is reported with its reason, the rest go on."""
    form = BulkApproveForm(request.POST)
    back = _back_to_queue(request, request.POST.get("next", ""))
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(back)
    ids = form.cleaned_data["applications"]
    found = {a.pk: a for a in reviewable_applications(request.user).filter(pk__in=ids).order_by("submitted_at", "pk")}
    result = application_services.review_bulk_approve(actor=request.user, applications=found.values())
    if result.approved:
        messages.success(request, _("已审核通过 %(count)s 份报名。") % {"count": len(result.approved)})
    for pk, reason in result.refused.items():
        messages.warning(
            request, _("报名号 %(number)s 未通过：%(reason)s") % {"number": found[pk].number, "reason": reason}
        )
    unknown = len(ids) - len(found)
    if unknown:
        messages.warning(request, _("%(count)s 份报名没有找到，或不在您的审核范围内。") % {"count": unknown})
    return redirect(back)


# --- Detail and decision (REV-2) -----------------------------------------------------------------------


def _application_context(application: Application) -> dict:
    candidate = application.candidate
    return {
        "application": application,
        "candidate": candidate,
        "profile": candidate.candidate_profile,
        "has_photo": hasattr(candidate, "photo"),
        "subjects": application.subjects.select_related("subject", "sitting"),
    }


def _render_detail(request: HttpRequest, application: Application, form: DecisionForm, status: int = 200):
    candidate = application.candidate
    context = _application_context(application) | {
        "form": form,
        "step": decidable_step(request.user, application),
        "document_number": services.document_number_reveal(actor=request.user, application=application),
        "education_records": candidate.education_records.all(),
        "proofs": application.proofs.select_related("scan"),
        "scans": candidate.scans.all(),
        "history": review_history(application),
        "transitions": application.transitions.select_related("actor", "stage"),
    }
    return _render(request, "review/detail.html", context, status=status)


@reviewer_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole application for the reviewer, with the full ID number (the view is audited)."""
    application = get_application_for_reviewer(request.user, pk)
    return _render_detail(request, application, DecisionForm())


@reviewer_required
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    """通过 / 驳回修改 / 审核不通过, online (from the detail page) or on site (``on_site=1``)."""
    application = get_application_for_reviewer(request.user, pk)
    form = DecisionForm(request.POST)
    status = 400
    if form.is_valid():
        action, on_site = form.cleaned_data["action"], form.cleaned_data["on_site"]
        try:
            DECIDE[action](actor=request.user, application=application, reason=form.reason, on_site=on_site)
        except KaowuError as error:
            _apply_error(form, error, _DECISION_FIELDS)
            status = error.status
        else:
            messages.success(
                request,
                _("报名号 %(number)s：已%(action)s。") % {"number": application.number, "action": Action(action).label},
            )
            if on_site:
                return redirect(f"{reverse('review:on_site')}?{urlencode({'q': application.number})}")
            return redirect("review:queue")
    if form.cleaned_data.get("on_site"):
        lookup = OnSiteLookupForm({"q": application.number})
        return _render_on_site(request, lookup, {application.pk: form}, status=status)
    return _render_detail(request, application, form, status=status)


# --- On-site review (REV-4) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OnSiteCase:
    application: Application
    step: ReviewStep | None
    form: DecisionForm
    context: dict


def _render_on_site(
    request: HttpRequest, lookup: OnSiteLookupForm, forms: dict[int, DecisionForm] | None = None, status: int = 200
) -> HttpResponse:
    cases = []
    if lookup.is_valid():
        for application in find_for_on_site(request.user, lookup.cleaned_data["q"]):
            form = (forms or {}).get(application.pk) or DecisionForm()
            step = decidable_step(request.user, application)
            # The reviewer compares the ID card in hand with the full number; each reveal is audited.
            number = services.document_number_reveal(actor=request.user, application=application)
            context = _application_context(application) | {"document_number": number}
            cases.append(OnSiteCase(application, step, form, context))
    return _render(request, "review/on_site.html", {"lookup": lookup, "cases": cases}, status=status)


@reviewer_required
def on_site(request: HttpRequest) -> HttpResponse:
    """Find a candidate by 报名号 or ID number, check the originals and record the result."""
    return _render_on_site(request, OnSiteLookupForm(request.GET or None))


# --- 失信 list (APP-5) and prior passes (APP-2) --------------------------------------------------------


@manager_required
def dishonest(request: HttpRequest) -> HttpResponse:
    form = DishonestImportForm(request.POST or None, request.FILES or None, user=request.user)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = services.dishonest_list_import(
                actor=request.user, programme=form.cleaned_data["programme"], file=form.cleaned_data["file"]
            )
        except KaowuError as error:
            _apply_error(form, error)
    entries = Paginator(dishonest_entries_for(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return _render(request, "review/dishonest.html", {"form": form, "report": report, "entries": entries})


@manager_required
def passes(request: HttpRequest) -> HttpResponse:
    form = SubjectPassForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        candidate = find_candidate(real_name=data["real_name"], doc_number=data["doc_number"])
        if candidate is None or not candidate.is_candidate:
            form.add_error("doc_number", _("没有找到姓名和证件号码都一致的考生，请核对后重新输入。"))
        else:
            try:
                subject_pass_record(
                    actor=request.user,
                    candidate=candidate,
                    subject=data["subject"],
                    year=data["year"],
                    valid_until_year=data["valid_until_year"],
                    note=data["note"],
                )
            except KaowuError as error:
                _apply_error(form, error)
            else:
                messages.success(
                    request,
                    _("已录入 %(name)s 的已通过科目“%(subject)s”（%(year)s 年）。")
                    % {"name": candidate.real_name, "subject": data["subject"].name, "year": data["year"]},
                )
                return redirect("review:passes")
    rows = Paginator(subject_passes_for(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return _render(request, "review/passes.html", {"form": form, "rows": rows})
