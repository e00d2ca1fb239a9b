"""Writes of results. For now: staff record an earlier pass by hand (APP-2), audited."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from kaowu.catalog.models import Subject
from kaowu.core.audit import audit_record
from kaowu.core.errors import KaowuError

from .models import SubjectPass


def subject_pass_record(
    *, actor: Any, candidate: Any, subject: Subject, year: int, valid_until_year: int | None = None, note: str = ""
) -> SubjectPass:
    """Record that ``candidate`` passed ``subject`` in ``year``. Refuses a duplicate or an impossible span."""
    if valid_until_year is not None and valid_until_year < year:
        raise KaowuError("results.pass_span", _("有效至年度不能早于通过年度。"), field="valid_until_year")
    try:
        with transaction.atomic():
            row = SubjectPass.objects.create(
                candidate=candidate,
                subject=subject,
                year=year,
                valid_until_year=valid_until_year,
                recorded_by=actor,
                note=note,
            )
            audit_record(
                actor=actor,
                action="results.pass.record",
                obj=row,
                after={"candidate": candidate.pk, "subject": subject.code, "year": year},
            )
    except IntegrityError:
        raise KaowuError("results.pass_exists", _("该考生该年度的此科目合格记录已存在。"), field="subject") from None
    return row
