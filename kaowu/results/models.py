"""Subject passes carried between years (APP-2).

Until score import exists, staff record a candidate's earlier passes by hand in the back office; later
the score import writes the same rows. ``kaowu.results.selectors.passed_subjects`` is the only reader.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kaowu.catalog.models import Subject


class SubjectPass(models.Model):
    candidate = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("考生"), on_delete=models.CASCADE, related_name="subject_passes"
    )
    subject = models.ForeignKey(Subject, verbose_name=_("科目"), on_delete=models.PROTECT, related_name="passes")
    year = models.PositiveSmallIntegerField(_("通过年度"))
    valid_until_year = models.PositiveSmallIntegerField(
        _("有效至年度"), null=True, blank=True, help_text=_("留空表示长期有效。")
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("录入人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("录入时间"), auto_now_add=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("已通过科目")
        verbose_name_plural = _("已通过科目")
        ordering = ["candidate", "subject"]
        constraints = [
            models.UniqueConstraint(fields=["candidate", "subject", "year"], name="results_pass_once"),
        ]

    def __str__(self) -> str:
        return f"{self.candidate} · {self.subject} · {self.year}"
