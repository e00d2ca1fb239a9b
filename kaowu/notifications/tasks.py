import logging

from celery import shared_task
from django.core.mail import send_mail

from .sms import send_sms
from .sms.base import SmsSendError

logger = logging.getLogger(__name__)

EMAIL_MAX_RETRIES = 5


@shared_task(bind=True, autoretry_for=(SmsSendError,), retry_backoff=30, retry_kwargs={"max_retries": 5})
def send_sms_task(self, phone: str, event: str, params: dict[str, str]) -> str:
    """Deliver one SMS through the configured backend; provider failures are retried with backoff.

    Runs after the transaction that asked for it has committed, so a failure here never undoes the
    change it reports; each failed attempt is logged (with the number masked by the logging filter).
    """
    try:
        return send_sms(phone, event, params)
    except SmsSendError:
        logger.warning("SMS %s to %s failed (attempt %s)", event, phone, self.request.retries + 1, exc_info=True)
        raise


def mask_email(address: str) -> str:
    """``z***@example.com``: enough to tell which mailbox a log line is about, not the address itself."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


class EmailSendError(OSError):
    """A notification e-mail that could not be sent, described without the server's reply, which may quote
    the address (Celery logs the exception of every retry and of the final failure)."""


@shared_task(
    bind=True, autoretry_for=(EmailSendError,), retry_backoff=30, retry_kwargs={"max_retries": EMAIL_MAX_RETRIES}
)
def send_email_task(self, address: str, event: str, subject: str, body: str) -> int:
    """Send one notification e-mail through ``settings.EMAIL_BACKEND``; server failures are retried with backoff.

    Runs after the transaction that asked for it has committed, so a failure never undoes the change it
    reports. Each failed attempt is logged with the address masked; after the last one the task fails
    with ``EmailSendError``.
    """
    try:
        return send_mail(subject, body, None, [address])
    except OSError as error:  # smtplib.SMTPException and an unreachable server's socket errors alike
        description = f"{type(error).__name__} sending {event} to {mask_email(address)}"
        logger.warning(
            "E-mail failed (attempt %s of %s): %s", self.request.retries + 1, EMAIL_MAX_RETRIES + 1, description
        )
        raise EmailSendError(description) from None
