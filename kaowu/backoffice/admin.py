"""Staff roles in the back office: system administrators grant and revoke them, nobody else sees them.

A role is never edited in place: revoke it and grant the new one, so the audit trail shows both.
Writes go through ``kaowu.backoffice.services``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from kaowu.accounts.models import User
from kaowu.core.errors import KaowuError

from .admin_scoping import scope_of
from .models import StaffRole
from .services import staff_role_grant, staff_role_grant_check, staff_role_revoke


class StaffRoleForm(forms.ModelForm):
    actor = None  # set per request by StaffRoleAdmin.get_form

    class Meta:
        model = StaffRole
        fields = ["user", "role", "organisation", "programme"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "user" in self.fields:
            # Staff accounts only: candidates never hold staff roles.
            self.fields["user"].queryset = User.objects.filter(is_active=True, candidate_profile__isnull=True).order_by(
                "username"
            )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            staff_role_grant_check(
                actor=self.actor,
                user=cleaned["user"],
                role=cleaned["role"],
                organisation=cleaned["organisation"],
                programme=cleaned.get("programme"),
            )
        except KaowuError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return cleaned

    def validate_unique(self):
        # The service's own duplicate check (above) covers roles without a programme, too.
        pass


@admin.register(StaffRole)
class StaffRoleAdmin(admin.ModelAdmin):
    form = StaffRoleForm
    list_display = ["user", "user_real_name", "role", "organisation", "programme", "granted_at"]
    list_filter = ["role", ("organisation", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__real_name", "organisation__name"]
    list_select_related = ["user", "organisation", "programme"]
    fields = ["user", "role", "organisation", "programme"]

    @admin.display(description=_("姓名"), ordering="user__real_name")
    def user_real_name(self, role: StaffRole) -> str:
        return role.user.real_name

    def _allowed(self, request) -> bool:
        return scope_of(request).everything

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def has_add_permission(self, request):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if self._allowed(request) else queryset.none()

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(_("没有找到该记录，或您无权查看。"))
        return obj

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user
        return form

    def save_model(self, request, obj, form, change):
        granted = staff_role_grant(
            actor=request.user,
            user=form.cleaned_data["user"],
            role=form.cleaned_data["role"],
            organisation=form.cleaned_data["organisation"],
            programme=form.cleaned_data.get("programme"),
        )
        for field in obj._meta.concrete_fields:
            setattr(obj, field.attname, getattr(granted, field.attname))
        obj._state.adding = False
        obj._state.db = granted._state.db

    def delete_model(self, request, obj):
        staff_role_revoke(actor=request.user, role=obj)

    def delete_queryset(self, request, queryset):
        for role in queryset.select_related("user"):
            staff_role_revoke(actor=request.user, role=role)
