"""Registration (ACC-1), its password/captcha/SMS checks (ACC-2) and the second confirmation (ACC-3).

Issue: "Each gets a clear message, nothing is stored, no 500".
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest
from captcha.models import CaptchaStore
from django.apps import apps
from django.contrib.sessions.models import Session
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from kaowu.accounts import services
from kaowu.accounts.models import CandidateProfile, EducationRecord, User
from kaowu.accounts.selectors import document_number_hash
from kaowu.accounts.views import REGISTRATION_SESSION_KEY
from kaowu.catalog.models import NoticeAcceptance, NoticeKind
from kaowu.catalog.services import notice_publish
from kaowu.conftest import (
    PASSWORD,
    identity_of,
    last_sms_code,
    make_id_number,
    make_phone,
    platform_notices,
    register_candidate,
    registration_kwargs,
)
from kaowu.core.errors import KaowuError
from kaowu.core.masking import mask_phone
from kaowu.core.models import AuditEntry
from kaowu.notifications.models import SmsCode, SmsPurpose
from kaowu.notifications.services import sms_code_send, sms_code_verify

AGREEMENT_URL = reverse("accounts:register")
NOTICE_URL = reverse("accounts:register_notice")
FORM_URL = reverse("accounts:register_form")
CONFIRM_URL = reverse("accounts:register_confirm")
LOGIN_URL = reverse("accounts:login")

_counter = iter(range(1, 10_000))


@pytest.fixture(autouse=True)
def _published_notices(db):
    """Registration needs the platform's user agreement and registration notice to be published."""
    platform_notices()


# --- Helpers: walk the registration pages ---------------------------------------------------------------


def agree(client) -> None:
    """Steps 1 and 2: accept the user agreement, read the notice."""
    response = client.post(AGREEMENT_URL, {"accept": "on"})
    assert response.status_code == 302
    assert response.url == NOTICE_URL
    response = client.post(NOTICE_URL)
    assert response.status_code == 302
    assert response.url == FORM_URL


def request_code(client, capture, phone: str):
    """The "获取短信验证码" button, as htmx posts it."""
    with capture(execute=True):
        return client.post(FORM_URL, {"action": "send_code", "phone": phone}, headers={"HX-Request": "true"})


def form_data(**overrides) -> dict:
    n = next(_counter)
    data = {
        "username": f"user{n}reg",
        "real_name": "张伟",
        "doc_type": "id_card",
        "doc_number": make_id_number(),
        "gender": "",
        "birth_date": "",
        "phone": make_phone(),
        "sms_code": "",
        "email": f"user{n}@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "edu_level": "bachelor",
        "edu_degree": "bachelor",
        "edu_school": "北京大学",
        "edu_major": "法学",
        "edu_graduated_on": "2012-07-01",
        "edu_study_mode": "full_time",
        "security_question": "我的出生地是？",
        "security_answer": "北京",
        "captcha_0": "test-key",
        "captcha_1": "PASSED",
    }
    data.update(overrides)
    return data


def submit_form(client, capture, *, get_code: bool = True, **overrides):
    """Step 3: fetch an SMS code for the phone (unless told not to) and submit the registration form."""
    data = form_data(**overrides)
    if get_code:
        sent = request_code(client, capture, data["phone"])
        assert sent.status_code == 200
        if "sms_code" not in overrides:
            data["sms_code"] = last_sms_code(data["phone"])
    return client.post(FORM_URL, data), data


def confirmation_of(data: dict, **overrides) -> dict:
    payload = {
        "real_name": data["real_name"],
        "doc_type": data["doc_type"],
        "doc_number": data["doc_number"],
        "education_level": data["edu_level"],
        "degree": data["edu_degree"],
    }
    payload.update(overrides)
    return payload


def register_via_views(client, capture, **overrides) -> dict:
    agree(client)
    response, data = submit_form(client, capture, **overrides)
    assert response.status_code == 302, response.context["form"].errors
    assert response.url == CONFIRM_URL
    response = client.post(CONFIRM_URL, confirmation_of(data))
    assert response.status_code == 302, response.context["form"].errors
    assert response.url == LOGIN_URL
    return data


