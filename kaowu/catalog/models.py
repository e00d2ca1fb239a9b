"""Programme configuration (CAT-1 … CAT-7): the data that makes five seed systems run on one code base.

An ``Organisation`` tree (national body → provincial body / review point → company) owns ``Programme``s.
A programme says which steps candidates walk (``flow``), which review chain applications pass
(``ReviewStage`` rows), and when payment happens. Each ``Batch`` (期 / 年度) has dated ``BatchWindow``s;
``kaowu.catalog.services.batch_is_open`` is the only window check.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kaowu.accounts.models import Degree, EducationLevel


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("省级")
    CITY = "city", _("地级")
    COUNTY = "county", _("县级")


class Region(models.Model):
    """An administrative division (GB/T 2260), loaded from the fixture ``regions.json``."""

    code = models.CharField(_("行政区划代码"), max_length=6, primary_key=True)
    name = models.CharField(_("名称"), max_length=50)
    level = models.CharField(_("级别"), max_length=10, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级区划"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def province_code(self) -> str:
        return self.code[:2] + "0000"


class OrganisationKind(models.TextChoices):
    NATIONAL = "national", _("全国性机构")
    PROVINCIAL = "provincial", _("省级机构")
    REVIEW_POINT = "review_point", _("审核点")
    COMPANY = "company", _("企业")


class Organisation(models.Model):
    """A body in the tree that owns programmes, reviews applications or employs practitioners.

    ``path`` (e.g. ``/1/7/31/``) is maintained on save, so "this organisation and everything below it"
    is one indexed ``startswith`` query; staff scopes are built on it.
    """

    name = models.CharField(_("名称"), max_length=100)
    short_name = models.CharField(_("简称"), max_length=30, blank=True)
    kind = models.CharField(_("类型"), max_length=20, choices=OrganisationKind.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级机构"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(_("层级路径"), max_length=255, editable=False, db_index=True)
    region = models.ForeignKey(
        Region, verbose_name=_("所在地区"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    address = models.CharField(_("地址"), max_length=200, blank=True)
    phone = models.CharField(_("咨询电话"), max_length=40, blank=True)
    office_hours = models.CharField(_("办公时间"), max_length=100, blank=True)
    uscc = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    in_preparation = models.BooleanField(_("筹建中"), default=False)

    class Meta:
        verbose_name = _("机构")
        verbose_name_plural = _("机构")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if self.pk is None:
            super().save(*args, **kwargs)  # the path needs the primary key
            kwargs.pop("force_insert", None)
        old_path, self.path = self.path, f"{self.parent.path if self.parent_id else '/'}{self.pk}/"
        super().save(*args, **kwargs)
        if old_path and old_path != self.path:
            # A moved organisation takes its whole subtree with it.
            for child in Organisation.objects.filter(path__startswith=old_path).exclude(pk=self.pk):
                Organisation.objects.filter(pk=child.pk).update(path=self.path + child.path[len(old_path) :])

    def clean(self) -> None:
        if self.pk and self.parent_id and self.parent.path.startswith(self.path):
            raise ValidationError({"parent": _("上级机构不能是本机构或其下级机构。")})

    def is_within(self, other: Organisation) -> bool:
        return self.path.startswith(other.path)


class ProgrammeKind(models.TextChoices):
    EXAM = "exam", _("考试报名")
    PRACTISING_REGISTRATION = "practising_registration", _("执业注册")


class FlowStep(models.TextChoices):
    """The steps an application can consist of; a programme's ``flow`` lists some of them in order."""

    PERSONAL = "personal", _("确认个人信息")
    REVIEW_POINT = "review_point", _("选择审核点")
    CANDIDATE_TYPE = "candidate_type", _("新考生/补考生")
    COMMITMENT = "commitment", _("阅读须知与承诺")
    SUBJECTS = "subjects", _("选择级别、专业与科目")
    SITE = "site", _("选择考区/考点")
    POSITION = "position", _("选择岗位")
    INVOICE = "invoice", _("发票信息")
    PRACTICE = "practice", _("执业记录与继续教育")
    PROOFS = "proofs", _("上传证明材料")
    CONFIRM = "confirm", _("确认并提交")


