"""E-mail copies of notifications (REV-5): sent after commit through ``EMAIL_BACKEND``, retried and logged on
failure, never undoing the change or raising into the caller."""

import logging
import smtplib
from unittest import mock

import pytest
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import transaction
from kombu.exceptions import OperationalError

from kaowu.accounts import services as account_services
from kaowu.conftest import PASSWORD
from kaowu.notifications.models import Notification
from kaowu.notifications.services import notify
from kaowu.notifications.sms import locmem
from kaowu.notifications.sms.templates import render
from kaowu.notifications.tasks import EMAIL_MAX_RETRIES, EmailSendError, mask_email, send_email_task

PARAMS = {"time": "2026-11-23 10:00"}
LOGIN_LINE = "详情请登录考务平台查看。"


class FlakyBackend(LocmemBackend):
    """Fails the first ``failures`` sends (class-wide, across the fresh instance each attempt gets) with the
    error an SMTP server that hangs up gives, then delivers to ``mail.outbox`` like the locmem backend."""

    failures = 0
    attempts = 0
    error: Exception = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    def send_messages(self, messages):
        type(self).attempts += 1
        if type(self).attempts <= type(self).failures:
            raise type(self).error
        return super().send_messages(messages)


@pytest.fixture
def flaky(settings, monkeypatch):
    """FlakyBackend as EMAIL_BACKEND; what a test sets on it is undone afterwards."""
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    for name, value in (("failures", 0), ("attempts", 0), ("error", FlakyBackend.error)):
        monkeypatch.setattr(FlakyBackend, name, value)
    return FlakyBackend


def _texts(event="password_changed"):
    """The SMS sent for ``event`` (the outbox also holds the fixtures' registration codes)."""
    return [m for m in locmem.outbox if m.event == event]


def _notify_password_changed(user, **kwargs):
    return notify(user=user, event="password_changed", title="账户密码已修改", params=PARAMS, **kwargs)


@pytest.mark.django_db
def test_email_is_sent_only_after_commit(candidate_a, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        _notify_password_changed(candidate_a)
        assert mailoutbox == []

    assert mailoutbox == []
    for callback in callbacks:
        callback()
    [message] = mailoutbox
    assert message.to == [candidate_a.email]
    assert message.subject == "账户密码已修改"
    assert message.body == f"{render('password_changed', PARAMS)}\n\n{LOGIN_LINE}"
    assert message.from_email == "考务平台 <noreply@kaowu.local>"


@pytest.mark.django_db
def test_sms_and_email_copies_say_what_the_inbox_says(candidate_a, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify_password_changed(candidate_a)

    assert [m.text for m in _texts()] == [notification.body]
    assert mailoutbox[0].body.startswith(notification.body)


@pytest.mark.django_db
def test_rolled_back_change_sends_no_email(candidate_a, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        _notify_password_changed(candidate_a)
        raise RuntimeError

    assert mailoutbox == []
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_user_without_an_address_gets_the_inbox_message_only(outsider, mailoutbox, django_capture_on_commit_callbacks):
    assert outsider.email == ""

    with django_capture_on_commit_callbacks(execute=True):
        _notify_password_changed(outsider)

    assert mailoutbox == []
    assert Notification.objects.filter(user=outsider).count() == 1


@pytest.mark.django_db
def test_email_false_sends_no_email_but_still_texts(candidate_a, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _notify_password_changed(candidate_a, email=False)

    assert mailoutbox == []
    assert [m.phone for m in _texts()] == [candidate_a.phone]
    assert Notification.objects.filter(user=candidate_a).count() == 1


@pytest.mark.django_db
def test_failed_send_is_retried_until_delivered(candidate_a, flaky, mailoutbox, django_capture_on_commit_callbacks):
    flaky.failures = 2

    with django_capture_on_commit_callbacks(execute=True):
        _notify_password_changed(candidate_a)

    assert flaky.attempts == 3
    assert [m.to for m in mailoutbox] == [[candidate_a.email]]


@pytest.mark.django_db
def test_send_that_keeps_failing_is_logged_masked_and_never_undoes_the_change(
    candidate_a, flaky, mailoutbox, caplog, django_capture_on_commit_callbacks
):
    flaky.failures = 100
    caplog.set_level(logging.WARNING, logger="kaowu.notifications.tasks")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        _notify_password_changed(candidate_a)

    assert flaky.attempts == EMAIL_MAX_RETRIES + 1
    assert mailoutbox == []
    assert Notification.objects.filter(user=candidate_a).count() == 1
    assert [m.phone for m in _texts()] == [candidate_a.phone]
    warnings = [r.getMessage() for r in caplog.records if r.name == "kaowu.notifications.tasks"]
    assert len(warnings) == EMAIL_MAX_RETRIES + 1
    assert warnings[0] == (
        f"E-mail failed (attempt 1 of 6): SMTPServerDisconnected sending password_changed to "
        f"{mask_email(candidate_a.email)}"
    )
    assert candidate_a.email not in caplog.text


def test_final_failure_does_not_carry_the_servers_reply(flaky):
    address = "cand7@example.com"
    flaky.failures = 100
    flaky.error = smtplib.SMTPRecipientsRefused({address: (550, b"5.1.1 <cand7@example.com>: mailbox unavailable")})

    result = send_email_task.apply(args=(address, "password_changed", "账户密码已修改", "正文"))

    assert result.failed()
    assert isinstance(result.result, EmailSendError)
    assert address not in str(result.result)
    assert address not in (result.traceback or "")
    assert flaky.attempts == EMAIL_MAX_RETRIES + 1


@pytest.mark.django_db
def test_broker_refusing_the_task_is_logged_not_raised(candidate_a, caplog, django_capture_on_commit_callbacks):
    refused = OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    with (
        mock.patch("kaowu.notifications.services.send_email_task.delay", side_effect=refused) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        _notify_password_changed(candidate_a)

    delay.assert_called_once()
    assert Notification.objects.filter(user=candidate_a).count() == 1
    assert "Connection refused" in caplog.text


@pytest.mark.django_db
def test_a_service_change_reaches_the_mailbox(candidate_a, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        account_services.password_change(
            actor=candidate_a, user=candidate_a, old_password=PASSWORD, new_password="Kaowu2027changed"
        )

    [message] = mailoutbox
    assert (message.to, message.subject) == ([candidate_a.email], "账户密码已修改")
    assert message.body.endswith(LOGIN_LINE)


@pytest.mark.parametrize(
    ("address", "masked"),
    [("cand12@example.com", "c***@example.com"), ("a@b.cn", "a***@b.cn"), ("not-an-address", "***")],
)
def test_mask_email_keeps_only_the_first_letter_and_the_domain(address, masked):
    assert mask_email(address) == masked
