"""Reads for the reviewer workbench, built on ``kaowu.applications.selectors`` (which owns review scope)."""

from __future__ import annotations

from django.db.models import QuerySet

from kaowu.applications.models import Application, DishonestEntry, ReviewStep, StepStatus
from kaowu.applications.selectors import can_review, review_history
from kaowu.applications.workflow import Status
from kaowu.backoffice.permissions import REVIEWER_ROLES, managed_programmes, programmes_for
from kaowu.catalog.models import Batch, Subject
from kaowu.results.models import SubjectPass


def decidable_step(user, application: Application) -> ReviewStep | None:
    """The application's pending step at its current level, if ``user`` may decide it now."""
    if application.status != Status.UNDER_REVIEW or application.current_stage_id is None:
        return None
    step = (
        review_history(application)
        .filter(round=application.round, stage_id=application.current_stage_id, status=StepStatus.PENDING)
        .first()
    )
    if step is None or not can_review(user, step):
        return None
    return step


def reviewer_batches(user) -> QuerySet[Batch]:
    """Batches of the programmes the user reviews (for the queue's batch filter)."""
    programmes = programmes_for(user, roles=REVIEWER_ROLES)
    return Batch.objects.filter(programme__in=programmes).select_related("programme").order_by("-year", "name")


def reviewer_subjects(user) -> QuerySet[Subject]:
    programmes = programmes_for(user, roles=REVIEWER_ROLES)
    return (
        Subject.objects.filter(programme__in=programmes)
        .select_related("programme")
        .order_by("programme__name", "position", "code")
    )


def dishonest_entries_for(user) -> QuerySet[DishonestEntry]:
    """失信 list entries of the programmes the user manages (masked numbers only)."""
    return (
        DishonestEntry.objects.filter(programme__in=managed_programmes(user))
        .select_related("programme")
        .order_by("programme__name", "-imported_at", "pk")
    )


def subject_passes_for(user) -> QuerySet[SubjectPass]:
    """Recorded passes of subjects of the programmes the user manages, newest first."""
    return (
        SubjectPass.objects.filter(subject__programme__in=managed_programmes(user))
        .select_related("candidate__candidate_profile", "subject__programme", "recorded_by")
        .order_by("-recorded_at", "-pk")
    )
