"""Staff roles and their scope (OPS-1).

A staff member holds one or more ``StaffRole``s. Each role is held *at* an organisation and covers that
organisation and everything below it; a role may be narrowed to one programme. What a role lets its
holder see and do is decided in one place, ``kaowu.backoffice.permissions``.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kaowu.catalog.models import Organisation, Programme


class RoleKind(models.TextChoices):
    COMPANY_REVIEWER = "company_reviewer", _("企业审核员")
    REVIEW_POINT_REVIEWER = "review_point_reviewer", _("审核点审核员")
    PROVINCIAL_REVIEWER = "provincial_reviewer", _("省级审核员")
    NATIONAL_REVIEWER = "national_reviewer", _("全国审核员")
    PROGRAMME_ADMIN = "programme_admin", _("项目管理员")
    FINANCE = "finance", _("财务人员")
    SYSTEM_ADMIN = "system_admin", _("系统管理员")


class StaffRole(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("人员"), on_delete=models.CASCADE, related_name="staff_roles"
    )
    role = models.CharField(_("角色"), max_length=30, choices=RoleKind.choices)
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("所属机构"), on_delete=models.PROTECT, related_name="staff_roles"
    )
    programme = models.ForeignKey(
        Programme,
        verbose_name=_("限定项目"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="staff_roles",
        help_text=_("留空表示该机构范围内的全部项目。"),
    )
    granted_at = models.DateTimeField(_("授权时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("人员角色")
        verbose_name_plural = _("人员角色")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "organisation", "programme"], name="backoffice_role_unique"
            ),
        ]

    def __str__(self) -> str:
        scope = f"{self.organisation}" + (f" · {self.programme}" if self.programme_id else "")
        return f"{self.user} — {self.get_role_display()}（{scope}）"
