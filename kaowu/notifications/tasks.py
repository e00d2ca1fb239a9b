import logging

from celery import shared_task

from .sms import send_sms
from .sms.base import SmsSendError

logger = logging.getLogger(__name__)


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
