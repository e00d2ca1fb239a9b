"""Every write to staff roles (OPS-1).

Granting and revoking roles is a system administrator's job. ``actor=None`` means the system itself
(management commands such as ``seed_demo``); every other actor must be a system administrator.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from kaowu.catalog.models import Organisation, OrganisationKind, Programme
from kaowu.core.audit import audit_record
from kaowu.core.errors import KaowuError

from .models import RoleKind, StaffRole
from .permissions import is_system_admin

# Reviewer roles review at one level of the organisation tree, so they are held at that kind of body.
ROLE_ORGANISATION_KIND: dict[str, str] = {
    RoleKind.COMPANY_REVIEWER: OrganisationKind.COMPANY,
    RoleKind.REVIEW_POINT_REVIEWER: OrganisationKind.REVIEW_POINT,
    RoleKind.PROVINCIAL_REVIEWER: OrganisationKind.PROVINCIAL,
    RoleKind.NATIONAL_REVIEWER: OrganisationKind.NATIONAL,
}


def _check_actor(actor: Any) -> None:
    if actor is not None and not is_system_admin(actor):
        raise KaowuError(
            "backoffice.role.forbidden",
            _("只有系统管理员可以授予或撤销人员角色。如需调整权限，请联系系统管理员。"),
            status=403,
        )


def _role_audit(role: StaffRole) -> dict[str, Any]:
    return {
        "user": role.user.username,
        "role": role.role,
        "organisation": role.organisation_id,
        "programme": role.programme_id,
    }


def staff_role_grant_check(
    *, actor: Any, user, role: str, organisation: Organisation, programme: Programme | None = None
) -> None:
    """Every refusal ``staff_role_grant`` can give, without writing anything (forms call it to show
    the refusal next to the field it belongs to)."""
    _check_actor(actor)
    if role not in RoleKind.values:
        raise KaowuError("backoffice.role.unknown", _("请选择有效的角色。"), field="role")
    if not user.is_active:
        raise KaowuError("backoffice.role.inactive_user", _("该账号已停用，不能授予角色。请先启用账号。"), field="user")
    if getattr(user, "is_candidate", False):
        raise KaowuError(
            "backoffice.role.candidate_account",
            _("考生账号不能担任工作人员角色。请为该人员单独开设工作人员账号。"),
            field="user",
        )
    expected_kind = ROLE_ORGANISATION_KIND.get(role)
    if expected_kind and organisation.kind != expected_kind:
        raise KaowuError(
            "backoffice.role.wrong_organisation_kind",
            _("“%(role)s”须在“%(kind)s”类型的机构任职，请选择正确的机构。"),
            field="organisation",
            params={"role": RoleKind(role).label, "kind": OrganisationKind(expected_kind).label},
        )
    if programme is not None:
        if role == RoleKind.SYSTEM_ADMIN:
            raise KaowuError(
                "backoffice.role.system_admin_programme",
                _("系统管理员角色不能限定项目，请将“限定项目”留空。"),
                field="programme",
            )
        owner = programme.owner
        if not (owner.is_within(organisation) or organisation.is_within(owner)):
            raise KaowuError(
                "backoffice.role.programme_out_of_scope",
                _("项目“%(programme)s”不属于机构“%(organisation)s”及其上下级，不能限定到该项目。"),
                field="programme",
                params={"programme": programme.name, "organisation": organisation.name},
            )
    if StaffRole.objects.filter(user=user, role=role, organisation=organisation, programme=programme).exists():
        raise KaowuError(
            "backoffice.role.duplicate",
            _("该人员已在此机构担任此角色，无需重复授予。"),
            field="role",
        )


def staff_role_grant(
    *, actor: Any, user, role: str, organisation: Organisation, programme: Programme | None = None
) -> StaffRole:
    """Give ``user`` the staff ``role`` at ``organisation`` (optionally narrowed to one programme).

    The user becomes staff (may sign in to the back office). A programme must be owned within the
    organisation's scope or above it (the national programme a provincial body reviews for).
    """
    with transaction.atomic():
        staff_role_grant_check(actor=actor, user=user, role=role, organisation=organisation, programme=programme)
        granted = StaffRole.objects.create(user=user, role=role, organisation=organisation, programme=programme)
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        audit_record(actor=actor, action="backoffice.role.granted", obj=granted, after=_role_audit(granted))
    return granted


def staff_role_revoke(*, actor: Any, role: StaffRole) -> None:
    """Take a role away. A user left with no role (and not a superuser) can no longer enter the back office."""
    _check_actor(actor)
    with transaction.atomic():
        user = role.user
        if (
            role.role == RoleKind.SYSTEM_ADMIN
            and getattr(actor, "pk", None) == user.pk
            and not user.is_superuser
            and not StaffRole.objects.filter(user=user, role=RoleKind.SYSTEM_ADMIN).exclude(pk=role.pk).exists()
        ):
            raise KaowuError(
                "backoffice.role.revoke_self",
                _("不能撤销自己的系统管理员角色，请由其他系统管理员操作。"),
                status=409,
            )
        before = _role_audit(role)
        role_pk = role.pk
        role.delete()
        role.pk = role_pk  # so the audit row names the revoked role
        if not user.is_superuser and user.is_staff and not StaffRole.objects.filter(user=user).exists():
            user.is_staff = False
            user.save(update_fields=["is_staff"])
        audit_record(actor=actor, action="backoffice.role.revoked", obj=role, before=before)
