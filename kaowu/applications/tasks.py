"""Periodic jobs of the applications app (scheduled in ``CELERY_BEAT_SCHEDULE``)."""

from celery import shared_task

from .services import seats_release_after_edit_window


@shared_task
def release_stale_seats_task() -> int:
    return seats_release_after_edit_window()
