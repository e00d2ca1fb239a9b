"""Back-office views of accounts. Identity fields are read-only here as everywhere: they are fixed at
registration, and the document number is shown masked (staff never need it in full in a list)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from kaowu.core.masking import mask_phone

from .models import CandidateProfile, EducationRecord, Scan, User


class CandidateProfileInline(admin.StackedInline):
    model = CandidateProfile
    can_delete = False
    fields = [
        "doc_type",
        "doc_number_masked",
        "gender",
        "birth_date",
        "identity_confirmed_at",
        "address",
        "work_unit",
    ]
    readonly_fields = fields


class EducationInline(admin.TabularInline):
    model = EducationRecord
    extra = 0
    readonly_fields = ["level", "degree", "school", "major", "graduated_on", "study_mode"]
    can_delete = False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "real_name", "masked_phone", "masked_document", "is_staff", "date_joined"]
    search_fields = ["username", "real_name", "phone", "candidate_profile__doc_number_masked"]
    ordering = ["-date_joined"]
    inlines = [CandidateProfileInline, EducationInline]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("个人信息"), {"fields": ["real_name", "email", "phone"]}),
        (_("权限"), {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        (_("时间"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["username", "real_name", "password1", "password2"]})]

    @admin.display(description=_("手机号码"))
    def masked_phone(self, user: User) -> str:
        return mask_phone(user.phone or "")

    @admin.display(description=_("证件号码"))
    def masked_document(self, user: User) -> str:
        profile = getattr(user, "candidate_profile", None)
        return profile.doc_number_masked if profile else ""

    def get_readonly_fields(self, request, obj=None):
        # A candidate's name and phone change only through the candidate's own verified flows.
        if obj is not None and obj.is_candidate:
            return ["real_name", "phone", "last_login", "date_joined"]
        return ["last_login", "date_joined"]


@admin.register(Scan)
class ScanAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "original_name", "content_type", "size_bytes", "uploaded_at"]
    list_filter = ["kind"]
    search_fields = ["user__real_name", "user__username"]
    fields = ["user", "kind", "open_file", "content_type", "size_bytes", "original_name", "description"]
    readonly_fields = fields

    @admin.display(description=_("文件"))
    def open_file(self, scan: Scan) -> str:
        # Through the permission-checked view, never a direct file URL.
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            reverse("accounts:scan_file", args=[scan.pk]),
            _("查看"),
        )

    def has_add_permission(self, request):
        return False
