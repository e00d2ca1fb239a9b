"""Seats kept by a recalled or returned application go back once it can no longer be resubmitted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from kaowu.applications import services
from kaowu.applications.models import SeatHold
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.models import SiteCapacity, WindowAction
from kaowu.core.models import AuditEntry
from kaowu.notifications.models import Notification

from .conftest import submitted

pytestmark = pytest.mark.django_db


def modify_closes(application):
    return application.batch.windows.get(action=WindowAction.MODIFY).closes_at


def held(application) -> int:
    return sum(SiteCapacity.objects.filter(site=application.site).values_list("held", flat=True))


def test_a_recalled_application_keeps_its_seats_until_the_modify_window_closes(world, cand_a):
    application = submitted(world, demo.RECRUITMENT_EXAM, cand_a)
    services.application_recall(actor=cand_a, application=application)
    application.refresh_from_db()
    assert application.status == Status.DRAFT and held(application) == 1

    closes = modify_closes(application)
    assert services.seats_release_after_edit_window(at=closes - timedelta(seconds=1)) == 0
    assert held(application) == 1

    assert services.seats_release_after_edit_window(at=closes) == 1
    assert held(application) == 0
    assert not SeatHold.objects.filter(application=application).exists()
    assert AuditEntry.objects.filter(action="applications.seats_released", object_id=str(application.pk)).exists()
    assert Notification.objects.filter(user=cand_a, event="application_seats_released").exists()
    assert services.seats_release_after_edit_window(at=closes) == 0  # nothing twice


def test_a_returned_application_gives_its_seat_back_after_the_window(world, cand_a):
    application = submitted(world, demo.RECRUITMENT_EXAM, cand_a)
    services.review_return(
        actor=world.staff("js_exam_point"), application=application, reason="照片不清晰", on_site=True
    )
    assert services.seats_release_after_edit_window(at=modify_closes(application) + timedelta(days=1)) == 1
    assert held(application) == 0


def test_live_applications_under_review_or_awaiting_payment_keep_their_seats(world, cand_a, cand_b):
    under_review = submitted(world, demo.RECRUITMENT_EXAM, cand_a)
    awaiting_payment = submitted(world, demo.CCAA_EXAM, cand_b)
    later = timezone.now() + timedelta(days=365)
    call_command("release_stale_seats")
    assert services.seats_release_after_edit_window(at=later) == 0
    assert held(under_review) == 1 and held(awaiting_payment) == awaiting_payment.subjects.count()
