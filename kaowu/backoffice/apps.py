from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "kaowu.backoffice"
    verbose_name = _("后台管理")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from .models import StaffRole

        # Roles are granted and revoked through services, which write ``AuditEntry``; auditlog adds the
        # field-level history of the rows, whatever writes them (ADR 0001).
        auditlog.register(StaffRole)
