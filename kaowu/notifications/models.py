from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SmsPurpose(models.TextChoices):
    REGISTER = "register", _("注册")
    RECOVER = "recover", _("找回密码或账户")
    CHANGE_PHONE = "change_phone", _("更换手机号")


class SmsCode(models.Model):
    """A one-time SMS verification code. Only an HMAC of the code is stored.

    Rows double as the send log that the per-number and per-IP rate limits count, so they are kept
    after use; ``kaowu.notifications.services`` is the only code that reads or writes them.
    """

    phone = models.CharField(max_length=11)
    purpose = models.CharField(max_length=20, choices=SmsPurpose.choices)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    ip = models.GenericIPAddressField(null=True, blank=True)
    delivered = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["phone", "purpose", "created_at"]),
            models.Index(fields=["ip", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} code #{self.pk}"


class Notification(models.Model):
    """An in-site inbox message (站内信). SMS and e-mail copies are sent alongside, never instead."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=50)
    title = models.CharField(_("标题"), max_length=100)
    body = models.TextField(_("内容"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("站内消息")
        verbose_name_plural = _("站内消息")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title