def stored() -> tuple[int, int, int, int]:
    return (
        User.objects.count(),
        CandidateProfile.objects.count(),
        EducationRecord.objects.count(),
        AuditEntry.objects.filter(action="accounts.candidate.registered").count(),
    )


def form_errors(response) -> dict:
    assert response.status_code == 200
    return response.context["form"].errors


def code_still_usable(phone: str, code: str) -> bool:
    try:
        sms_code_verify(phone=phone, purpose=SmsPurpose.REGISTER, code=code)
    except KaowuError:
        return False
    return True


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


# --- Happy path -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_registration_through_the_pages_creates_one_account(client, capture):
    data = register_via_views(client, capture, gender="F", birth_date="2001-01-01")

    assert stored() == (1, 1, 1, 1)
    user = User.objects.get()
    assert user.username == data["username"]
    assert user.real_name == "张伟"
    assert user.phone == data["phone"]
    assert user.email == data["email"]
    assert user.check_password(PASSWORD)
    profile = user.candidate_profile
    # Gender and birth date come from the ID number (1990-05-17, odd 17th digit), not from the input.
    assert profile.gender == "M"
    assert profile.birth_date == date(1990, 5, 17)
    assert profile.doc_type == "id_card"
    assert profile.identity_confirmed_at is not None
    # The exact versions of the agreement and the notice shown are recorded, with time and IP (CAT-5).
    accepted = NoticeAcceptance.objects.filter(user=user).select_related("notice")
    assert sorted(a.notice.kind for a in accepted) == sorted(services.REGISTRATION_NOTICE_KINDS)
    assert {a.notice_id for a in accepted} == set(platform_notices())
    assert all(a.ip == "127.0.0.1" for a in accepted)
    assert profile.security_question == "我的出生地是？"
    assert "北京" not in profile.security_answer_hash
    record = EducationRecord.objects.get()
    assert (record.user, record.level, record.degree, record.school, record.major) == (
        user,
        "bachelor",
        "bachelor",
        "北京大学",
        "法学",
    )
    assert record.graduated_on == date(2012, 7, 1)
    # The registration state is gone from the session, and the login page greets the new candidate.
    assert REGISTRATION_SESSION_KEY not in client.session
    assert "注册成功" in client.get(LOGIN_URL).content.decode()


@pytest.mark.django_db
def test_registration_stores_the_id_number_only_encrypted_hashed_and_masked(client, capture):
    data = register_via_views(client, capture)
    number = data["doc_number"]
    profile = CandidateProfile.objects.get()

    assert profile.doc_number_encrypted != number
    assert number not in profile.doc_number_encrypted
    assert profile.doc_number == number  # decrypts back for its owner
    assert profile.doc_number_hash == document_number_hash(number)
    assert number not in profile.doc_number_hash
    assert profile.doc_number_masked == f"{number[:6]}{'*' * 8}{number[-4:]}"
    assert profile.doc_number_masked.startswith("110105********")
    # Not in clear in any row of any table (sessions included: the registration state was removed).
    for model in apps.get_models():
        for row in model.objects.values():
            assert number not in json.dumps(row, default=str, ensure_ascii=False), model


@pytest.mark.django_db
def test_pending_registration_keeps_the_id_number_out_of_the_session_store(client, capture):
    # Between the form and the confirmation the registration waits in the (database) session; a candidate
    # who walks away leaves it there until the session expires. ADR 0002: never the number in clear.
    agree(client)
    response, data = submit_form(client, capture)
    assert response.url == CONFIRM_URL

    session = Session.objects.get(session_key=client.session.session_key)
    assert data["doc_number"] not in json.dumps(session.get_decoded(), ensure_ascii=False)
    # The confirmation still compares against the real number.
    assert client.post(CONFIRM_URL, confirmation_of(data)).url == LOGIN_URL
    assert CandidateProfile.objects.get().doc_number == data["doc_number"]


