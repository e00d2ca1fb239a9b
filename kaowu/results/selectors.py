"""Reads of results: which subjects a candidate has already passed (APP-2)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from kaowu.catalog.models import Programme, Subject

from .models import SubjectPass


def passed_subjects(candidate, programme: Programme, *, year: int) -> QuerySet[Subject]:
    """Subjects of ``programme`` the candidate passed and may carry into an exam held in ``year``."""
    passes = SubjectPass.objects.filter(candidate=candidate, subject__programme=programme, year__lt=year).filter(
        Q(valid_until_year__isnull=True) | Q(valid_until_year__gte=year)
    )
    return Subject.objects.filter(pk__in=passes.values("subject_id")).order_by("position", "code")
