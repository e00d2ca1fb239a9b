"""Scoping the Django admin by staff role (OPS-1).

Django's model permissions are not used for staff who hold roles; what the admin shows and allows is
decided by ``kaowu.backoffice.permissions``:

- superusers and system administrators see and change everything;
- programme administrators add, change and delete the configuration of the programmes they manage;
- every other role sees the configuration of the programmes in its scope, read-only;
- staff without a role see nothing (the admin index is empty for them).

Each configuration model reaches its programme along a lookup path (``PROGRAMME_PATHS``). Querysets,
object permissions and the choices of foreign keys and many-to-many fields are all limited through it,
so a programme administrator of CCAA never sees, picks or edits anything of CPTA. An object outside the
viewer's scope is a 404 — a guessed URL tells an outsider nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import models
from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from kaowu.catalog.models import (
    Batch,
    BatchWindow,
    EligibilityRule,
    Level,
    NoticeAcceptance,
    NoticeVersion,
    Organisation,
    Position,
    Programme,
    ReviewStage,
    Site,
    SiteCapacity,
    Sitting,
    Specialty,
    Subject,
)

from .permissions import is_system_admin, managed_programmes, organisations_for, programmes_for, roles_of

# How each configuration model reaches the programme it belongs to ("" = it is the programme).
PROGRAMME_PATHS: dict[type[models.Model], str] = {
    Programme: "",
    ReviewStage: "programme",
    Batch: "programme",
    BatchWindow: "batch__programme",
    Subject: "programme",
    Level: "programme",
    Specialty: "level__programme",
    EligibilityRule: "level__programme",
    Sitting: "batch__programme",
    Site: "batch__programme",
    SiteCapacity: "site__batch__programme",
    Position: "batch__programme",
    NoticeVersion: "programme",
    NoticeAcceptance: "notice__programme",
}


def in_programmes(model: type[models.Model], programmes) -> Q:
    """A filter for ``model`` rows that belong to one of ``programmes`` (ids or a queryset)."""
    path = PROGRAMME_PATHS[model]
    return Q(**{f"{path}__in" if path else "pk__in": programmes})


def programme_id_of(obj: models.Model) -> int | None:
    """The id of the programme ``obj`` belongs to, or None (unsaved without one, or platform-wide)."""
    path = PROGRAMME_PATHS[type(obj)]
    if not path:
        return obj.pk
    *hops, last = path.split("__")
    current = obj
    try:
        for hop in hops:
            current = getattr(current, hop)
            if current is None:
                return None
    except ObjectDoesNotExist:
        return None
    return getattr(current, f"{last}_id")


@dataclass(frozen=True)
class Scope:
    """What one request's user may see and manage, computed once per request."""

    user_id: int | None
    everything: bool
    has_roles: bool
    visible: frozenset[int]
    managed: frozenset[int]
    organisations: frozenset[int]

    def can_view(self, programme_id: int | None) -> bool:
        return self.everything or programme_id in self.visible

    def can_manage(self, programme_id: int | None) -> bool:
        return self.everything or programme_id in self.managed


def scope_of(request) -> Scope:
    user = request.user
    cached = getattr(request, "_kaowu_scope", None)
    if cached is not None and cached.user_id == user.pk:
        return cached
    everything = is_system_admin(user)
    has_roles = everything or bool(roles_of(user))
    if everything or not has_roles:
        empty: frozenset[int] = frozenset()
        scope = Scope(user.pk, everything, has_roles, empty, empty, empty)
    else:
        scope = Scope(
            user_id=user.pk,
            everything=False,
            has_roles=True,
            visible=frozenset(programmes_for(user).values_list("pk", flat=True)),
            managed=frozenset(managed_programmes(user).values_list("pk", flat=True)),
            organisations=frozenset(organisations_for(user).values_list("pk", flat=True)),
        )
    request._kaowu_scope = scope
    return scope


def limit_choices(request, model: type[models.Model], queryset: models.QuerySet) -> models.QuerySet:
    """Limit the choices of a foreign key / many-to-many field to what the user may manage."""
    scope = scope_of(request)
    if scope.everything:
        return queryset
    if model is Organisation:
        return queryset.filter(pk__in=scope.organisations)
    if model in PROGRAMME_PATHS:
        return queryset.filter(in_programmes(model, scope.managed))
    return queryset


class _ScopedChoicesMixin:
    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if "queryset" not in kwargs and (related is Organisation or related in PROGRAMME_PATHS):
            kwargs["queryset"] = limit_choices(request, related, related._default_manager.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        related = db_field.related_model
        if "queryset" not in kwargs and (related is Organisation or related in PROGRAMME_PATHS):
            kwargs["queryset"] = limit_choices(request, related, related._default_manager.all())
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ScopedAdminMixin(_ScopedChoicesMixin):
    """For a ``ModelAdmin`` of a model listed in ``PROGRAMME_PATHS``.

    ``scope_field`` (by default the first hop of the model's path, e.g. ``programme`` or ``batch``) is
    read-only once an object exists, so nothing can be moved out of (or into) someone's scope.
    """

    scope_field: str | None = None

    def get_scope_field(self) -> str | None:
        if self.scope_field is not None:
            return self.scope_field
        path = PROGRAMME_PATHS[self.model]
        return path.split("__")[0] if path else None

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        scope = scope_of(request)
        if scope.everything:
            return queryset
        return queryset.filter(in_programmes(self.model, scope.visible))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(_("没有找到该记录，或您无权查看。"))
        return obj

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        scope_field = self.get_scope_field()
        if obj is not None and scope_field and scope_field not in fields:
            fields.insert(0, scope_field)
        return fields

    def has_module_permission(self, request):
        return scope_of(request).has_roles

    def has_view_permission(self, request, obj=None):
        scope = scope_of(request)
        if obj is None:
            return scope.has_roles
        return scope.can_view(programme_id_of(obj))

    def has_add_permission(self, request):
        scope = scope_of(request)
        return scope.everything or bool(scope.managed)

    def has_change_permission(self, request, obj=None):
        scope = scope_of(request)
        if obj is None:
            return scope.everything or bool(scope.managed)
        return scope.can_manage(programme_id_of(obj))

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def delete_queryset(self, request, queryset):
        scope = scope_of(request)
        if not scope.everything and queryset.exclude(in_programmes(self.model, scope.managed)).exists():
            raise PermissionDenied
        super().delete_queryset(request, queryset)


class ScopedInlineMixin(_ScopedChoicesMixin):
    """For an inline: what may be done with the rows follows from the parent object's programme."""

    def has_view_permission(self, request, obj=None):
        scope = scope_of(request)
        if obj is None:
            return scope.has_roles
        return scope.can_view(programme_id_of(obj))

    def has_add_permission(self, request, obj=None):
        scope = scope_of(request)
        if obj is None:
            return scope.everything or bool(scope.managed)
        return scope.can_manage(programme_id_of(obj))

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)
