"""Background jobs of the payments app: sending refunds, and the periodic housekeeping (scheduled in
``CELERY_BEAT_SCHEDULE``; ``python manage.py payments_housekeeping`` runs the same from cron)."""

from __future__ import annotations

import logging

from celery import shared_task

from .models import Refund
from .providers.sandbox import sandbox_notify_task  # noqa: F401  (registers the sandbox gateway's task)
from .services import applications_lapse, orders_expire, payments_query_stale, refund_process, refunds_resume

logger = logging.getLogger("kaowu.payments")


@shared_task
def refund_process_task(refund_id: int) -> str:
    """Send one refund to its gateway; failures stay recorded on the refund and are retried by
    ``payments_housekeeping_task``, so this task itself never retries (a retry loop would hide them)."""
    refund = refund_process(refund=Refund(pk=refund_id))
    return refund.status


@shared_task
def payments_housekeeping_task() -> dict[str, int]:
    """Recover payments whose notification never came, expire unpaid orders (seats released), withdraw
    applications left unpaid after the payment window, and push unfinished refunds on. Each step commits
    on its own: one failure does not undo the rest."""
    figures = {"queried": payments_query_stale()}
    figures["expired"] = orders_expire()
    figures["lapsed"] = applications_lapse()
    figures["refunds"] = refunds_resume()
    logger.info("payments housekeeping: %s", figures)
    return figures
