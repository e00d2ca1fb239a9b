"""Account recovery (ACC-5): by SMS code or by security question; shows the user name, resets the password."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kaowu.accounts import services
from kaowu.accounts.views import RECOVERY_LOOKUP_SESSION_KEY, RECOVERY_SESSION_KEY, RECOVERY_TTL
from kaowu.conftest import PASSWORD, last_sms_code, make_id_number, make_phone
from kaowu.core.errors import KaowuError
from kaowu.core.models import AuditEntry
from kaowu.notifications.models import Notification, SmsCode, SmsPurpose
from kaowu.notifications.services import sms_code_send
from kaowu.notifications.sms import locmem

RECOVER_URL = reverse("accounts:recover")
SMS_URL = reverse("accounts:recover_sms")
QUESTION_URL = reverse("accounts:recover_question")
ANSWER_URL = reverse("accounts:recover_answer")
RESET_URL = reverse("accounts:recover_reset")
LOGIN_URL = reverse("accounts:login")
HOME_URL = reverse("accounts:home")

RECOVERY_FAILED = "姓名、证件号码、手机号或验证码不正确"
SENT_TEXT = "如姓名、证件号码与该手机号属于同一账户，验证码已发送"
NEW_PASSWORD = "Xinmima2027ok"
CAPTCHA = {"captcha_0": "any-key", "captcha_1": "PASSED"}


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def identity(user) -> dict:
    return {"real_name": user.real_name, "doc_number": user.candidate_profile.doc_number, "phone": user.phone}


def send_code(client, capture, **details):
    # The persona fixtures just texted a registration code to their phones; let the 1-per-minute limit pass.
    SmsCode.objects.filter(purpose=SmsPurpose.REGISTER).update(created_at=timezone.now() - timedelta(minutes=2))
    with capture(execute=True):
        return client.post(SMS_URL, {"action": "send_code", **details}, headers={"HX-Request": "true"})


def verify(client, **details):
    return client.post(SMS_URL, {**details, **CAPTCHA})


def recover_by_sms(client, capture, user):
    send_code(client, capture, **identity(user))
    response = verify(client, **identity(user), sms_code=last_sms_code(user.phone))
    assert response.status_code == 302
    assert response.url == RESET_URL
    return response


def look_up(client, user, **overrides):
    data = {"real_name": user.real_name, "doc_number": user.candidate_profile.doc_number, **CAPTCHA, **overrides}
    return client.post(QUESTION_URL, data)


def answer(client, text: str):
    return client.post(ANSWER_URL, {"answer": text})


def login(client, username: str, password: str):
    return client.post(LOGIN_URL, {"username": username, "password": password, **CAPTCHA})


def form_errors(response) -> dict:
    assert response.status_code == 200
    return response.context["form"].errors


def age_session_state(client, key: str, by: timedelta) -> None:
    session = client.session
    state = session[key]
    state["at"] = (timezone.now() - by).isoformat()
    session[key] = state
    session.save()


# --- By SMS code ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_recovery_code_is_texted_when_name_number_and_phone_match(client, capture, candidate_a):
    locmem.clear()  # the persona fixture texted a registration code

    response = send_code(client, capture, **identity(candidate_a))

    assert response.status_code == 200
    assert SENT_TEXT in response.content.decode()
    assert [(m.phone, m.event) for m in locmem.outbox] == [(candidate_a.phone, "verification_code")]
    row = SmsCode.objects.get(phone=candidate_a.phone, purpose=SmsPurpose.RECOVER)
    assert row.delivered is True


@pytest.mark.django_db
@pytest.mark.parametrize(
    "mismatch",
    [
        pytest.param({"phone": None}, id="other-phone"),
        pytest.param({"real_name": "李四"}, id="other-name"),
        pytest.param({"doc_number": None}, id="unknown-number"),
    ],
)
def test_non_matching_details_get_the_same_answer_but_no_sms(client, capture, candidate_a, candidate_b, mismatch):
    matched = send_code(client, capture, **identity(candidate_b))
    details = identity(candidate_a)
    for key, value in mismatch.items():
        details[key] = value or (make_phone() if key == "phone" else make_id_number())
    locmem.clear()

    response = send_code(Client(), capture, **details)

    assert response.status_code == 200
    assert response.content == matched.content  # word for word the same answer
    assert locmem.outbox == []
    # The attempt is recorded (undelivered), so rate limits treat it exactly like a real send.
    row = SmsCode.objects.get(phone=details["phone"], purpose=SmsPurpose.RECOVER)
    assert row.delivered is False
    again = send_code(Client(), capture, **details)
    assert "1 分钟内只能获取一次" in again.content.decode()


@pytest.mark.django_db
def test_right_code_leads_to_the_reset_page_showing_the_username(client, capture, candidate_a):
    recover_by_sms(client, capture, candidate_a)

    page = client.get(RESET_URL)

    assert page.status_code == 200
    assert candidate_a.username in page.content.decode()
    assert "您的用户名是" in page.content.decode()


@pytest.mark.django_db
def test_wrong_code_gets_a_generic_error(client, capture, candidate_a):
    send_code(client, capture, **identity(candidate_a))
    code = last_sms_code(candidate_a.phone)
    wrong = "000000" if code != "000000" else "111111"

    response = verify(client, **identity(candidate_a), sms_code=wrong)

    assert RECOVERY_FAILED in form_errors(response)["sms_code"][0]
    assert RECOVERY_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_generic_error_does_not_reveal_whether_the_account_exists(client, capture, candidate_a):
    existing = verify(client, **identity(candidate_a), sms_code="123456")
    stranger = {"real_name": "王五", "doc_number": make_id_number(), "phone": make_phone()}
    send_code(client, capture, **stranger)  # nothing is texted, but a code row exists
    unknown = verify(client, **stranger, sms_code="123456")

    assert form_errors(existing) == form_errors(unknown)
    assert RECOVERY_FAILED in form_errors(unknown)["sms_code"][0]


@pytest.mark.django_db
def test_right_code_with_someone_elses_name_is_refused(client, capture, candidate_a):
    send_code(client, capture, **identity(candidate_a))

    response = verify(
        client, **{**identity(candidate_a), "real_name": "李四"}, sms_code=last_sms_code(candidate_a.phone)
    )

    assert RECOVERY_FAILED in form_errors(response)["sms_code"][0]
    assert RECOVERY_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_recovery_code_cannot_be_used_twice(client, capture, candidate_a):
    recover_by_sms(client, capture, candidate_a)

    again = verify(Client(), **identity(candidate_a), sms_code=last_sms_code(candidate_a.phone))

    assert RECOVERY_FAILED in form_errors(again)["sms_code"][0]


@pytest.mark.django_db
def test_registration_code_does_not_recover_an_account(client, capture, candidate_a):
    SmsCode.objects.filter(phone=candidate_a.phone).update(created_at=timezone.now() - timedelta(minutes=2))
    with capture(execute=True):
        sms_code_send(phone=candidate_a.phone, purpose=SmsPurpose.REGISTER)

    response = verify(client, **identity(candidate_a), sms_code=last_sms_code(candidate_a.phone))

    assert RECOVERY_FAILED in form_errors(response)["sms_code"][0]
    assert RECOVERY_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_wrong_captcha_keeps_the_code(client, capture, candidate_a):
    send_code(client, capture, **identity(candidate_a))
    code = last_sms_code(candidate_a.phone)

    refused = client.post(SMS_URL, {**identity(candidate_a), "sms_code": code, "captcha_0": "k", "captcha_1": "no"})
    assert "图片验证码不正确" in form_errors(refused)["captcha"][0]

    assert verify(client, **identity(candidate_a), sms_code=code).url == RESET_URL


# --- Reset ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "expected"),
    [
        pytest.param("Ab1", "至少 8 个字符", id="too-short"),
        pytest.param("12345678", "字母和数字", id="all-digits"),
        pytest.param("password123", "这个密码太常见了", id="common"),
        pytest.param(None, "密码不能使用证件号码", id="id-number"),
    ],
)
def test_reset_refuses_a_weak_password(client, capture, candidate_a, password, expected):
    recover_by_sms(client, capture, candidate_a)
    password = password or f"Ab{candidate_a.candidate_profile.doc_number}"

    response = client.post(RESET_URL, {"new_password1": password, "new_password2": password})

    assert expected in " ".join(form_errors(response)["new_password1"])
    candidate_a.refresh_from_db()
    assert candidate_a.check_password(PASSWORD)
    assert not AuditEntry.objects.filter(action="accounts.password.reset").exists()


@pytest.mark.django_db
def test_reset_refuses_mismatched_passwords(client, capture, candidate_a):
    recover_by_sms(client, capture, candidate_a)

    response = client.post(RESET_URL, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"})

    assert "两次输入的密码不一致" in form_errors(response)["new_password2"][0]
    candidate_a.refresh_from_db()
    assert candidate_a.check_password(PASSWORD)


@pytest.mark.django_db
def test_reset_sets_the_new_password_and_tells_the_candidate(client, capture, candidate_a):
    elsewhere = Client()
    elsewhere.force_login(candidate_a)
    recover_by_sms(client, capture, candidate_a)
    locmem.clear()

    with capture(execute=True):
        response = client.post(RESET_URL, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert response.url == LOGIN_URL
    assert RECOVERY_SESSION_KEY not in client.session
    # Audit, inbox message and an SMS to the bound phone (sent after commit).
    entry = AuditEntry.objects.get(action="accounts.password.reset")
    assert (entry.actor, entry.object_id) == (candidate_a, str(candidate_a.pk))
    assert Notification.objects.filter(user=candidate_a, event="password_changed").count() == 1
    assert [(m.phone, m.event) for m in locmem.outbox] == [(candidate_a.phone, "password_changed")]
    # The new password works, the old one does not, and other sessions were signed out.
    assert login(Client(), candidate_a.username, PASSWORD).status_code == 200
    fresh = Client()
    assert login(fresh, candidate_a.username, NEW_PASSWORD).status_code == 302
    assert fresh.session[SESSION_KEY] == str(candidate_a.pk)
    assert elsewhere.get(HOME_URL).status_code == 302
    # The recovery cannot be replayed.
    assert client.get(RESET_URL).url == RECOVER_URL


@pytest.mark.django_db
def test_password_reset_lifts_a_login_lockout(client, capture, candidate_a):
    # The lockout page offers recovery as the way back in: after a reset the new password must work.
    browser = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(browser, candidate_a.username, "Wrong2026pass")
    locked = login(browser, candidate_a.username, PASSWORD)
    assert locked.status_code == 429
    assert "找回密码/账户" in locked.content.decode()

    recover_by_sms(browser, capture, candidate_a)
    browser.post(RESET_URL, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    response = login(browser, candidate_a.username, NEW_PASSWORD)
    assert response.status_code == 302
    assert browser.session[SESSION_KEY] == str(candidate_a.pk)


@pytest.mark.django_db
def test_password_changed_sms_is_not_sent_before_commit(client, capture, candidate_a):
    recover_by_sms(client, capture, candidate_a)
    locmem.clear()

    with capture(execute=False) as callbacks:
        client.post(RESET_URL, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert locmem.outbox == []
    assert len(callbacks) == 2  # the SMS and the e-mail copy, both queued for after commit


@pytest.mark.django_db
def test_reset_page_without_proof_redirects_to_recovery(client, candidate_a):
    for method in (client.get, client.post):
        response = method(RESET_URL)
        assert response.status_code == 302
        assert response.url == RECOVER_URL


@pytest.mark.django_db
def test_reset_session_expires(client, capture, candidate_a):
    recover_by_sms(client, capture, candidate_a)
    age_session_state(client, RECOVERY_SESSION_KEY, RECOVERY_TTL + timedelta(seconds=1))

    response = client.post(RESET_URL, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert response.url == RECOVER_URL
    assert "找回流程已过期" in client.get(RECOVER_URL).content.decode()
    candidate_a.refresh_from_db()
    assert candidate_a.check_password(PASSWORD)


@pytest.mark.django_db
def test_reset_session_still_valid_within_the_time_limit(client, capture, candidate_a):
    recover_by_sms(client, capture, candidate_a)
    age_session_state(client, RECOVERY_SESSION_KEY, RECOVERY_TTL - timedelta(seconds=30))

    assert client.get(RESET_URL).status_code == 200


# --- By security question -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lookup_with_unknown_name_or_number_says_so(client, candidate_a):
    for overrides in ({"real_name": "李四"}, {"doc_number": make_id_number()}):
        response = look_up(client, candidate_a, **overrides)
        assert "未找到与该姓名和证件号码匹配的账户" in " ".join(form_errors(response)["__all__"])
        assert RECOVERY_LOOKUP_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_lookup_needs_the_captcha(client, candidate_a):
    response = look_up(client, candidate_a, captcha_1="wrong")

    assert "图片验证码不正确" in form_errors(response)["captcha"][0]
    assert RECOVERY_LOOKUP_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_lookup_shows_the_security_question(client, candidate_a):
    response = look_up(client, candidate_a)
    assert response.status_code == 302
    assert response.url == ANSWER_URL

    page = client.get(ANSWER_URL)

    assert page.status_code == 200
    assert "我的出生地是？" in page.content.decode()
    assert candidate_a.username not in page.content.decode()  # not before the answer is right


@pytest.mark.django_db
def test_wrong_answer_is_refused(client, candidate_a):
    look_up(client, candidate_a)

    response = answer(client, "上海")

    assert "答案不正确" in form_errors(response)["answer"][0]
    assert RECOVERY_SESSION_KEY not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["北京", " 北 京 ", "北京　"])
def test_right_answer_leads_to_the_reset_page_showing_the_username(client, candidate_a, text):
    look_up(client, candidate_a)

    response = answer(client, text)

    assert response.status_code == 302
    assert response.url == RESET_URL
    assert RECOVERY_LOOKUP_SESSION_KEY not in client.session
    page = client.get(RESET_URL)
    assert candidate_a.username in page.content.decode()


@pytest.mark.django_db
def test_five_wrong_answers_lock_the_question_even_for_the_right_answer(client, candidate_a):
    look_up(client, candidate_a)
    for _ in range(services.RECOVERY_ANSWER_ATTEMPTS):
        assert "答案不正确" in form_errors(answer(client, "上海"))["answer"][0]

    response = answer(client, "北京")

    assert "答案错误次数过多" in form_errors(response)["answer"][0]
    assert "一小时后再试" in response.content.decode()
    assert RECOVERY_SESSION_KEY not in client.session
    # A new lookup from another browser does not lift the lock: it belongs to the account.
    other = Client()
    look_up(other, candidate_a)
    assert "答案错误次数过多" in form_errors(answer(other, "北京"))["answer"][0]


@pytest.mark.django_db
def test_the_answer_lock_is_per_account(candidate_a, candidate_b):
    for _ in range(services.RECOVERY_ANSWER_ATTEMPTS):
        with pytest.raises(KaowuError) as caught:
            services.recovery_check_answer(user=candidate_a, answer="上海")
        assert caught.value.code == "accounts.answer_wrong"

    with pytest.raises(KaowuError) as caught:
        services.recovery_check_answer(user=candidate_a, answer="北京")
    assert (caught.value.code, caught.value.status) == ("accounts.recovery_locked", 429)

    services.recovery_check_answer(user=candidate_b, answer="北京")  # another account is not locked


@pytest.mark.django_db
def test_answer_page_without_a_lookup_redirects(client):
    response = client.get(ANSWER_URL)
    assert response.status_code == 302
    assert response.url == QUESTION_URL


@pytest.mark.django_db
def test_lookup_session_expires(client, candidate_a):
    look_up(client, candidate_a)
    age_session_state(client, RECOVERY_LOOKUP_SESSION_KEY, RECOVERY_TTL + timedelta(seconds=1))

    response = answer(client, "北京")

    assert response.status_code == 302
    assert response.url == QUESTION_URL
    assert RECOVERY_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_reset_after_security_question_works(client, candidate_a, capture):
    look_up(client, candidate_a)
    answer(client, "北京")

    with capture(execute=True):
        response = client.post(RESET_URL, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response.url == LOGIN_URL
    candidate_a.refresh_from_db()
    assert candidate_a.check_password(NEW_PASSWORD)
    assert AuditEntry.objects.filter(action="accounts.password.reset", actor=candidate_a).count() == 1


@pytest.mark.django_db
def test_inactive_account_cannot_be_recovered(client, candidate_a):
    look_up(client, candidate_a)
    candidate_a.is_active = False
    candidate_a.save(update_fields=["is_active"])

    response = client.get(ANSWER_URL)

    assert response.status_code == 302
    assert response.url == QUESTION_URL


# --- ACC-5 "forgot user name" -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_recovery_tells_a_forgetful_candidate_their_username_without_changing_anything(client, capture, candidate_b):
    recover_by_sms(client, capture, candidate_b)

    page = client.get(RESET_URL).content.decode()

    assert candidate_b.username in page
    assert "也可以用证件号码登录" in page
    candidate_b.refresh_from_db()
    assert candidate_b.check_password(PASSWORD)
    # They can simply go and log in with the user name they just saw.
    assert login(Client(), candidate_b.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_recovery_start_page_offers_both_ways(client):
    page = client.get(RECOVER_URL)
    assert page.status_code == 200
    text = page.content.decode()
    assert SMS_URL in text
    assert QUESTION_URL in text