class PaymentStage(models.TextChoices):
    AFTER_REVIEW = "after_review", _("审核通过后缴费")
    BEFORE_REVIEW = "before_review", _("提交后即缴费（缴费后审核）")
    NO_REVIEW = "no_review", _("提交后缴费，无审核")
    ON_SITE = "on_site", _("现场审核时缴费")


class ResubmissionRestart(models.TextChoices):
    FIRST_LEVEL = "first_level", _("从第一级重新审核")
    REJECTING_LEVEL = "rejecting_level", _("从驳回的审核级别重新审核")


class Programme(models.Model):
    owner = models.ForeignKey(
        Organisation, verbose_name=_("主办机构"), on_delete=models.PROTECT, related_name="programmes"
    )
    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=30, choices=ProgrammeKind.choices)
    description = models.TextField(_("说明"), blank=True)
    flow = models.JSONField(_("报名步骤"), default=list, help_text=_("步骤代码的有序列表。"))
    payment_stage = models.CharField(_("缴费时机"), max_length=20, choices=PaymentStage.choices)
    resubmission_restart = models.CharField(
        _("驳回后重新提交的审核起点"),
        max_length=20,
        choices=ResubmissionRestart.choices,
        default=ResubmissionRestart.REJECTING_LEVEL,
    )
    allows_retake = models.BooleanField(_("有补考生（保留已通过科目）"), default=False)
    # PAY-1 / PAY-5: programmes without subjects charge one registration fee; a programme with a
    # membership fee lets the payer join instead, which waives its registration fees for that year.
    registration_fee_fen = models.PositiveIntegerField(
        _("注册/报名费（分）"), default=0, help_text=_("按科目收费的项目填 0；以分为单位。")
    )
    membership_fee_fen = models.PositiveIntegerField(
        _("个人会员费（分）"), default=0, help_text=_("0 表示不设会员；缴纳会费后免缴当年注册/报名费。")
    )
    order_expiry_minutes = models.PositiveIntegerField(
        _("订单支付时限（分钟）"), default=120, help_text=_("超时未支付的订单自动关闭并释放考位。")
    )
    consultation_phone = models.CharField(_("咨询电话"), max_length=40, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("考试/注册项目")
        verbose_name_plural = _("考试/注册项目")
        ordering = ["owner__path", "code"]

    def __str__(self) -> str:
        return self.name


class ReviewLevel(models.TextChoices):
    COMPANY = "company", _("企业审核")
    REVIEW_POINT = "review_point", _("审核点审核")
    PROVINCE = "province", _("省级审核")
    NATION = "nation", _("全国审核")


class VerificationMode(models.TextChoices):
    AUTO = "auto", _("自动核验")
    ONLINE = "online", _("线上审核")
    ON_SITE = "on_site", _("现场审核")


class ReviewStage(models.Model):
    """One level of a programme's review chain (CAT-7), in order of ``position``."""

    programme = models.ForeignKey(
        Programme, verbose_name=_("项目"), on_delete=models.CASCADE, related_name="review_stages"
    )
    position = models.PositiveSmallIntegerField(_("顺序"))
    level = models.CharField(_("审核级别"), max_length=20, choices=ReviewLevel.choices)
    mode = models.CharField(_("核验方式"), max_length=20, choices=VerificationMode.choices)

    class Meta:
        verbose_name = _("审核环节")
        verbose_name_plural = _("审核环节")
        ordering = ["programme", "position"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "position"], name="catalog_stage_unique_position"),
            models.UniqueConstraint(fields=["programme", "level"], name="catalog_stage_unique_level"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_level_display()}（{self.get_mode_display()}）"