@pytest.mark.django_db
def test_registration_writes_an_audit_row_with_masked_data(client, capture):
    data = register_via_views(client, capture)
    user = User.objects.get()
    entry = AuditEntry.objects.get(action="accounts.candidate.registered")

    assert entry.actor == user
    assert entry.object_type == "accounts.candidateprofile"
    assert entry.object_id == str(user.pk)
    assert entry.ip == "127.0.0.1"
    assert entry.after["username"] == data["username"]
    assert entry.after["doc_type"] == "id_card"
    assert entry.after["doc_number"] == user.candidate_profile.doc_number_masked
    assert entry.after["phone"] == mask_phone(data["phone"])
    assert sorted(entry.after["notices"]) == sorted(platform_notices())
    dumped = json.dumps([entry.before, entry.after], ensure_ascii=False)
    assert data["doc_number"] not in dumped
    assert data["phone"] not in dumped


@pytest.mark.django_db
def test_registration_with_a_non_id_document_uses_the_gender_and_birth_date_given(client, capture):
    register_via_views(client, capture, doc_type="passport", doc_number="e1234567", gender="F", birth_date="1985-03-02")

    profile = CandidateProfile.objects.get()
    assert profile.doc_type == "passport"
    assert profile.doc_number == "E1234567"
    assert profile.doc_number_masked == "E1****67"
    assert (profile.gender, profile.birth_date) == ("F", date(1985, 3, 2))


# --- ACC-9: rare characters -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rare_character_name_is_stored_shown_and_found_in_recovery(client, capture):
    data = register_via_views(client, capture, real_name="李𠀀明")
    user = User.objects.get()
    assert user.real_name == "李𠀀明"
    assert len(user.real_name) == 3  # the extension-B character is one code point, not two surrogates

    client.force_login(user)
    home = client.get(reverse("accounts:home"))
    assert home.status_code == 200
    assert "李𠀀明" in home.content.decode()
    client.logout()

    lookup = {"doc_number": data["doc_number"], "captcha_0": "k", "captcha_1": "PASSED"}
    found = client.post(reverse("accounts:recover_question"), {"real_name": "李𠀀明", **lookup})
    assert found.status_code == 302
    assert found.url == reverse("accounts:recover_answer")
    # Exact name only: the substitute spelling with brackets, or dropping the rare character, finds nothing.
    for other in ("李[𠀀]明", "李明"):
        refused = client.post(reverse("accounts:recover_question"), {"real_name": other, **lookup})
        assert refused.status_code == 200
        assert "未找到与该姓名和证件号码匹配的账户" in refused.content.decode()


@pytest.mark.django_db
def test_rare_character_name_must_be_retyped_exactly_in_the_confirmation(client, capture):
    agree(client)
    response, data = submit_form(client, capture, real_name="王晓𠀀")
    assert response.status_code == 302

    mismatch = client.post(CONFIRM_URL, confirmation_of(data, real_name="王晓[沛]"))
    assert "姓名" in form_errors(mismatch)["__all__"][0]
    assert stored() == (0, 0, 0, 0)

    ok = client.post(CONFIRM_URL, confirmation_of(data))
    assert ok.status_code == 302
    assert User.objects.get().real_name == "王晓𠀀"


# --- ACC-1: duplicates -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_duplicate_id_refused(client, capture, candidate_a):
    before = stored()
    number = candidate_a.candidate_profile.doc_number
    agree(client)

    response, data = submit_form(client, capture, doc_number=number)

    errors = form_errors(response)
    assert "该证件号码已注册" in errors["doc_number"][0]
    assert "找回密码/账户" in errors["doc_number"][0]
    assert "该证件号码已注册" in response.content.decode()
    assert stored() == before
    # The SMS code was not spent on a form that failed for another reason.
    assert code_still_usable(data["phone"], data["sms_code"])


@pytest.mark.django_db
def test_duplicate_id_refused_whatever_the_spelling_of_the_number(client, capture):
    number = make_id_number()
    register_candidate(doc_number=number)
    before = stored()
    agree(client)

    full_width = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    response, _ = submit_form(client, capture, doc_number=f" {full_width[:6]} {full_width[6:]} ")

    assert "该证件号码已注册" in form_errors(response)["doc_number"][0]
    assert stored() == before


