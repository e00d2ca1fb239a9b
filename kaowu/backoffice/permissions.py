"""What each staff role may see and do (OPS-1). Every back-office view, the admin and the API ask here.

Scopes are built on the organisation tree (``Organisation.path``):

- a role held at organisation O covers O and everything below it;
- programme administrators and finance see the programmes *owned* within their scope;
- reviewers also see the programmes owned *above* them, since a provincial body, review point or
  company reviews applications of the national programme it belongs to;
- a role narrowed to one programme sees only that programme;
- system administrators (role or Django superuser) see everything.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from kaowu.catalog.models import Batch, Organisation, Programme

from .models import RoleKind, StaffRole

REVIEWER_ROLES = frozenset(
    {
        RoleKind.COMPANY_REVIEWER,
        RoleKind.REVIEW_POINT_REVIEWER,
        RoleKind.PROVINCIAL_REVIEWER,
        RoleKind.NATIONAL_REVIEWER,
    }
)


def roles_of(user) -> list[StaffRole]:
    """The user's staff roles (none for anonymous, inactive or non-staff users)."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return []
    return list(StaffRole.objects.filter(user=user).select_related("organisation", "programme"))


def is_system_admin(user) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or any(r.role == RoleKind.SYSTEM_ADMIN for r in roles_of(user))


def _ancestor_paths(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _programme_filter(role: StaffRole) -> Q:
    if role.programme_id:
        return Q(pk=role.programme_id)
    scope = Q(owner__path__startswith=role.organisation.path)
    if role.role in REVIEWER_ROLES:
        scope |= Q(owner__path__in=_ancestor_paths(role.organisation.path))
    return scope


def programmes_for(user, *, roles: frozenset[str] | None = None) -> QuerySet[Programme]:
    """Programmes the user may see, optionally through the given kinds of role only."""
    if is_system_admin(user):
        return Programme.objects.all()
    condition = Q(pk__in=[])
    for role in roles_of(user):
        if roles is None or role.role in roles:
            condition |= _programme_filter(role)
    return Programme.objects.filter(condition).distinct()


def managed_programmes(user) -> QuerySet[Programme]:
    """Programmes the user may configure (programme administrators within their scope)."""
    return programmes_for(user, roles=frozenset({RoleKind.PROGRAMME_ADMIN}))


def can_manage_programme(user, programme: Programme) -> bool:
    return managed_programmes(user).filter(pk=programme.pk).exists()


def batches_for(user) -> QuerySet[Batch]:
    return Batch.objects.filter(programme__in=programmes_for(user))


def organisations_for(user) -> QuerySet[Organisation]:
    """Organisations within the user's role scopes (their own and everything below)."""
    if is_system_admin(user):
        return Organisation.objects.all()
    condition = Q(pk__in=[])
    for role in roles_of(user):
        condition |= Q(path__startswith=role.organisation.path)
    return Organisation.objects.filter(condition)
