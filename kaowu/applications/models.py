"""Applications (报名), their review steps, seat holds, proofs and the dishonest-person list.

An ``Application`` is one candidate's registration for one batch. What the candidate chose is stored on
it and in ``ApplicationSubject`` lines; where it stands is ``status`` (changed only through
``kaowu.applications.workflow``) plus its ``ReviewStep`` rows, one per review level and submission
round. ``SeatHold`` rows, counted in ``SiteCapacity.held``, keep a seat for it at each sitting.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kaowu.accounts.models import Scan
from kaowu.catalog.models import (
    Batch,
    Level,
    NoticeAcceptance,
    Organisation,
    Position,
    Programme,
    Region,
    ReviewStage,
    Site,
    SiteCapacity,
    Sitting,
    Specialty,
    Subject,
    VerificationMode,
)

from .workflow import LIVE_STATES, Status


class ApplicationKind(models.TextChoices):
    NEW = "new", _("新考生")
    RETAKE = "retake", _("补考生")


class InvoiceKind(models.TextChoices):
    NONE = "", _("不需要发票")
    PERSONAL = "personal", _("个人")
    COMPANY = "company", _("企业")


class Application(models.Model):
    number = models.CharField(_("报名号"), max_length=20, unique=True, null=True, blank=True)
    candidate = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("考生"), on_delete=models.PROTECT, related_name="applications"
    )
    batch = models.ForeignKey(Batch, verbose_name=_("批次"), on_delete=models.PROTECT, related_name="applications")
    kind = models.CharField(_("报考类型"), max_length=10, choices=ApplicationKind.choices, default=ApplicationKind.NEW)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    completed_steps = models.JSONField(_("已完成步骤"), default=list, blank=True)

    region = models.ForeignKey(
        Region, verbose_name=_("报考地区"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    review_point = models.ForeignKey(
        Organisation, verbose_name=_("审核点"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    company = models.ForeignKey(
        Organisation, verbose_name=_("所在企业"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    level = models.ForeignKey(
        Level, verbose_name=_("报考级别"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    specialty = models.ForeignKey(
        Specialty, verbose_name=_("报考专业"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    site = models.ForeignKey(
        Site, verbose_name=_("考区/考点"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    position = models.ForeignKey(
        Position, verbose_name=_("报考岗位"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    work_years = models.PositiveSmallIntegerField(_("专业工作年限"), null=True, blank=True)
    is_full_time_student = models.BooleanField(_("全日制在校生"), default=False)

    invoice_kind = models.CharField(_("发票类型"), max_length=10, choices=InvoiceKind.choices, blank=True)
    invoice_title = models.CharField(_("发票抬头"), max_length=100, blank=True)
    invoice_uscc = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)

    eligibility_status = models.CharField(_("报考条件核验"), max_length=20, blank=True)
    eligibility_reasons = models.JSONField(_("核验说明"), default=list, blank=True)
    verification_mode = models.CharField(_("资格核验方式"), max_length=20, choices=VerificationMode.choices, blank=True)
    verification_reasons = models.JSONField(_("核验方式说明"), default=list, blank=True)
    accepted_notices = models.ManyToManyField(
        NoticeAcceptance, verbose_name=_("已同意的须知与承诺书"), blank=True, related_name="+"
    )
    is_dishonest = models.BooleanField(_("失信人员"), default=False)
    dishonest_confirmed_at = models.DateTimeField(_("失信告知确认时间"), null=True, blank=True)

    current_stage = models.ForeignKey(
        ReviewStage, verbose_name=_("当前审核环节"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    round = models.PositiveSmallIntegerField(_("提交次数"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("报名")
        verbose_name_plural = _("报名")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One live application per candidate and batch, even under a double click (APP-1).
            models.UniqueConstraint(
                fields=["candidate", "batch"],
                condition=Q(status__in=sorted(LIVE_STATES)),
                name="applications_one_live_per_batch",
            ),
        ]
        indexes = [models.Index(fields=["batch", "status"])]

    def __str__(self) -> str:
        return f"{self.number or self.pk} {self.batch}"

    @property
    def programme(self) -> Programme:
        return self.batch.programme

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATES


class ApplicationSubject(models.Model):
    """A subject the application registers (and, later, pays) for, at its sitting."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="subjects")
    subject = models.ForeignKey(Subject, verbose_name=_("科目"), on_delete=models.PROTECT, related_name="+")
    sitting = models.ForeignKey(
        Sitting, verbose_name=_("场次"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("报考科目")
        verbose_name_plural = _("报考科目")
        ordering = ["subject__position", "subject__code"]
        constraints = [
            models.UniqueConstraint(fields=["application", "subject"], name="applications_subject_once"),
        ]

    def __str__(self) -> str:
        return str(self.subject)


class SeatHold(models.Model):
    """A seat kept for an application at one site and sitting; counted in ``SiteCapacity.held``."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="seat_holds")
    capacity = models.ForeignKey(SiteCapacity, on_delete=models.PROTECT, related_name="holds")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("座位占用")
        verbose_name_plural = _("座位占用")
        constraints = [
            models.UniqueConstraint(fields=["application", "capacity"], name="applications_seat_hold_once"),
        ]

    def __str__(self) -> str:
        return f"{self.application} · {self.capacity}"


class StepStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    APPROVED = "approved", _("通过")
    RETURNED = "returned", _("驳回修改")
    REJECTED = "rejected", _("不通过")
    CANCELLED = "cancelled", _("已撤回")


class ReviewStep(models.Model):
    """One review level's decision on one submission round of an application (REV-1 … REV-4).

    ``organisation`` is the body responsible at this level (the chosen review point, the province's body,
    the candidate's company, the national body); a reviewer's scope is checked against it. ``mode`` is
    how this round is verified: the stage's mode, or, for an ``auto`` stage, the verifier's outcome.
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="review_steps")
    stage = models.ForeignKey(ReviewStage, verbose_name=_("审核环节"), on_delete=models.PROTECT, related_name="+")
    round = models.PositiveSmallIntegerField(_("提交次数"))
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("审核机构"), on_delete=models.PROTECT, related_name="review_steps"
    )
    mode = models.CharField(_("核验方式"), max_length=20, choices=VerificationMode.choices)
    status = models.CharField(
        _("结果"), max_length=20, choices=StepStatus.choices, default=StepStatus.PENDING, db_index=True
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reason = models.TextField(_("审核意见"), blank=True)
    created_at = models.DateTimeField(_("送审时间"), auto_now_add=True)
    decided_at = models.DateTimeField(_("审核时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("审核记录")
        verbose_name_plural = _("审核记录")
        ordering = ["application", "round", "stage__position"]
        constraints = [
            models.UniqueConstraint(fields=["application", "round", "stage"], name="applications_step_once"),
        ]

    def __str__(self) -> str:
        return f"{self.application} · {self.stage.get_level_display()} · {self.get_status_display()}"


class Transition(models.Model):
    """The application's own transition log (REV-6): every status change, by whom, why, from where.

    The candidate's status page and the reviewers' history are read from it; ``AuditEntry`` rows are
    written beside it for the platform-wide trail.
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="transitions")
    action = models.CharField(_("操作"), max_length=20)
    from_status = models.CharField(_("原状态"), max_length=20, choices=Status.choices)
    to_status = models.CharField(_("新状态"), max_length=20, choices=Status.choices)
    stage = models.ForeignKey(
        ReviewStage, verbose_name=_("审核环节"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(_("原因"), blank=True)
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("状态变更")
        verbose_name_plural = _("状态变更")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.application} {self.from_status} → {self.to_status}"


class Proof(models.Model):
    """A scan the candidate attached to the application as proof (在校证明, 学历证书 …)."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="proofs")
    scan = models.ForeignKey(Scan, verbose_name=_("扫描件"), on_delete=models.PROTECT, related_name="+")
    attached_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("证明材料")
        verbose_name_plural = _("证明材料")
        constraints = [models.UniqueConstraint(fields=["application", "scan"], name="applications_proof_once")]

    def __str__(self) -> str:
        return f"{self.application} · {self.scan}"


class DishonestEntry(models.Model):
    """One person on a programme's 失信 list (APP-5), matched by the keyed hash of the ID number."""

    programme = models.ForeignKey(
        Programme, verbose_name=_("项目"), on_delete=models.CASCADE, related_name="dishonest_entries"
    )
    document_hash = models.CharField(_("证件号码摘要"), max_length=64, db_index=True)
    document_masked = models.CharField(_("证件号码"), max_length=32)
    name = models.CharField(_("姓名"), max_length=50)
    reason = models.CharField(_("失信情形"), max_length=200, blank=True)
    valid_until = models.DateField(_("有效期至"), null=True, blank=True)
    imported_at = models.DateTimeField(_("导入时间"), auto_now_add=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("导入人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("失信人员")
        verbose_name_plural = _("失信人员名单")
        constraints = [
            models.UniqueConstraint(fields=["programme", "document_hash"], name="applications_dishonest_once"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.document_masked}"