@pytest.mark.django_db
def test_duplicate_phone_refused(client, capture, candidate_a):
    before = stored()
    agree(client)

    # At the send-code button: refused at once, and no code is sent.
    sent = request_code(client, capture, candidate_a.phone)
    assert sent.status_code == 200
    assert "该手机号已绑定其他账户" in sent.content.decode()
    assert SmsCode.objects.filter(phone=candidate_a.phone, purpose=SmsPurpose.REGISTER).count() == 1  # the fixture's

    # At submit time, when the phone got bound after the code was sent.
    phone = make_phone()
    request_code(client, capture, phone)
    code = last_sms_code(phone)
    User.objects.create_user(username="latecomer", password=PASSWORD, phone=phone)
    response, _ = submit_form(client, capture, get_code=False, phone=phone, sms_code=code)

    assert "该手机号已绑定其他账户" in form_errors(response)["phone"][0]
    assert stored()[1:] == before[1:]
    assert User.objects.count() == before[0] + 1  # only the latecomer
    assert code_still_usable(phone, code)


@pytest.mark.django_db
def test_duplicate_username_refused_case_insensitively(client, capture, candidate_a):
    before = stored()
    agree(client)

    response, _ = submit_form(client, capture, username=candidate_a.username.upper())

    assert "该用户名已被使用" in form_errors(response)["username"][0]
    assert stored() == before


# --- ACC-2: captcha, SMS code, password ------------------------------------------------------------------


@pytest.mark.django_db
def test_wrong_captcha_refused(client, capture):
    store = CaptchaStore.objects.create(challenge="ABCD", response="abcd")
    agree(client)

    response, data = submit_form(client, capture, captcha_0=store.hashkey, captcha_1="wxyz")

    assert "图片验证码不正确" in form_errors(response)["captcha"][0]
    assert stored() == (0, 0, 0, 0)
    assert code_still_usable(data["phone"], data["sms_code"])


@pytest.mark.django_db
def test_real_captcha_answer_accepted(client, capture):
    store = CaptchaStore.objects.create(challenge="ABCD", response="abcd")
    agree(client)

    response, _ = submit_form(client, capture, captcha_0=store.hashkey, captcha_1="ABCD")

    assert response.status_code == 302
    assert response.url == CONFIRM_URL


@pytest.mark.django_db
def test_send_code_returns_a_status_line_and_texts_the_phone(client, capture):
    agree(client)
    phone = make_phone()

    sent = request_code(client, capture, phone)

    assert sent.status_code == 200
    assert "验证码已发送" in sent.content.decode()
    assert "<html" not in sent.content.decode()  # the htmx partial, not the page
    assert len(last_sms_code(phone)) == 6

    again = request_code(client, capture, phone)
    assert "1 分钟内只能获取一次" in again.content.decode()
    assert "text-danger" in again.content.decode()
    assert SmsCode.objects.filter(phone=phone).count() == 1


@pytest.mark.django_db
def test_send_code_without_javascript_shows_the_form_again_with_the_status(client, capture):
    agree(client)
    data = form_data()
    with capture(execute=True):
        response = client.post(FORM_URL, {**data, "action": "send_code"})

    assert response.status_code == 200
    assert "验证码已发送" in response.content.decode()
    assert response.context["form"]["username"].value() == data["username"]
    assert stored() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_send_code_with_an_invalid_phone_says_so(client, capture):
    agree(client)
    sent = request_code(client, capture, "12345")
    assert "请输入正确的 11 位手机号码" in sent.content.decode()
    assert not SmsCode.objects.exists()


