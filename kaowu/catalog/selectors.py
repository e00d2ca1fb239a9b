"""Reads of programme configuration: current notices, subject sets, the review chain, open batches.

The window check itself (``batch_is_open``) lives in ``services.py``: it is the gate every candidate
action passes, and keeping it beside the services keeps it the only one.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import (
    Batch,
    BatchWindow,
    EligibilityRule,
    Level,
    NoticeVersion,
    Programme,
    ResubmissionRestart,
    ReviewStage,
    Specialty,
    Subject,
    WindowAction,
)


def batch_window(batch: Batch, action: str) -> BatchWindow | None:
    """The batch's window for ``action``, if it has one. Reads ``batch.windows.all()``, so a caller that
    prefetched the windows (the application services lock with them) costs no query."""
    return next((window for window in batch.windows.all() if window.action == action), None)


def notice_current(programme: Programme | None, kind: str) -> NoticeVersion | None:
    """The latest published version of a notice; ``programme=None`` means the platform-wide one."""
    return NoticeVersion.objects.filter(programme=programme, kind=kind).order_by("-version").first()


def subjects_for(level: Level, specialty: Specialty | None = None) -> QuerySet[Subject]:
    """The subjects a candidate at ``level`` (and ``specialty``) chooses from.

    A specialty that lists subjects replaces the level's set; one that lists none uses the level's.
    """
    if specialty is not None:
        if specialty.level_id != level.pk:
            raise ValueError(f"specialty {specialty.pk} does not belong to level {level.pk}")
        if specialty.subjects.exists():
            return specialty.subjects.all()
    return level.subjects.all()


def eligibility_rules_for(level: Level, specialty: Specialty | None = None) -> QuerySet[EligibilityRule]:
    """The rules that apply to a candidate at ``level`` / ``specialty``: the level's general rules
    (no specialty) plus the specialty's own. Pass them to ``services.eligibility_evaluate``."""
    condition = Q(specialty__isnull=True)
    if specialty is not None:
        condition |= Q(specialty=specialty)
    return EligibilityRule.objects.filter(condition, level=level).order_by("pk")


def review_chain(programme: Programme) -> list[ReviewStage]:
    """The programme's review stages in order (CAT-7); empty for a programme without review."""
    return list(ReviewStage.objects.filter(programme=programme).order_by("position"))


def next_review_stage(programme: Programme, after: ReviewStage | None) -> ReviewStage | None:
    """The stage after ``after`` (``None`` → the first stage); ``None`` when ``after`` was the last."""
    stages = ReviewStage.objects.filter(programme=programme).order_by("position")
    if after is not None:
        if after.programme_id != programme.pk:
            raise ValueError(f"review stage {after.pk} belongs to another programme")
        stages = stages.filter(position__gt=after.position)
    return stages.first()


def restart_stage_after_rejection(programme: Programme, rejected_at: ReviewStage) -> ReviewStage:
    """Where a resubmitted application starts again after ``rejected_at`` turned it down.

    ``FIRST_LEVEL``: at the first stage (seed 000: after a national rejection the province reviews the
    resubmission again); ``REJECTING_LEVEL``: at the stage that rejected it.
    """
    if rejected_at.programme_id != programme.pk:
        raise ValueError(f"review stage {rejected_at.pk} belongs to another programme")
    if programme.resubmission_restart == ResubmissionRestart.FIRST_LEVEL:
        return ReviewStage.objects.filter(programme=programme).order_by("position").first() or rejected_at
    return rejected_at


def open_batches(at: datetime | None = None) -> QuerySet[Batch]:
    """Published batches of active programmes whose 报名 window contains ``at`` (default: now).

    Same rule as ``services.batch_is_open``: ``opens_at <= at < closes_at``.
    """
    at = at or timezone.now()
    return (
        Batch.objects.filter(
            is_published=True,
            programme__is_active=True,
            windows__action=WindowAction.REGISTER,
            windows__opens_at__lte=at,
            windows__closes_at__gt=at,
        )
        .select_related("programme")
        .order_by("programme__code", "-year", "code")
    )
