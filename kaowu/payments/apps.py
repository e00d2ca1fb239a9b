from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "kaowu.payments"
    verbose_name = _("订单与支付")

    def ready(self) -> None:
        from kaowu.applications.signals import application_rejected

        from .services import refund_after_rejection

        application_rejected.connect(refund_after_rejection, dispatch_uid="payments.refund_after_rejection")