class Batch(models.Model):
    """An exam batch / registration year (考试批次、期、年度) of a programme."""

    programme = models.ForeignKey(Programme, verbose_name=_("项目"), on_delete=models.PROTECT, related_name="batches")
    code = models.SlugField(_("代码"), max_length=40)
    name = models.CharField(_("名称"), max_length=120)
    year = models.PositiveSmallIntegerField(_("年度"), validators=[MinValueValidator(2000)])
    is_published = models.BooleanField(_("已发布"), default=False)
    copied_from = models.ForeignKey(
        "self", verbose_name=_("复制自"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("考试批次")
        verbose_name_plural = _("考试批次")
        ordering = ["programme", "-year", "code"]
        constraints = [models.UniqueConstraint(fields=["programme", "code"], name="catalog_batch_unique_code")]

    def __str__(self) -> str:
        return self.name


class WindowAction(models.TextChoices):
    REGISTER = "register", _("报名")
    MODIFY = "modify", _("修改报名信息")
    REVIEW = "review", _("审核")
    PAY = "pay", _("缴费")
    REFUND = "refund", _("退费")
    CHANGE_SITE = "change_site", _("更换考区/考点")
    TICKET = "ticket", _("打印准考证")
    EXAM = "exam", _("考试")
    SCORES = "scores", _("成绩发布")


class BatchWindow(models.Model):
    """When a candidate or staff action is open for a batch: ``opens_at`` ≤ now < ``closes_at``."""

    batch = models.ForeignKey(Batch, verbose_name=_("批次"), on_delete=models.CASCADE, related_name="windows")
    action = models.CharField(_("事项"), max_length=20, choices=WindowAction.choices)
    opens_at = models.DateTimeField(_("开始时间"))
    closes_at = models.DateTimeField(_("结束时间"))

    class Meta:
        verbose_name = _("时间安排")
        verbose_name_plural = _("时间安排")
        ordering = ["batch", "opens_at"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "action"], name="catalog_window_unique_action"),
            models.CheckConstraint(condition=Q(opens_at__lt=F("closes_at")), name="catalog_window_opens_before_close"),
        ]

    def __str__(self) -> str:
        opens, closes = timezone.localtime(self.opens_at), timezone.localtime(self.closes_at)
        return f"{self.get_action_display()} {opens:%Y-%m-%d %H:%M} – {closes:%Y-%m-%d %H:%M}"


class Subject(models.Model):
    programme = models.ForeignKey(Programme, verbose_name=_("项目"), on_delete=models.CASCADE, related_name="subjects")
    code = models.CharField(_("科目代码"), max_length=20)
    name = models.CharField(_("科目名称"), max_length=100)
    fee_fen = models.PositiveIntegerField(_("报名费（分）"), help_text=_("以分为单位，如 80 元填 8000。"))
    is_practical = models.BooleanField(_("实务/技能科目"), default=False)
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("科目")
        verbose_name_plural = _("科目")
        ordering = ["programme", "position", "code"]
        constraints = [models.UniqueConstraint(fields=["programme", "code"], name="catalog_subject_unique_code")]

    def __str__(self) -> str:
        return self.name


class Level(models.Model):
    """报考级别; its ``subjects`` are the subject set a candidate at this level chooses from."""

    programme = models.ForeignKey(Programme, verbose_name=_("项目"), on_delete=models.CASCADE, related_name="levels")
    code = models.CharField(_("级别代码"), max_length=20)
    name = models.CharField(_("级别名称"), max_length=100)
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    subjects = models.ManyToManyField(Subject, verbose_name=_("可报科目"), related_name="levels", blank=True)

    class Meta:
        verbose_name = _("级别")
        verbose_name_plural = _("级别")
        ordering = ["programme", "position", "code"]
        constraints = [models.UniqueConstraint(fields=["programme", "code"], name="catalog_level_unique_code")]

    def __str__(self) -> str:
        return self.name


