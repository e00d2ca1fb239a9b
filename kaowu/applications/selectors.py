"""Reads of applications, with the permission-checking fetchers views use.

Candidates see only their own applications; reviewers see an application once it has reached a review
step in their scope: their role's level matches the step's level and the step's responsible
organisation lies within the organisation their role is held at (and the role's programme, if narrowed).
Fetchers raise ``Http404`` otherwise, so a guessed URL reveals nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kaowu.accounts.selectors import document_number_hash
from kaowu.backoffice.models import RoleKind
from kaowu.backoffice.permissions import roles_of
from kaowu.catalog.models import Batch, FlowStep, Programme, ReviewLevel
from kaowu.catalog.selectors import batch_window, open_batches

from .models import Application, DishonestEntry, ReviewStep, StepStatus
from .workflow import LIVE_STATES, Status

LEVEL_OF_ROLE = {
    RoleKind.COMPANY_REVIEWER: ReviewLevel.COMPANY,
    RoleKind.REVIEW_POINT_REVIEWER: ReviewLevel.REVIEW_POINT,
    RoleKind.PROVINCIAL_REVIEWER: ReviewLevel.PROVINCE,
    RoleKind.NATIONAL_REVIEWER: ReviewLevel.NATION,
}


# --- Candidate side --------------------------------------------------------------------------------


def get_application_for(user, pk: int) -> Application:
    """The candidate's own application ``pk`` (Http404 for anyone else's)."""
    # Only the batch and programme are joined: wider joins cost PostgreSQL more to plan than to run
    # (bench/README.md), and pages load the few other relations they show.
    application = (
        Application.objects.select_related("batch__programme")
        .filter(pk=pk, candidate_id=getattr(user, "pk", None))
        .first()
    )
    if application is None:
        raise Http404
    return application


def missing_steps(application: Application) -> list[str]:
    """The programme's flow steps the application has not completed yet, in flow order."""
    done = set(application.completed_steps)
    return [s for s in application.programme.flow if s != FlowStep.CONFIRM and s not in done]


@dataclass(frozen=True)
class BatchEntry:
    """One row of "可报考试" (APP-1): a batch and the candidate's application for it, if any."""

    batch: Batch
    application: Application | None

    @property
    def status_label(self) -> str:
        if self.application is None:
            return str(_("未报考"))
        return status_label(self.application)


def status_label(application: Application) -> str:
    """The candidate-facing status: 待审核 says at which level and how (线上 / 现场)."""
    if application.status == Status.UNDER_REVIEW and application.current_stage_id:
        step = application.review_steps.filter(round=application.round, status=StepStatus.PENDING).first()
        if step is not None:
            how = _("待现场审核") if step.mode == "on_site" else _("待审核")
            return f"{how}（{step.stage.get_level_display()}）"
    return str(Status(application.status).label)


def batch_overview_for(user, at: datetime | None = None) -> list[BatchEntry]:
    """Open batches plus every batch the candidate has an application in, newest first."""
    applications = {
        a.batch_id: a
        for a in Application.objects.filter(candidate=user)
        .select_related("batch__programme", "current_stage")
        .order_by("created_at", "id")
    }  # the latest application per batch wins
    batches = {b.pk: b for b in open_batches(at)}
    batches.update({a.batch_id: a.batch for a in applications.values()})
    ordered = sorted(batches.values(), key=lambda b: (-b.year, b.programme.code, b.code))
    return [BatchEntry(batch=b, application=applications.get(b.pk)) for b in ordered]


def live_application(user, batch: Batch) -> Application | None:
    return Application.objects.filter(candidate=user, batch=batch, status__in=LIVE_STATES).first()


def dishonest_entry_for(programme: Programme, user) -> DishonestEntry | None:
    """The candidate's entry on the programme's 失信 list, if listed and still valid."""
    profile = getattr(user, "candidate_profile", None)
    if profile is None:
        return None
    today = timezone.localdate()
    return (
        DishonestEntry.objects.filter(programme=programme, document_hash=profile.doc_number_hash)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .first()
    )


# --- Reviewer side ---------------------------------------------------------------------------------


