"""REV-5: every status change reaches the candidate's inbox and, after commit, their phone."""

from __future__ import annotations

import pytest

from kaowu.applications import services
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.models import SiteCapacity
from kaowu.core.errors import KaowuError
from kaowu.notifications.models import Notification
from kaowu.notifications.sms import locmem
from kaowu.notifications.sms.base import BaseSmsBackend, SmsSendError

from .conftest import fill, submitted

pytestmark = pytest.mark.django_db


def events(user) -> list[str]:
    return list(Notification.objects.filter(user=user).order_by("pk").values_list("event", flat=True))


def sms_events(user) -> list[str]:
    return [m.event for m in locmem.outbox if m.phone == user.phone and m.event.startswith("application_")]


def check_sent(capture, user, application, event: str) -> None:
    """The inbox has ``event`` now; its SMS goes only when the transaction's callbacks run, same text."""
    notification = Notification.objects.filter(user=user, event=event).latest("pk")
    assert application.batch.name in notification.body and application.number in notification.body
    assert event not in sms_events(user)
    for callback in capture:
        callback()
    message = next(m for m in reversed(locmem.outbox) if m.event == event)
    assert message.phone == user.phone
    assert message.text == notification.body


def test_submit_and_approve_notify(world, cand_a, django_capture_on_commit_callbacks):
    application = fill(services.application_start(actor=cand_a, batch=world.batch(demo.AUCTIONEER_EXAM)), cand_a)
    with django_capture_on_commit_callbacks() as capture:
        services.application_submit(actor=cand_a, application=application)
    application.refresh_from_db()
    check_sent(capture, cand_a, application, "application_submitted")
    assert "待审核" in Notification.objects.get(user=cand_a, event="application_submitted").body
    with django_capture_on_commit_callbacks() as capture:
        services.review_approve(actor=world.staff("js_caa_province"), application=application)
    check_sent(capture, cand_a, application, "application_approved")
    assert "省级审核" in Notification.objects.get(user=cand_a, event="application_approved").body


def test_return_notifies_with_the_reason_and_deadline(world, cand_a, django_capture_on_commit_callbacks):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    with django_capture_on_commit_callbacks() as capture:
        services.review_return(actor=world.staff("js_caa_province"), application=application, reason="学历证书模糊")
    check_sent(capture, cand_a, application, "application_returned")
    body = Notification.objects.get(user=cand_a, event="application_returned").body
    assert "学历证书模糊" in body and "前修改后重新提交" in body


def test_reject_notifies_with_the_reason(world, cand_a, django_capture_on_commit_callbacks):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    with django_capture_on_commit_callbacks() as capture:
        services.review_reject(actor=world.staff("js_caa_province"), application=application, reason="不符合报考条件")
    check_sent(capture, cand_a, application, "application_rejected")
    assert "不符合报考条件" in Notification.objects.get(user=cand_a, event="application_rejected").body


def test_withdraw_notifies(world, cand_a, django_capture_on_commit_callbacks):
    application = submitted(world, demo.CCAA_EXAM, cand_a)
    with django_capture_on_commit_callbacks() as capture:
        services.application_withdraw(actor=cand_a, application=application)
    check_sent(capture, cand_a, application, "application_withdrawn")


def test_on_site_review_is_announced_with_place_and_deadline(world, cand_a, django_capture_on_commit_callbacks):
    application = fill(services.application_start(actor=cand_a, batch=world.batch(demo.RECRUITMENT_EXAM)), cand_a)
    with django_capture_on_commit_callbacks() as capture:
        services.application_submit(actor=cand_a, application=application)
    application.refresh_from_db()
    assert events(cand_a) == ["application_submitted", "application_on_site"]
    check_sent(capture, cand_a, application, "application_on_site")
    body = Notification.objects.get(user=cand_a, event="application_on_site").body
    assert application.site.review_point.name in body
    assert sms_events(cand_a) == ["application_submitted", "application_on_site"]


def test_nothing_is_sent_when_the_change_rolls_back(world, cand_a, django_capture_on_commit_callbacks):
    application = fill(services.application_start(actor=cand_a, batch=world.batch(demo.CCAA_EXAM)), cand_a)
    # The site filled up after the candidate chose it (seat numbers have no service yet).
    SiteCapacity.objects.filter(site=application.site).update(capacity=0)
    with django_capture_on_commit_callbacks(execute=True) as capture, pytest.raises(KaowuError) as info:
        services.application_submit(actor=cand_a, application=application)
    assert info.value.code == "applications.site_full"
    assert capture == []
    assert events(cand_a) == [] and sms_events(cand_a) == []


failed_attempts: list[str] = []


class FailingSmsBackend(BaseSmsBackend):
    """A provider that refuses every message (as Aliyun does under its rate control)."""

    def send(self, message):
        failed_attempts.append(message.event)
        raise SmsSendError("aliyun", "isv.BUSINESS_LIMIT_CONTROL", "触发流控")


def test_a_failing_sms_does_not_undo_the_change(world, cand_a, settings, django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = f"{__name__}.FailingSmsBackend"
    failed_attempts.clear()
    application = fill(services.application_start(actor=cand_a, batch=world.batch(demo.AUCTIONEER_EXAM)), cand_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(actor=cand_a, application=application)
    application.refresh_from_db()
    assert application.status == Status.UNDER_REVIEW
    assert events(cand_a) == ["application_submitted"]
    assert "application_submitted" in failed_attempts  # the send was tried (and retried) after commit
    assert sms_events(cand_a) == []


def test_texts_stay_chinese_when_the_candidate_browses_in_english(world, cand_a, django_capture_on_commit_callbacks):
    """The SMS templates are registered in Chinese with the providers: labels inside must not be English."""
    from django.utils import translation

    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        services.review_approve(actor=world.staff("js_caa_province"), application=application)
        services.review_return(actor=world.staff("caa_nation"), application=application, reason="材料不清晰")
    approved = Notification.objects.filter(user=cand_a, event="application_approved").latest("pk")
    returned = Notification.objects.filter(user=cand_a, event="application_returned").latest("pk")
    assert "已通过省级审核" in approved.body and "待审核" in approved.body and approved.title == "报名审核通过"
    assert "被全国审核驳回" in returned.body