@pytest.mark.django_db
def test_wrong_sms_code_refused(client, capture):
    agree(client)
    response, data = submit_form(client, capture, sms_code="000000")
    if last_sms_code(data["phone"]) == "000000":  # pragma: no cover - one chance in a million
        pytest.skip("the random code happened to be 000000")

    assert "短信验证码不正确" in form_errors(response)["sms_code"][0]
    assert stored() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_expired_sms_code_refused(client, capture):
    agree(client)
    phone = make_phone()
    request_code(client, capture, phone)
    SmsCode.objects.filter(phone=phone).update(expires_at=timezone.now() - timedelta(seconds=1))

    response, _ = submit_form(client, capture, get_code=False, phone=phone, sms_code=last_sms_code(phone))

    assert "短信验证码已失效" in form_errors(response)["sms_code"][0]
    assert stored() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_reused_sms_code_refused(client, capture):
    agree(client)
    response, data = submit_form(client, capture)
    assert response.status_code == 302  # the code was consumed by this successful step

    # The candidate goes back to the form and submits again with the same code.
    again = client.post(FORM_URL, data)

    assert "短信验证码已失效" in form_errors(again)["sms_code"][0]
    assert stored() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_sms_code_for_another_phone_refused(client, capture):
    agree(client)
    other = make_phone()
    request_code(client, capture, other)

    response, _ = submit_form(client, capture, sms_code=last_sms_code(other))

    assert "sms_code" in form_errors(response)
    assert stored() == (0, 0, 0, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "expected"),
    [
        pytest.param("Ab1cd2", "至少 8 个字符", id="too-short"),
        pytest.param("20260317", "密码须同时包含字母和数字", id="all-digits"),
        pytest.param("abcdefghij", "密码须同时包含字母和数字", id="no-digit"),
        pytest.param("password123", "这个密码太常见了", id="common"),
    ],
)
def test_weak_password_refused(client, capture, password, expected):
    agree(client)
    response, data = submit_form(client, capture, password1=password, password2=password)

    messages = " ".join(form_errors(response)["password1"])
    assert expected in messages
    assert stored() == (0, 0, 0, 0)
    assert code_still_usable(data["phone"], data["sms_code"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make_password",
    [
        pytest.param(lambda number: number, id="the-number"),
        pytest.param(lambda number: f"Ab{number.lower()}", id="containing-the-number"),
        pytest.param(lambda number: number[-8:], id="last-eight"),
        pytest.param(lambda number: number[-6:], id="last-six"),
    ],
)
def test_password_equal_to_or_containing_the_id_number_refused(client, capture, make_password):
    number = make_id_number()
    password = make_password(number)
    agree(client)

    response, _ = submit_form(client, capture, doc_number=number, password1=password, password2=password)

    messages = " ".join(form_errors(response)["password1"])
    assert "密码不能使用证件号码" in messages
    assert number not in messages
    assert stored() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_password_mismatch_refused(client, capture):
    agree(client)
    response, data = submit_form(client, capture, password2=PASSWORD + "x")

    assert "两次输入的密码不一致" in form_errors(response)["password2"][0]
    assert stored() == (0, 0, 0, 0)
    assert code_still_usable(data["phone"], data["sms_code"])


@pytest.mark.django_db
def test_invalid_id_number_refused(client, capture):
    number = make_id_number()
    wrong_check = "0" if number[-1] != "0" else "1"
    agree(client)

    response, data = submit_form(client, capture, doc_number=number[:17] + wrong_check)

    assert "校验位不正确" in form_errors(response)["doc_number"][0]
    assert stored() == (0, 0, 0, 0)
    assert code_still_usable(data["phone"], data["sms_code"])


@pytest.mark.django_db
def test_non_id_document_requires_gender_and_birth_date(client, capture):
    agree(client)
    response, _ = submit_form(client, capture, doc_type="passport", doc_number="E1234567")

    errors = form_errors(response)
    assert "请选择性别" in errors["gender"][0]
    assert "请填写出生日期" in errors["birth_date"][0]
    assert stored() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_missing_fields_are_named_and_nothing_is_stored(client, capture):
    agree(client)
    response = client.post(FORM_URL, {"captcha_0": "k", "captcha_1": "PASSED"})

    errors = form_errors(response)
    for field in ("username", "real_name", "doc_number", "phone", "sms_code", "email", "password1", "edu_school"):
        assert field in errors
    assert stored() == (0, 0, 0, 0)


# --- ACC-1: steps cannot be skipped ------------------------------------------------------------------------


@pytest.mark.django_db
def test_agreement_must_be_accepted(client):
    response = client.post(AGREEMENT_URL, {"accept": ""})
    assert "请先阅读并勾选同意用户协议" in form_errors(response)["accept"][0]
    assert REGISTRATION_SESSION_KEY not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("url", [NOTICE_URL, FORM_URL, CONFIRM_URL])
def test_later_steps_without_the_agreement_redirect_to_the_agreement(client, url):
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == 302
        assert response.url == AGREEMENT_URL
    assert stored() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_form_before_reading_the_notice_redirects_to_the_agreement(client):
    client.post(AGREEMENT_URL, {"accept": "on"})
    response = client.get(FORM_URL)
    assert response.status_code == 302
    assert response.url == AGREEMENT_URL


@pytest.mark.django_db
def test_confirm_without_a_checked_form_redirects(client):
    agree(client)
    response = client.get(CONFIRM_URL)
    assert response.status_code == 302
    assert response.url == AGREEMENT_URL


@pytest.mark.django_db
def test_signed_in_user_is_sent_home_from_registration(client, candidate_a):
    client.force_login(candidate_a)
    response = client.get(AGREEMENT_URL)
    assert response.status_code == 302
    assert response.url == reverse("accounts:home")


# --- ACC-3: second confirmation ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "wrong", "label"),
    [
        pytest.param("real_name", "王伟", "姓名", id="name"),
        pytest.param("doc_number", None, "证件号码", id="doc-number"),
        pytest.param("education_level", "master", "学历", id="education-level"),
        pytest.param("degree", "master", "学位", id="degree"),
        pytest.param("doc_type", "hmt_residence", "证件类型", id="doc-type"),
    ],
)
def test_mismatched_second_confirmation_names_the_field_not_the_value(client, capture, field, wrong, label):
    agree(client)
    response, data = submit_form(client, capture)
    assert response.url == CONFIRM_URL
    if wrong is None:
        wrong = make_id_number()

    mismatch = client.post(CONFIRM_URL, confirmation_of(data, **{field: wrong}))

    message = form_errors(mismatch)["__all__"][0]
    assert "以下信息与您填写的不一致" in message
    assert label in message
    expected = confirmation_of(data)[field]
    for value in {expected, wrong, "大学本科", "硕士研究生", "学士", "硕士"} - {""}:
        assert value not in message
    for other in {"姓名", "证件号码", "学历", "学位"} - {label}:
        assert other not in message.split("：", 1)[1]
    assert stored() == (0, 0, 0, 0)

    # The pending registration survives the mismatch: typing it right completes the registration.
    ok = client.post(CONFIRM_URL, confirmation_of(data))
    assert ok.status_code == 302
    assert ok.url == LOGIN_URL
    assert stored() == (1, 1, 1, 1)


