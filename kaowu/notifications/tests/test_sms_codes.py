"""One-time SMS codes and notifications (ACC-2): ``kaowu.notifications.services``."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from kaowu.core.context import reset_current_ip, set_current_ip
from kaowu.core.errors import KaowuError
from kaowu.notifications import services
from kaowu.notifications.models import Notification, SmsCode, SmsPurpose
from kaowu.notifications.services import notify, sms_code_send, sms_code_verify
from kaowu.notifications.sms import locmem
from kaowu.notifications.sms.templates import render

PHONE = "13912345670"
REGISTER = SmsPurpose.REGISTER


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Send a code as a request would (delivered after commit) and return what the phone received."""

    def _send(phone: str = PHONE, purpose: str = REGISTER, **kwargs) -> str | None:
        before = len(locmem.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            sms_code_send(phone=phone, purpose=purpose, **kwargs)
        new = locmem.outbox[before:]
        assert len(new) <= 1
        return new[0].params["code"] if new else None

    return _send


@pytest.fixture
def client_ip():
    tokens = []

    def _set(ip: str | None) -> None:
        tokens.append(set_current_ip(ip))

    yield _set
    for token in reversed(tokens):
        reset_current_ip(token)


def verify(code: str, phone: str = PHONE, purpose: str = REGISTER) -> None:
    sms_code_verify(phone=phone, purpose=purpose, code=code)


def refusal(code: str, phone: str = PHONE, purpose: str = REGISTER) -> KaowuError:
    with pytest.raises(KaowuError) as caught:
        verify(code, phone, purpose)
    assert caught.value.field == "sms_code"
    return caught.value


def other_than(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def age(by: timedelta, **filters) -> None:
    """Pretend the matching codes were sent ``by`` earlier (no freezegun here)."""
    SmsCode.objects.filter(**filters).update(created_at=timezone.now() - by)


# --- The code ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_code_is_six_digits_and_texted_with_its_lifetime(send):
    code = send()

    assert re.fullmatch(r"[0-9]{6}", code)
    message = locmem.outbox[-1]
    assert (message.phone, message.event) == (PHONE, "verification_code")
    assert message.params == {"code": code, "minutes": "5"}


@pytest.mark.django_db
def test_code_keeps_its_leading_zeros(send, monkeypatch):
    monkeypatch.setattr(services.secrets, "randbelow", lambda n: 42)

    assert send() == "000042"
    verify("000042")


@pytest.mark.django_db
def test_code_is_stored_only_as_a_hash(send, monkeypatch):
    monkeypatch.setattr(services.secrets, "randbelow", lambda n: 987654)
    code = send()
    assert code == "987654"

    row = SmsCode.objects.get()
    assert row.code_hash != code
    assert len(row.code_hash) >= 32
    for name, value in model_to_dict(row).items():
        assert code not in str(value), name
    # The hash depends on phone and purpose too, so equal codes for other phones do not share a hash.
    assert row.code_hash != services._code_hash("13912345671", REGISTER, code)
    assert row.code_hash != services._code_hash(PHONE, SmsPurpose.RECOVER, code)


@pytest.mark.django_db
def test_code_expires_after_five_minutes(send):
    code = send()
    row = SmsCode.objects.get()
    assert row.expires_at - row.created_at == pytest.approx(timedelta(minutes=5), abs=timedelta(seconds=1))
    assert settings.SMS_CODE_TTL_SECONDS == 300
    sent_at = timezone.now()

    with mock.patch("django.utils.timezone.now", return_value=sent_at + timedelta(minutes=5)):
        error = refusal(code)

    assert error.code == "sms.code_expired"
    assert "已失效" in error.message


@pytest.mark.django_db
def test_code_is_valid_just_before_five_minutes(send):
    code = send()
    sent_at = timezone.now()

    with mock.patch("django.utils.timezone.now", return_value=sent_at + timedelta(minutes=4, seconds=58)):
        verify(code)

    assert SmsCode.objects.get().used_at is not None


@pytest.mark.django_db
def test_code_is_single_use(send):
    code = send()
    verify(code)

    error = refusal(code)

    assert error.code == "sms.code_expired"
    assert "请重新获取" in error.message


@pytest.mark.django_db
def test_wrong_code_is_refused_and_counted(send):
    code = send()

    error = refusal(other_than(code))

    assert error.code == "sms.code_wrong"
    assert "短信验证码不正确" in error.message
    assert SmsCode.objects.get().attempts == 1
    verify(code)  # a wrong try does not use the code up


@pytest.mark.django_db
def test_five_wrong_tries_then_even_the_right_code_is_refused(send):
    code = send()
    for attempt in range(1, settings.SMS_CODE_MAX_ATTEMPTS + 1):
        assert refusal(other_than(code)).code == "sms.code_wrong"
        assert SmsCode.objects.get().attempts == attempt

    error = refusal(code)

    assert error.code == "sms.too_many_attempts"
    assert "错误次数过多" in error.message
    assert SmsCode.objects.get().used_at is None


@pytest.mark.django_db
def test_code_with_spaces_around_it_is_accepted(send):
    code = send()
    verify(f" {code} ")


@pytest.mark.django_db
def test_newest_code_wins(send):
    first = send()
    age(timedelta(minutes=2))
    second = send()
    if first == second:  # pragma: no cover - one chance in a million
        pytest.skip("the two random codes were equal")

    assert refusal(first).code == "sms.code_wrong"
    verify(second)


@pytest.mark.django_db
def test_code_is_bound_to_its_phone_and_purpose(send):
    code = send()

    assert refusal(code, phone="13912345671").code == "sms.code_expired"  # nothing sent to that phone
    assert refusal(code, purpose=SmsPurpose.RECOVER).code == "sms.code_expired"
    verify(code)


@pytest.mark.django_db
def test_verify_without_any_code_sent(db):
    assert refusal("123456").code == "sms.code_expired"


# --- Rate limits ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_second_send_within_a_minute_is_refused(send):
    send()
    age(timedelta(seconds=50))

    with pytest.raises(KaowuError) as caught:
        send()

    assert (caught.value.code, caught.value.status, caught.value.field) == ("sms.too_frequent", 429, "phone")
    assert "1 分钟" in caught.value.message
    assert SmsCode.objects.count() == 1
    assert len(locmem.outbox) == 1


@pytest.mark.django_db
def test_minute_limit_counts_every_purpose(send):
    send(purpose=REGISTER)

    with pytest.raises(KaowuError) as caught:
        send(purpose=SmsPurpose.RECOVER)

    assert caught.value.code == "sms.too_frequent"


@pytest.mark.django_db
def test_send_after_a_minute_is_allowed(send):
    send()
    age(timedelta(seconds=61))

    assert send() is not None
    assert SmsCode.objects.count() == 2


@pytest.mark.django_db
def test_eleventh_send_in_a_day_is_refused(send):
    assert settings.SMS_RATE_PER_PHONE_DAY == 10
    for _ in range(settings.SMS_RATE_PER_PHONE_DAY):
        send()
        age(timedelta(hours=1), phone=PHONE)

    with pytest.raises(KaowuError) as caught:
        send()

    assert (caught.value.code, caught.value.status) == ("sms.daily_limit", 429)
    assert "今日" in caught.value.message
    assert SmsCode.objects.count() == settings.SMS_RATE_PER_PHONE_DAY
    # Another number is not affected, and sends older than a day no longer count.
    assert send(phone="13912345671") is not None
    age(timedelta(days=1, minutes=1), phone=PHONE)
    assert send() is not None


@pytest.mark.django_db
def test_undelivered_sends_count_towards_the_limits(send):
    assert send(deliver=False) is None
    assert SmsCode.objects.get().delivered is False
    assert locmem.outbox == []

    with pytest.raises(KaowuError) as caught:
        send()

    assert caught.value.code == "sms.too_frequent"


@pytest.mark.django_db
def test_per_ip_limit(send, client_ip):
    client_ip("203.0.113.7")
    limit = settings.SMS_RATE_PER_IP_HOUR
    phones = [f"1391234{n:04d}" for n in range(limit + 1)]
    for phone in phones[:limit]:
        send(phone=phone)
    assert SmsCode.objects.filter(ip="203.0.113.7").count() == limit

    with pytest.raises(KaowuError) as caught:
        send(phone=phones[limit])

    assert (caught.value.code, caught.value.status) == ("sms.ip_limit", 429)
    assert "本网络" in caught.value.message
    assert not SmsCode.objects.filter(phone=phones[limit]).exists()
    # Another address may still send, and after an hour this one may again.
    client_ip("198.51.100.1")
    assert send(phone=phones[limit]) is not None
    client_ip("203.0.113.7")
    age(timedelta(hours=1, minutes=1), ip="203.0.113.7")
    assert send(phone="13912349999") is not None


@pytest.mark.django_db
def test_sends_without_an_ip_are_not_limited_per_ip(send, client_ip):
    client_ip(None)
    for n in range(settings.SMS_RATE_PER_IP_HOUR + 1):
        send(phone=f"1391234{n:04d}")
    assert SmsCode.objects.filter(ip__isnull=True).count() == settings.SMS_RATE_PER_IP_HOUR + 1


# --- Sending after commit ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_sms_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        sms_code_send(phone=PHONE, purpose=REGISTER)
        raise RuntimeError("something later in the same request failed")

    assert callbacks == []
    assert locmem.outbox == []
    assert not SmsCode.objects.exists()


@pytest.mark.django_db
def test_sms_waits_for_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sms_code_send(phone=PHONE, purpose=REGISTER)
        assert locmem.outbox == []

    assert len(callbacks) == 1
    assert locmem.outbox == []
    callbacks[0]()
    assert [m.phone for m in locmem.outbox] == [PHONE]


# --- notify() --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_notify_creates_an_inbox_message_and_texts_the_override_phone(candidate_a, django_capture_on_commit_callbacks):
    locmem.clear()
    params = {"time": "2026-11-23 10:00", "new_phone": "139****0000"}

    with django_capture_on_commit_callbacks(execute=True):
        notification = notify(
            user=candidate_a, event="phone_changed", title="绑定手机号已更换", params=params, sms_phone="13800001111"
        )

    stored = Notification.objects.get(user=candidate_a)
    assert stored == notification
    assert (stored.event, stored.title) == ("phone_changed", "绑定手机号已更换")
    assert stored.body == render("phone_changed", params)
    assert stored.read_at is None
    assert [(m.phone, m.event, m.params) for m in locmem.outbox] == [("13800001111", "phone_changed", params)]


@pytest.mark.django_db
def test_notify_texts_the_bound_phone_by_default(candidate_a, django_capture_on_commit_callbacks):
    locmem.clear()

    with django_capture_on_commit_callbacks(execute=True):
        notify(user=candidate_a, event="password_changed", title="账户密码已修改", params={"time": "2026-11-23 10:00"})

    assert [(m.phone, m.event) for m in locmem.outbox] == [(candidate_a.phone, "password_changed")]


@pytest.mark.django_db
def test_notify_without_sms_only_fills_the_inbox(candidate_a, django_capture_on_commit_callbacks):
    locmem.clear()

    with django_capture_on_commit_callbacks(execute=True):
        notify(user=candidate_a, event="password_changed", title="t", params={"time": "x"}, sms=False)

    assert locmem.outbox == []
    assert Notification.objects.filter(user=candidate_a).count() == 1


@pytest.mark.django_db
def test_notify_for_a_user_without_a_phone_only_fills_the_inbox(outsider, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify(user=outsider, event="password_changed", title="t", params={"time": "x"})

    assert locmem.outbox == []
    assert Notification.objects.filter(user=outsider).count() == 1


@pytest.mark.django_db
def test_notify_rolled_back_leaves_no_message_and_sends_nothing(candidate_a, django_capture_on_commit_callbacks):
    locmem.clear()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        notify(user=candidate_a, event="password_changed", title="t", params={"time": "x"})
        raise RuntimeError

    assert locmem.outbox == []
    assert not Notification.objects.exists()
