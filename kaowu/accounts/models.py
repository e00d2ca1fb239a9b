"""Candidate accounts: the person (User), their identity (CandidateProfile), education, photo and scans."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from kaowu.core import crypto
from kaowu.core.documents import DocumentType


class Gender(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class EducationLevel(models.TextChoices):
    # Ordered from highest to lowest; eligibility rules (issue 3) compare by this order.
    DOCTORATE = "doctorate", _("博士研究生")
    MASTER = "master", _("硕士研究生")
    BACHELOR = "bachelor", _("大学本科")
    JUNIOR_COLLEGE = "junior_college", _("大学专科")
    SECONDARY_VOCATIONAL = "secondary_vocational", _("中等专科")
    HIGH_SCHOOL = "high_school", _("高中")
    OTHER = "other", _("其他")


class Degree(models.TextChoices):
    DOCTOR = "doctor", _("博士")
    MASTER = "master", _("硕士")
    BACHELOR = "bachelor", _("学士")
    NONE = "none", _("无学位")


class StudyMode(models.TextChoices):
    FULL_TIME = "full_time", _("全日制")
    PART_TIME = "part_time", _("非全日制")


username_validator = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_]{3,29}$",
    _("用户名须为 4–30 位字母、数字或下划线，并以字母开头。"),
)


class User(AbstractUser):
    """A person who signs in: a candidate (with a CandidateProfile) or a staff member.

    Login accepts the user name, a document number or (later) a practitioner number; user names start
    with a letter so they can never be mistaken for a document number.
    """

    username = models.CharField(
        _("用户名"),
        max_length=30,
        unique=True,
        validators=[username_validator],
        error_messages={"unique": _("该用户名已被使用，请换一个。")},
    )
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    real_name = models.CharField(_("姓名"), max_length=64, blank=True)
    email = models.EmailField(_("电子邮箱"), blank=True)
    phone = models.CharField(_("手机号码"), max_length=11, unique=True, null=True, blank=True)

    objects = UserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        constraints = [models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique")]

    def get_full_name(self) -> str:
        return self.real_name or self.username

    def get_short_name(self) -> str:
        return self.real_name or self.username

    @property
    def is_candidate(self) -> bool:
        return hasattr(self, "candidate_profile")


class CandidateProfile(models.Model):
    """A candidate's identity. Identity fields are fixed at registration (after the second confirmation).

    The document number is stored encrypted (``doc_number_encrypted``), as a keyed hash for lookup and
    uniqueness (``doc_number_hash``) and masked for lists (``doc_number_masked``); never in clear.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="candidate_profile", primary_key=True)
    doc_type = models.CharField(_("证件类型"), max_length=20, choices=DocumentType.choices)
    doc_number_encrypted = models.TextField(editable=False)
    doc_number_hash = models.CharField(max_length=64, unique=True, editable=False)
    doc_number_masked = models.CharField(_("证件号码"), max_length=40, editable=False)
    gender = models.CharField(_("性别"), max_length=1, choices=Gender.choices)
    birth_date = models.DateField(_("出生日期"))
    identity_confirmed_at = models.DateTimeField(_("身份二次确认时间"))

    address = models.CharField(_("通讯地址"), max_length=200, blank=True)
    postcode = models.CharField(_("邮政编码"), max_length=6, blank=True)
    work_unit = models.CharField(_("工作单位"), max_length=100, blank=True)

    security_question = models.CharField(_("密码找回问题"), max_length=100)
    security_answer_hash = models.CharField(max_length=128, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("考生信息")
        verbose_name_plural = _("考生信息")

    def __str__(self) -> str:
        return f"{self.user.real_name} {self.doc_number_masked}"

    @property
    def doc_number(self) -> str:
        """The document number in clear: show it only to its owner or to staff allowed to see it."""
        return crypto.decrypt(self.doc_number_encrypted)


class EducationRecord(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="education_records")
    level = models.CharField(_("学历"), max_length=30, choices=EducationLevel.choices)
    degree = models.CharField(_("学位"), max_length=20, choices=Degree.choices)
    school = models.CharField(_("毕业院校"), max_length=100)
    major = models.CharField(_("所学专业"), max_length=100)
    graduated_on = models.DateField(_("毕业时间"))
    study_mode = models.CharField(_("学习形式"), max_length=20, choices=StudyMode.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("学历学位")
        verbose_name_plural = _("学历学位")
        ordering = ["-graduated_on", "-id"]

    def __str__(self) -> str:
        return f"{self.get_level_display()} {self.school} {self.major}"


def _private_name(prefix: str, extension: str) -> str:
    # Random names: a file name must never reveal whose photo or scan it is.
    return f"{prefix}/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}.{extension}"


def photo_upload_to(instance: Photo, filename: str) -> str:
    return _private_name("photos", "jpg")


def scan_upload_to(instance: Scan, filename: str) -> str:
    extension = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}[instance.content_type]
    return _private_name("scans", extension)


class PhotoBackground(models.TextChoices):
    RED = "red", _("红色")
    WHITE = "white", _("白色")
    BLUE = "blue", _("蓝色")


class Photo(models.Model):
    """A candidate's standard ID photo (ACC-7), produced by Kaowu from the upload after every check passed.

    Only the standardised JPEG is kept; the upload itself is discarded (data minimisation).
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="photo")
    image = models.FileField(upload_to=photo_upload_to)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    background = models.CharField(_("背景颜色"), max_length=10, choices=PhotoBackground.choices)
    source_width = models.PositiveIntegerField()
    source_height = models.PositiveIntegerField()
    source_bytes = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("证件照")
        verbose_name_plural = _("证件照")

    def __str__(self) -> str:
        return f"{self.user} {self.width}×{self.height}"


class ScanKind(models.TextChoices):
    ID_FRONT = "id_front", _("身份证人像面")
    ID_BACK = "id_back", _("身份证国徽面")
    ID_BOTH = "id_both", _("身份证正反面（合并）")
    DIPLOMA = "diploma", _("学历证书")
    DEGREE = "degree", _("学位证书")
    OTHER = "other", _("其他证明材料")


class Scan(models.Model):
    """An uploaded scan (ACC-8): stored outside the web root, served only to its owner and allowed staff."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="scans")
    kind = models.CharField(_("材料类型"), max_length=20, choices=ScanKind.choices)
    file = models.FileField(upload_to=scan_upload_to)
    content_type = models.CharField(max_length=50)
    size_bytes = models.PositiveIntegerField()
    original_name = models.CharField(_("原文件名"), max_length=200)
    description = models.CharField(_("说明"), max_length=100, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("扫描件")
        verbose_name_plural = _("扫描件")
        ordering = ["kind", "-uploaded_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.original_name}"