@pytest.mark.django_db
def test_mismatch_of_several_fields_names_each(client, capture):
    agree(client)
    _, data = submit_form(client, capture)

    mismatch = client.post(
        CONFIRM_URL, confirmation_of(data, real_name="王伟", doc_number=make_id_number(), education_level="master")
    )

    message = form_errors(mismatch)["__all__"][0]
    assert all(label in message for label in ("姓名", "证件号码", "学历"))
    assert stored() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_confirmation_accepts_the_number_typed_in_lower_case_or_full_width(client, capture):
    number = make_id_number()
    while number[-1] != "X":
        number = make_id_number()
    agree(client)
    _, data = submit_form(client, capture, doc_number=number)

    typed = number[:17].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + "x"
    response = client.post(CONFIRM_URL, confirmation_of(data, doc_number=typed))

    assert response.status_code == 302
    assert CandidateProfile.objects.get().doc_number == number


@pytest.mark.django_db
def test_number_registered_meanwhile_is_refused_at_confirmation(client, capture):
    agree(client)
    response, data = submit_form(client, capture)
    assert response.url == CONFIRM_URL
    # Someone else registers the same number between the two steps.
    register_candidate(doc_number=data["doc_number"])
    before = stored()

    refused = client.post(CONFIRM_URL, confirmation_of(data))

    assert "该证件号码已注册" in form_errors(refused)["doc_number"][0]
    assert stored() == before


