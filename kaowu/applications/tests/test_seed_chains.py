"""Each seed's chain end to end through the services (the workflow, not the pages)."""

from __future__ import annotations

import pytest
from django.test import TestCase

from kaowu.applications import services
from kaowu.applications.models import ReviewStep, StepStatus
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.models import ReviewLevel, SiteCapacity

from .conftest import submitted

pytestmark = pytest.mark.django_db


def test_seed_004_no_review_goes_to_payment_and_holds_seats(world, cand_a):
    application = submitted(world, demo.CCAA_EXAM, cand_a)
    assert application.status == Status.AWAITING_PAYMENT
    holds = application.seat_holds.count()
    assert holds == application.subjects.count() >= 1
    assert sum(SiteCapacity.objects.filter(site=application.site).values_list("held", flat=True)) == holds


def test_seed_000_province_then_nation_and_national_return_goes_back_to_province(world, cand_a):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    assert application.status == Status.UNDER_REVIEW
    assert application.current_stage.level == ReviewLevel.PROVINCE
    province, nation = world.staff("js_caa_province"), world.staff("caa_nation")
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.review_approve(actor=province, application=application)
    application.refresh_from_db()
    assert application.current_stage.level == ReviewLevel.NATION
    services.review_return(actor=nation, application=application, reason="工作年限证明不清晰")
    application.refresh_from_db()
    assert application.status == Status.RETURNED
    services.application_submit(actor=cand_a, application=application)
    application.refresh_from_db()
    assert application.status == Status.UNDER_REVIEW
    assert application.current_stage.level == ReviewLevel.PROVINCE  # REV-3
    services.review_approve(actor=province, application=application)
    services.review_approve(actor=nation, application=application)
    application.refresh_from_db()
    assert application.status == Status.AWAITING_PAYMENT


def test_seed_002_auto_verification_passes_straight_to_payment(world, cand_a):
    application = submitted(world, demo.ECONOMIST_EXAM, cand_a)
    step = ReviewStep.objects.get(application=application)
    assert step.status == StepStatus.APPROVED and step.reviewer is None
    assert application.status == Status.AWAITING_PAYMENT


def test_seed_003_waits_for_on_site_review_at_the_chosen_point(world, cand_a):
    application = submitted(world, demo.RECRUITMENT_EXAM, cand_a)
    assert application.status == Status.UNDER_REVIEW
    step = ReviewStep.objects.get(application=application)
    assert step.mode == "on_site" and step.organisation == application.site.review_point
    point = world.staff("js_exam_point")
    services.review_approve(actor=point, application=application, on_site=True)
    application.refresh_from_db()
    assert application.status == Status.APPROVED
