"""Back-office lists of applications and of the 失信 list: read-only, scoped to the viewer.

Applications change only through the services (the candidate's steps, the reviewer workbench at
``/review/``), so nothing here writes. Reviewers see the applications that reached a step in their scope,
programme administrators those of the programmes they manage, system administrators everything; ID
numbers appear only masked.
"""

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from kaowu.backoffice.permissions import is_system_admin, managed_programmes

from .models import Application, DishonestEntry
from .selectors import is_reviewer, reviewable_applications


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nothing is added, changed or deleted here; writes go through the services' pages."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "candidate_name",
        "masked_document",
        "batch",
        "status",
        "current_stage",
        "is_dishonest",
        "submitted_at",
        "review_link",
    ]
    list_filter = ["status", "batch__programme", "is_dishonest", "verification_mode", "eligibility_status"]
    list_select_related = ["candidate__candidate_profile", "batch", "current_stage"]
    search_fields = ["number"]
    date_hierarchy = "submitted_at"
    fields = [
        "number",
        "candidate",
        "batch",
        "kind",
        "status",
        "current_stage",
        "round",
        "region",
        "review_point",
        "company",
        "level",
        "specialty",
        "site",
        "position",
        "eligibility_status",
        "eligibility_reasons",
        "verification_mode",
        "verification_reasons",
        "is_dishonest",
        "submitted_at",
    ]

    def _allowed(self, request) -> bool:
        user = request.user
        return is_system_admin(user) or is_reviewer(user) or managed_programmes(user).exists()

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        user = request.user
        if is_system_admin(user):
            return queryset
        in_scope = Q(pk__in=reviewable_applications(user).values("pk")) | Q(
            batch__programme__in=managed_programmes(user)
        )
        return queryset.filter(in_scope)

    @admin.display(description=_("姓名"), ordering="candidate__real_name")
    def candidate_name(self, application: Application) -> str:
        return application.candidate.real_name

    @admin.display(description=_("证件号码"))
    def masked_document(self, application: Application) -> str:
        profile = getattr(application.candidate, "candidate_profile", None)
        return profile.doc_number_masked if profile else ""

    @admin.display(description=_("审核"))
    def review_link(self, application: Application) -> str:
        return format_html('<a href="{}">{}</a>', reverse("review:detail", args=[application.pk]), _("审核工作台"))


@admin.register(DishonestEntry)
class DishonestEntryAdmin(ReadOnlyAdmin):
    """The 失信 list; entries are imported at ``/review/dishonest/``."""

    list_display = ["name", "document_masked", "programme", "reason", "valid_until", "imported_at", "imported_by"]
    list_filter = ["programme"]
    search_fields = ["name", "document_masked"]
    fields = ["programme", "name", "document_masked", "reason", "valid_until", "imported_at", "imported_by"]

    def has_module_permission(self, request):
        return managed_programmes(request.user).exists()

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(programme__in=managed_programmes(request.user))