@pytest.mark.django_db
def test_insert_race_becomes_a_clear_error_not_a_500(client, capture, monkeypatch):
    agree(client)
    response, data = submit_form(client, capture)
    assert response.url == CONFIRM_URL
    register_candidate(doc_number=data["doc_number"])
    before = stored()
    # The other registration slips in between the availability check and the insert.
    checks = []
    monkeypatch.setattr(services, "_check_available", lambda **kwargs: checks.append(kwargs))

    refused = client.post(CONFIRM_URL, confirmation_of(data))

    assert checks
    assert refused.status_code == 200
    assert "刚刚已被注册" in " ".join(form_errors(refused)["__all__"])
    assert stored() == before


# --- Services ---------------------------------------------------------------------------------------------


def _with_code(**overrides) -> dict:
    kwargs = registration_kwargs(**overrides)
    sms_code_send(phone=kwargs["phone"], purpose=SmsPurpose.REGISTER)
    return kwargs


@pytest.fixture
def sent_registration(django_capture_on_commit_callbacks):
    def make(**overrides) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            kwargs = _with_code(**overrides)
        kwargs["sms_code"] = last_sms_code(kwargs["phone"])
        return kwargs

    return make


@pytest.mark.django_db
def test_registration_start_consumes_the_code_only_when_everything_else_passes(sent_registration):
    kwargs = sent_registration(password="short1")

    with pytest.raises(KaowuError) as caught:
        services.registration_start(**kwargs)
    assert caught.value.code == "accounts.weak_password"
    assert caught.value.field == "password1"

    # The same code still works once the password is fixed…
    pending = services.registration_start(**{**kwargs, "password": PASSWORD})
    assert pending.phone == kwargs["phone"]
    # …and then it is spent.
    with pytest.raises(KaowuError) as caught:
        services.registration_start(**{**kwargs, "password": PASSWORD})
    assert caught.value.code == "sms.code_expired"
    assert stored() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_registration_start_keeps_the_code_when_the_number_is_taken(sent_registration, candidate_a):
    kwargs = sent_registration(doc_number=candidate_a.candidate_profile.doc_number)

    with pytest.raises(KaowuError) as caught:
        services.registration_start(**kwargs)

    assert (caught.value.code, caught.value.field, caught.value.status) == (
        "accounts.document_taken",
        "doc_number",
        409,
    )
    assert not SmsCode.objects.filter(phone=kwargs["phone"], used_at__isnull=False).exists()


@pytest.mark.django_db
def test_registration_start_with_wrong_code_refuses(sent_registration):
    kwargs = sent_registration()
    wrong = "111111" if kwargs["sms_code"] != "111111" else "222222"

    with pytest.raises(KaowuError) as caught:
        services.registration_start(**{**kwargs, "sms_code": wrong})

    assert (caught.value.code, caught.value.field) == ("sms.code_wrong", "sms_code")


@pytest.mark.django_db
def test_registration_start_derives_gender_and_birth_date_from_the_id(sent_registration):
    number = make_id_number(birth=date(1988, 2, 29), female=True)
    kwargs = sent_registration(doc_number=number, gender="M", birth_date=date(2000, 1, 1))

    pending = services.registration_start(**kwargs)

    assert (pending.gender, pending.birth_date) == ("F", date(1988, 2, 29))


@pytest.mark.django_db
def test_registration_start_requires_gender_and_birth_date_for_other_documents(sent_registration):
    kwargs = sent_registration(doc_type="passport", doc_number="E7654321")

    with pytest.raises(KaowuError) as caught:
        services.registration_start(**kwargs)

    assert caught.value.code == "accounts.birth_date_required"
    assert "请填写性别和出生日期" in caught.value.message