def review_scope(user) -> Q:
    """A ``ReviewStep`` filter for the steps ``user`` may decide (empty for non-reviewers)."""
    condition = Q(pk__in=[])
    for role in roles_of(user):
        level = LEVEL_OF_ROLE.get(role.role)
        if level is None:
            continue
        scope = Q(stage__level=level, organisation__path__startswith=role.organisation.path)
        if role.programme_id:
            scope &= Q(application__batch__programme_id=role.programme_id)
        condition |= scope
    return condition


def can_review(user, step: ReviewStep) -> bool:
    return ReviewStep.objects.filter(review_scope(user), pk=step.pk).exists()


def is_reviewer(user) -> bool:
    return any(r.role in LEVEL_OF_ROLE for r in roles_of(user))


def reviewable_applications(user) -> QuerySet[Application]:
    """Applications that reached a review step in the user's scope, in any round and state."""
    steps = ReviewStep.objects.filter(review_scope(user), application=OuterRef("pk"))
    return Application.objects.filter(Exists(steps))


def get_application_for_reviewer(user, pk: int) -> Application:
    application = (
        reviewable_applications(user)
        .select_related("batch__programme", "candidate__candidate_profile", "current_stage", "level", "specialty")
        .filter(pk=pk)
        .first()
    )
    if application is None:
        raise Http404
    return application


@dataclass(frozen=True)
class QueueFilters:
    """Filters of the review queue (REV-1); empty values mean "any"."""

    status: str = "pending"  # pending | decided | all
    batch: int | None = None
    level: str = ""
    region: str = ""  # a region code prefix (province "32", city "3201")
    subject: int | None = None
    mode: str = ""  # online | on_site
    dishonest: bool = False
    needs_proof: bool = False
    search: str = ""  # name, 报名号, ID number or phone


def review_queue(user, filters: QueueFilters) -> QuerySet[ReviewStep]:
    """The user's review steps matching ``filters``, oldest waiting first."""
    steps = ReviewStep.objects.filter(review_scope(user)).select_related(
        "application__candidate__candidate_profile", "application__batch", "application__level", "stage"
    )
    if filters.status == "pending":
        steps = steps.filter(status=StepStatus.PENDING, application__status=Status.UNDER_REVIEW)
    elif filters.status == "decided":
        steps = steps.exclude(status=StepStatus.PENDING)
    if filters.batch:
        steps = steps.filter(application__batch_id=filters.batch)
    if filters.level:
        steps = steps.filter(stage__level=filters.level)
    if filters.region:
        steps = steps.filter(application__region__code__startswith=filters.region)
    if filters.subject:
        steps = steps.filter(application__subjects__subject_id=filters.subject)
    if filters.mode:
        steps = steps.filter(mode=filters.mode)
    if filters.dishonest:
        steps = steps.filter(application__is_dishonest=True)
    if filters.needs_proof:
        steps = steps.filter(application__eligibility_status="needs_proof")
    if filters.search.strip():
        steps = steps.filter(_search(filters.search.strip()))
    return steps.distinct().order_by("created_at", "pk")


def _search(term: str) -> Q:
    """Exact 报名号, exact ID number (by its keyed hash), exact phone, or a name fragment."""
    condition = Q(application__number=term) | Q(application__candidate__real_name__contains=term)
    condition |= Q(application__candidate__candidate_profile__doc_number_hash=document_number_hash(term))
    condition |= Q(application__candidate__phone=term)
    return condition


def find_for_on_site(user, identifier: str) -> list[Application]:
    """REV-4: the applications in the user's scope whose 报名号 or ID number is ``identifier``."""
    identifier = identifier.strip()
    if not identifier:
        return []
    by_number = Q(number=identifier)
    by_document = Q(candidate__candidate_profile__doc_number_hash=document_number_hash(identifier))
    return list(
        reviewable_applications(user)
        .filter(by_number | by_document)
        .select_related("batch__programme", "candidate__candidate_profile")
        .order_by("-created_at")
    )


def review_history(application: Application) -> QuerySet[ReviewStep]:
    return application.review_steps.select_related("stage", "organisation", "reviewer").order_by(
        "round", "stage__position", "pk"
    )


def window_closes(batch: Batch, action: str) -> datetime | None:
    window = batch_window(batch, action)
    return window.closes_at if window else None