class Specialty(models.Model):
    """报考专业; if it lists ``subjects`` they replace the level's subject set for this specialty."""

    level = models.ForeignKey(Level, verbose_name=_("级别"), on_delete=models.CASCADE, related_name="specialties")
    code = models.CharField(_("专业代码"), max_length=20)
    name = models.CharField(_("专业名称"), max_length=100)
    subjects = models.ManyToManyField(Subject, verbose_name=_("可报科目"), related_name="specialties", blank=True)

    class Meta:
        verbose_name = _("专业")
        verbose_name_plural = _("专业")
        ordering = ["level", "code"]
        constraints = [models.UniqueConstraint(fields=["level", "code"], name="catalog_specialty_unique_code")]

    def __str__(self) -> str:
        return self.name


class Sitting(models.Model):
    """场次: one time slot of a batch. A candidate takes at most one of the subjects offered at it."""

    batch = models.ForeignKey(Batch, verbose_name=_("批次"), on_delete=models.CASCADE, related_name="sittings")
    name = models.CharField(_("场次"), max_length=50)
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    subjects = models.ManyToManyField(Subject, verbose_name=_("本场科目"), related_name="sittings")

    class Meta:
        verbose_name = _("场次")
        verbose_name_plural = _("场次")
        ordering = ["batch", "starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(starts_at__lt=F("ends_at")), name="catalog_sitting_starts_before_end")
        ]

    def __str__(self) -> str:
        return f"{self.name} {timezone.localtime(self.starts_at):%Y-%m-%d %H:%M}"


class Site(models.Model):
    """考区/考点 of a batch, with a seat capacity per sitting (``SiteCapacity``)."""

    batch = models.ForeignKey(Batch, verbose_name=_("批次"), on_delete=models.CASCADE, related_name="sites")
    region = models.ForeignKey(Region, verbose_name=_("所在地区"), on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("名称"), max_length=100)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    review_point = models.ForeignKey(
        Organisation,
        verbose_name=_("现场审核点"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("报考点兼作审核点时填写（如事业单位招聘：考生到所选报考点现场审核）。"),
    )

    class Meta:
        verbose_name = _("考区/考点")
        verbose_name_plural = _("考区/考点")
        ordering = ["batch", "region", "name"]

    def __str__(self) -> str:
        return self.name


class SiteCapacity(models.Model):
    """Seats of a site at one sitting. ``held`` counts the live seat holds of applications; it is changed
    only by ``kaowu.applications.seats`` with a conditional UPDATE, and the database itself refuses
    ``held > capacity`` (see docs/adr/0005-seat-holding.md)."""

    site = models.ForeignKey(Site, verbose_name=_("考区/考点"), on_delete=models.CASCADE, related_name="capacities")
    sitting = models.ForeignKey(Sitting, verbose_name=_("场次"), on_delete=models.CASCADE, related_name="capacities")
    capacity = models.PositiveIntegerField(_("座位数"))
    held = models.PositiveIntegerField(_("已占座位"), default=0, editable=False)

    class Meta:
        verbose_name = _("考点容量")
        verbose_name_plural = _("考点容量")
        constraints = [
            models.UniqueConstraint(fields=["site", "sitting"], name="catalog_capacity_unique"),
            models.CheckConstraint(condition=Q(held__lte=F("capacity")), name="catalog_capacity_not_oversold"),
        ]

    def __str__(self) -> str:
        return f"{self.site} · {self.sitting}: {self.capacity}"

    def save(self, *args, **kwargs) -> None:
        # ``held`` is written only by the seat services' conditional UPDATEs; saving a capacity row loaded
        # earlier (the admin) must never write back a stale count.
        if self.pk is not None and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "held"
            ]
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.capacity is not None and self.capacity < self.held:
            raise ValidationError(
                {"capacity": _("已有 %(held)d 个座位被占用，座位数不能少于已占座位。") % {"held": self.held}}
            )

    @property
    def free(self) -> int:
        return max(self.capacity - self.held, 0)


