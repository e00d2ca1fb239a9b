"""Recorded subject passes in the back office: read-only and scoped to the programmes the viewer manages.
Passes are recorded at ``/review/passes/`` through ``subject_pass_record`` (checked and audited)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from kaowu.applications.admin import ReadOnlyAdmin
from kaowu.backoffice.permissions import managed_programmes

from .models import SubjectPass


@admin.register(SubjectPass)
class SubjectPassAdmin(ReadOnlyAdmin):
    list_display = [
        "candidate_name",
        "masked_document",
        "subject",
        "year",
        "valid_until_year",
        "recorded_by",
        "recorded_at",
    ]
    list_filter = ["subject__programme", "year"]
    list_select_related = ["candidate__candidate_profile", "subject", "recorded_by"]
    fields = ["candidate", "subject", "year", "valid_until_year", "note", "recorded_by", "recorded_at"]

    def has_module_permission(self, request):
        return managed_programmes(request.user).exists()

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(subject__programme__in=managed_programmes(request.user))

    @admin.display(description=_("姓名"), ordering="candidate__real_name")
    def candidate_name(self, row: SubjectPass) -> str:
        return row.candidate.real_name

    @admin.display(description=_("证件号码"))
    def masked_document(self, row: SubjectPass) -> str:
        profile = getattr(row.candidate, "candidate_profile", None)
        return profile.doc_number_masked if profile else ""
