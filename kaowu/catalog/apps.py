from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "kaowu.catalog"
    verbose_name = _("项目配置")

    def ready(self) -> None:
        register_audit_history()


def register_audit_history() -> None:
    """Field-level history (django-auditlog) of the configuration the back office edits.

    Most configuration rows are saved by the admin without a domain service, so they have no
    ``AuditEntry``; auditlog records every create, change and delete of them (``auditlog.LogEntry``),
    with the acting user taken from the request by ``AuditlogMiddleware``. Many-to-many subject sets are
    logged as additions and removals. ``Organisation.path`` is derived from ``parent`` and not logged.

    Not registered: ``BatchWindow`` (only ``batch_create`` / ``batch_set_windows`` / ``batch_copy`` write
    windows, and their ``AuditEntry`` holds the windows before and after), ``NoticeVersion`` and
    ``NoticeAcceptance`` (written only by ``notice_publish`` / ``notice_accept``), ``Region`` (loaded by
    migration, never edited).
    """
    from auditlog.registry import auditlog

    from . import models

    auditlog.register(models.Organisation, exclude_fields=["path"])
    auditlog.register(models.Programme)
    auditlog.register(models.ReviewStage)
    auditlog.register(models.Batch)
    auditlog.register(models.Subject)
    auditlog.register(models.Level, m2m_fields={"subjects"})
    auditlog.register(models.Specialty, m2m_fields={"subjects"})
    auditlog.register(models.EligibilityRule)
    auditlog.register(models.Sitting, m2m_fields={"subjects"})
    auditlog.register(models.Site)
    auditlog.register(models.SiteCapacity)
    auditlog.register(models.Position)