class Position(models.Model):
    """岗位 of a recruitment exam batch."""

    batch = models.ForeignKey(Batch, verbose_name=_("批次"), on_delete=models.CASCADE, related_name="positions")
    code = models.CharField(_("岗位代码"), max_length=20)
    name = models.CharField(_("岗位名称"), max_length=100)
    unit = models.CharField(_("招聘单位"), max_length=100)
    posts = models.PositiveSmallIntegerField(_("招聘人数"), validators=[MinValueValidator(1)])
    requirements = models.TextField(_("岗位要求"), blank=True)

    class Meta:
        verbose_name = _("岗位")
        verbose_name_plural = _("岗位")
        ordering = ["batch", "code"]
        constraints = [models.UniqueConstraint(fields=["batch", "code"], name="catalog_position_unique_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class NoticeKind(models.TextChoices):
    USER_AGREEMENT = "user_agreement", _("用户协议")
    REGISTRATION_NOTICE = "registration_notice", _("注册须知")
    EXAM_INSTRUCTIONS = "exam_instructions", _("报考须知")
    COMMITMENT_LETTER = "commitment_letter", _("承诺书/告知承诺书")


class NoticeVersion(models.Model):
    """One published version of a notice (CAT-5). Never edited after publishing: a change is a new version,
    so what a candidate accepted stays exactly what they read. ``programme`` empty = platform-wide."""

    programme = models.ForeignKey(
        Programme, verbose_name=_("项目"), null=True, blank=True, on_delete=models.PROTECT, related_name="notices"
    )
    kind = models.CharField(_("类型"), max_length=30, choices=NoticeKind.choices)
    version = models.PositiveIntegerField(_("版本"))
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("正文"))
    published_at = models.DateTimeField(_("发布时间"))
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发布人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("须知/协议版本")
        verbose_name_plural = _("须知/协议版本")
        ordering = ["programme", "kind", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "kind", "version"], name="catalog_notice_unique_version"),
            models.UniqueConstraint(
                fields=["kind", "version"], condition=Q(programme__isnull=True), name="catalog_notice_unique_platform"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title}（第 {self.version} 版）"


class NoticeAcceptance(models.Model):
    """That a user accepted exactly this notice version, when and from where."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="notice_acceptances"
    )
    notice = models.ForeignKey(
        NoticeVersion, verbose_name=_("须知/协议版本"), on_delete=models.PROTECT, related_name="acceptances"
    )
    accepted_at = models.DateTimeField(_("同意时间"))
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)

    class Meta:
        verbose_name = _("须知同意记录")
        verbose_name_plural = _("须知同意记录")
        ordering = ["-accepted_at"]

    def __str__(self) -> str:
        return f"{self.user} · {self.notice}"


class EligibilityRule(models.Model):
    """Eligibility requirements for a level, or for one specialty of it (CAT-6). Empty fields mean no
    requirement; ``kaowu.catalog.services.eligibility_evaluate`` applies them."""

    level = models.ForeignKey(Level, verbose_name=_("级别"), on_delete=models.CASCADE, related_name="rules")
    specialty = models.ForeignKey(
        Specialty, verbose_name=_("专业"), null=True, blank=True, on_delete=models.CASCADE, related_name="rules"
    )
    min_education = models.CharField(_("最低学历"), max_length=30, choices=EducationLevel.choices, blank=True)
    min_degree = models.CharField(_("最低学位"), max_length=20, choices=Degree.choices, blank=True)
    allowed_majors = models.JSONField(
        _("限定专业"), default=list, blank=True, help_text=_("专业名称中包含任一关键词即符合；留空表示不限。")
    )
    min_work_years = models.PositiveSmallIntegerField(_("最少工作年限"), null=True, blank=True)
    full_time_students_need_certificate = models.BooleanField(_("全日制在校生须提供在校证明"), default=False)
    description = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("报考条件")
        verbose_name_plural = _("报考条件")

    def __str__(self) -> str:
        return self.description or f"{self.level} {self.specialty or ''}".strip()