@pytest.mark.django_db
def test_pending_registration_keeps_no_secret_in_clear(sent_registration):
    kwargs = sent_registration(security_answer="黄浦江畔")
    pending = services.registration_start(**kwargs)

    session_data = json.dumps(pending.to_session(), ensure_ascii=False)
    assert PASSWORD not in session_data
    assert kwargs["doc_number"] not in session_data
    assert kwargs["security_answer"] not in session_data
    assert services.PendingRegistration.from_session(json.loads(session_data)) == pending


@pytest.mark.django_db
def test_candidate_register_refuses_a_mismatch_without_the_values(sent_registration):
    pending = services.registration_start(**sent_registration(real_name="张伟"))
    confirmation = identity_of(pending, real_name="张玮")

    with pytest.raises(KaowuError) as caught:
        services.candidate_register(pending=pending, confirmation=confirmation)

    assert caught.value.code == "accounts.confirmation_mismatch"
    assert "姓名" in caught.value.message
    assert "张伟" not in caught.value.message
    assert "张玮" not in caught.value.message
    assert stored() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_candidate_register_refuses_a_number_taken_meanwhile(sent_registration):
    pending = services.registration_start(**sent_registration())
    register_candidate(doc_number=pending.doc_number)
    before = stored()
    confirmation = identity_of(pending)

    with pytest.raises(KaowuError) as caught:
        services.candidate_register(pending=pending, confirmation=confirmation)

    assert caught.value.code in {"accounts.document_taken", "accounts.duplicate"}
    assert caught.value.status == 409
    assert stored() == before


@pytest.mark.django_db
def test_candidate_register_turns_an_insert_race_into_a_kaowu_error(sent_registration, monkeypatch):
    pending = services.registration_start(**sent_registration())
    other = register_candidate(phone=make_phone())
    pending = replace(pending, phone=other.phone)  # the phone got bound by the other registration
    before = stored()
    monkeypatch.setattr(services, "_check_available", lambda **kwargs: None)
    confirmation = identity_of(pending)

    with pytest.raises(KaowuError) as caught:
        services.candidate_register(pending=pending, confirmation=confirmation)

    assert caught.value.code == "accounts.duplicate"
    assert isinstance(caught.value.__cause__, IntegrityError)
    assert stored() == before


@pytest.mark.django_db
def test_registration_is_unavailable_until_the_agreement_is_published(client):
    from kaowu.catalog.models import NoticeVersion

    NoticeVersion.objects.all().delete()

    response = client.get(reverse("accounts:register"))

    assert response.status_code == 503
    assert "尚未发布用户协议" in response.content.decode()


@pytest.mark.django_db
def test_agreement_page_shows_the_current_version(client):
    notice_publish(
        actor=None, programme=None, kind=NoticeKind.USER_AGREEMENT, title="用户协议（修订）", body="第二版条款。"
    )

    body = client.get(reverse("accounts:register")).content.decode()

    assert "用户协议（修订）" in body
    assert "第二版条款。" in body


@pytest.mark.django_db
def test_a_new_agreement_published_mid_registration_must_be_read_again(sent_registration):
    pending = services.registration_start(**sent_registration())
    notice_publish(actor=None, programme=None, kind=NoticeKind.USER_AGREEMENT, title="新协议", body="新条款。")

    with pytest.raises(KaowuError) as refused:
        services.candidate_register(pending=pending, confirmation=identity_of(pending))

    assert refused.value.code == "catalog.notice_outdated"
    assert not User.objects.filter(username=pending.username).exists()
    assert not NoticeAcceptance.objects.exists()


@pytest.mark.django_db
def test_registration_without_both_notices_accepted_is_refused(sent_registration):
    pending = services.registration_start(**sent_registration(accepted_notices=platform_notices()[:1]))

    with pytest.raises(KaowuError) as refused:
        services.candidate_register(pending=pending, confirmation=identity_of(pending))

    assert refused.value.code == "accounts.notices_not_accepted"
    assert not User.objects.filter(username=pending.username).exists()
