"""ACC-6: a candidate maintains contact data, phone, security question, password and education records.

Identity fields (name, document type and number, gender, birth date) are fixed after registration.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from kaowu.accounts import forms, services
from kaowu.accounts.models import CandidateProfile, EducationRecord, User
from kaowu.conftest import PASSWORD, last_sms_code, make_phone
from kaowu.core.errors import KaowuError
from kaowu.core.masking import mask_phone
from kaowu.core.models import AuditEntry
from kaowu.notifications.models import Notification
from kaowu.notifications.sms import locmem

CONTACT_URL = "/accounts/profile/contact/"
PHONE_URL = "/accounts/profile/phone/"
QUESTION_URL = "/accounts/profile/security-question/"
PASSWORD_URL = "/accounts/profile/password/"
EDUCATION_ADD_URL = "/accounts/profile/education/add/"
IDENTITY_FIELDS = {"real_name", "doc_type", "doc_number", "gender", "birth_date", "username"}


@pytest.fixture
def client_a(client, candidate_a):
    client.force_login(candidate_a)
    return client


def text_of(response) -> str:
    return response.content.decode()


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def contact_data(**overrides) -> dict:
    data = {
        "email": "new@example.com",
        "address": "北京市海淀区中关村大街1号",
        "postcode": "100080",
        "work_unit": "某律所",
    }
    data.update(overrides)
    return data


def education_post(**overrides) -> dict:
    data = {
        "edu_level": "master",
        "edu_degree": "master",
        "edu_school": "清华大学",
        "edu_major": "法律硕士",
        "edu_graduated_on": "2015-07-01",
        "edu_study_mode": "full_time",
    }
    data.update(overrides)
    return data


# --- Contact data ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_contact_edit_is_saved_and_audited_with_before_and_after(client_a, candidate_a):
    old_email = candidate_a.email

    response = client_a.post(CONTACT_URL, contact_data())

    assert response.status_code == 302
    assert response.url == reverse("accounts:home")
    candidate_a.refresh_from_db()
    profile = CandidateProfile.objects.get(user=candidate_a)
    assert candidate_a.email == "new@example.com"
    assert (profile.address, profile.postcode, profile.work_unit) == ("北京市海淀区中关村大街1号", "100080", "某律所")
    entry = AuditEntry.objects.get(action="accounts.contact.changed")
    assert entry.actor == candidate_a
    assert (entry.object_type, entry.object_id) == ("accounts.candidateprofile", str(candidate_a.pk))
    assert entry.before == {"email": old_email, "address": "", "postcode": "", "work_unit": ""}
    assert entry.after == contact_data()
    assert "联系信息已保存。" in text_of(client_a.get(response.url))


@pytest.mark.django_db
def test_contact_audit_holds_only_the_changed_fields(client_a, candidate_a):
    client_a.post(CONTACT_URL, contact_data())

    client_a.post(CONTACT_URL, contact_data(postcode="100081"))

    entry = AuditEntry.objects.filter(action="accounts.contact.changed").first()  # newest first
    assert entry.before == {"postcode": "100080"}
    assert entry.after == {"postcode": "100081"}


@pytest.mark.django_db
def test_contact_unchanged_writes_no_audit_row(client_a, candidate_a):
    client_a.post(CONTACT_URL, contact_data())

    client_a.post(CONTACT_URL, contact_data())

    assert AuditEntry.objects.filter(action="accounts.contact.changed").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"postcode": "10008"}, "邮政编码为 6 位数字。"),
        ({"postcode": "10008a"}, "邮政编码为 6 位数字。"),
        ({"postcode": "1000８0"}, "邮政编码为 6 位数字。"),  # full-width digit
        ({"email": "not-an-email"}, "输入一个有效的 Email 地址。"),
        ({"email": ""}, "这个字段是必须的"),
    ],
)
def test_invalid_contact_data_shows_field_error_and_changes_nothing(client_a, candidate_a, overrides, message):
    old_email = candidate_a.email

    response = client_a.post(CONTACT_URL, contact_data(**overrides))

    assert response.status_code == 200
    assert message in text_of(response)
    assert 'aria-invalid="true"' in text_of(response)
    candidate_a.refresh_from_db()
    profile = CandidateProfile.objects.get(user=candidate_a)
    assert candidate_a.email == old_email
    assert (profile.address, profile.postcode, profile.work_unit) == ("", "", "")
    assert not AuditEntry.objects.filter(action="accounts.contact.changed").exists()


# --- Identity is immutable ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_identity_fields_posted_to_the_contact_form_are_ignored(client_a, candidate_a, candidate_b):
    profile = CandidateProfile.objects.get(user=candidate_a)
    before = (
        candidate_a.real_name,
        candidate_a.username,
        profile.doc_type,
        profile.doc_number,
        profile.doc_number_hash,
        profile.doc_number_masked,
        profile.gender,
        profile.birth_date,
    )
    other = CandidateProfile.objects.get(user=candidate_b)

    response = client_a.post(
        CONTACT_URL,
        contact_data(
            real_name="王五",
            username="hijack",
            doc_type="passport",
            doc_number=other.doc_number,
            doc_number_hash=other.doc_number_hash,
            gender="F",
            birth_date="2000-01-01",
        ),
    )

    assert response.status_code == 302
    candidate_a.refresh_from_db()
    profile.refresh_from_db()
    after = (
        candidate_a.real_name,
        candidate_a.username,
        profile.doc_type,
        profile.doc_number,
        profile.doc_number_hash,
        profile.doc_number_masked,
        profile.gender,
        profile.birth_date,
    )
    assert after == before
    assert candidate_a.email == "new@example.com"  # the contact change itself went through
    entry = AuditEntry.objects.get(action="accounts.contact.changed")
    assert not IDENTITY_FIELDS & set(entry.after)


@pytest.mark.parametrize(
    "form_class",
    [
        forms.ContactForm,
        forms.ChangePhoneForm,
        forms.SecurityQuestionForm,
        forms.PasswordChangeForm,
        forms.EducationForm,
        forms.PhotoForm,
        forms.ScanForm,
    ],
)
def test_no_candidate_centre_form_has_an_identity_field(form_class):
    assert not IDENTITY_FIELDS & set(form_class.base_fields)


def test_no_account_url_edits_identity():
    from kaowu.accounts.urls import urlpatterns

    routes = [str(pattern.pattern) for pattern in urlpatterns]
    assert routes
    for word in ("name", "identity", "document", "doc", "id-card"):
        assert not [route for route in routes if word in route], word


# --- Phone change -----------------------------------------------------------------------------------


def send_phone_code(client, phone, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(PHONE_URL, {"action": "send_code", "phone": phone})


@pytest.mark.django_db
def test_phone_change_code_goes_to_the_new_number(client_a, candidate_a, django_capture_on_commit_callbacks):
    old_phone, new_phone = candidate_a.phone, make_phone()
    locmem.clear()  # the personas' registration codes

    response = send_phone_code(client_a, new_phone, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert "验证码已发送" in text_of(response)
    assert [(m.phone, m.event) for m in locmem.outbox] == [(new_phone, "verification_code")]
    assert not [m for m in locmem.outbox if m.phone == old_phone]


@pytest.mark.django_db
def test_phone_change_send_code_with_htmx_returns_the_status_line(
    client_a, candidate_a, django_capture_on_commit_callbacks
):
    new_phone = make_phone()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(PHONE_URL, {"action": "send_code", "phone": new_phone}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "<html" not in text_of(response)
    assert "验证码已发送" in text_of(response)
    assert last_sms_code(new_phone)


@pytest.mark.django_db
def test_phone_change_with_wrong_code_is_refused(client_a, candidate_a, django_capture_on_commit_callbacks):
    old_phone, new_phone = candidate_a.phone, make_phone()
    send_phone_code(client_a, new_phone, django_capture_on_commit_callbacks)

    response = client_a.post(PHONE_URL, {"phone": new_phone, "sms_code": other_code(last_sms_code(new_phone))})

    assert response.status_code == 200
    assert "短信验证码不正确，请核对后重新输入。" in text_of(response)
    candidate_a.refresh_from_db()
    assert candidate_a.phone == old_phone
    assert not AuditEntry.objects.filter(action="accounts.phone.changed").exists()
    assert not Notification.objects.filter(user=candidate_a, event="phone_changed").exists()


@pytest.mark.django_db
def test_phone_change_with_right_code_binds_the_new_number(client_a, candidate_a, django_capture_on_commit_callbacks):
    old_phone, new_phone = candidate_a.phone, make_phone()
    send_phone_code(client_a, new_phone, django_capture_on_commit_callbacks)
    code = last_sms_code(new_phone)
    locmem.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(PHONE_URL, {"phone": new_phone, "sms_code": code})

    assert response.status_code == 302
    assert response.url == reverse("accounts:home")
    candidate_a.refresh_from_db()
    assert candidate_a.phone == new_phone

    entry = AuditEntry.objects.get(action="accounts.phone.changed")
    assert entry.actor == candidate_a
    assert entry.before == {"phone": mask_phone(old_phone)}
    assert entry.after == {"phone": mask_phone(new_phone)}
    dumped = json.dumps([entry.before, entry.after])
    assert old_phone not in dumped
    assert new_phone not in dumped

    # The old number is told, and is not told the new number in full.
    [sms] = locmem.outbox
    assert (sms.phone, sms.event) == (old_phone, "phone_changed")
    assert sms.params["new_phone"] == mask_phone(new_phone)
    assert new_phone not in sms.text
    notification = Notification.objects.get(user=candidate_a, event="phone_changed")
    assert notification.title == "绑定手机号已更换"
    assert mask_phone(new_phone) in notification.body
    assert "手机号已更换。原手机号将收到一条提醒短信。" in text_of(client_a.get(response.url))


@pytest.mark.django_db
def test_used_phone_code_cannot_be_used_again(client_a, candidate_a, django_capture_on_commit_callbacks):
    first, second = make_phone(), make_phone()
    send_phone_code(client_a, first, django_capture_on_commit_callbacks)
    code = last_sms_code(first)
    client_a.post(PHONE_URL, {"phone": first, "sms_code": code})

    response = client_a.post(PHONE_URL, {"phone": second, "sms_code": code})

    assert response.status_code == 200
    candidate_a.refresh_from_db()
    assert candidate_a.phone == first


@pytest.mark.django_db
def test_phone_bound_to_another_candidate_is_refused(
    client_a, candidate_a, candidate_b, django_capture_on_commit_callbacks
):
    old_phone = candidate_a.phone
    locmem.clear()  # the personas' registration codes

    sent = send_phone_code(client_a, candidate_b.phone, django_capture_on_commit_callbacks)
    submitted = client_a.post(PHONE_URL, {"phone": candidate_b.phone, "sms_code": "123456"})

    for response in (sent, submitted):
        assert response.status_code == 200
        assert "该手机号已绑定其他账户。一个手机号只能绑定一个账户" in text_of(response)
    assert locmem.outbox == []
    candidate_a.refresh_from_db()
    candidate_b.refresh_from_db()
    assert candidate_a.phone == old_phone
    assert User.objects.filter(phone=candidate_b.phone).get() == candidate_b
    assert not AuditEntry.objects.filter(action="accounts.phone.changed").exists()


@pytest.mark.django_db
def test_same_phone_is_refused(client_a, candidate_a, django_capture_on_commit_callbacks):
    locmem.clear()  # the persona's registration code
    sent = send_phone_code(client_a, candidate_a.phone, django_capture_on_commit_callbacks)
    submitted = client_a.post(PHONE_URL, {"phone": candidate_a.phone, "sms_code": "123456"})

    for response in (sent, submitted):
        assert response.status_code == 200
        assert "新手机号与当前绑定的手机号相同。" in text_of(response)
    assert locmem.outbox == []
    assert not AuditEntry.objects.filter(action="accounts.phone.changed").exists()


@pytest.mark.django_db
def test_code_for_one_new_number_does_not_bind_another(client_a, candidate_a, django_capture_on_commit_callbacks):
    asked, other = make_phone(), make_phone()
    send_phone_code(client_a, asked, django_capture_on_commit_callbacks)

    response = client_a.post(PHONE_URL, {"phone": other, "sms_code": last_sms_code(asked)})

    assert response.status_code == 200
    assert "短信验证码已失效" in text_of(response)
    candidate_a.refresh_from_db()
    assert candidate_a.phone not in {asked, other}


# --- Security question ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_security_question_change_needs_the_current_password(client_a, candidate_a):
    profile = CandidateProfile.objects.get(user=candidate_a)

    response = client_a.post(
        QUESTION_URL, {"current_password": "Wrong2026pass", "question": "我的小学校名是？", "answer": "实验小学"}
    )

    assert response.status_code == 200
    assert "当前密码不正确。" in text_of(response)
    profile.refresh_from_db()
    assert profile.security_question == "我的出生地是？"
    services.recovery_check_answer(user=candidate_a, answer="北京")  # the old answer still works
    assert not AuditEntry.objects.filter(action="accounts.security_question.changed").exists()


@pytest.mark.django_db
def test_security_question_change_then_recovery_uses_the_new_answer(client_a, candidate_a):
    response = client_a.post(
        QUESTION_URL, {"current_password": PASSWORD, "question": "我的小学校名是？", "answer": "实验 小学"}
    )

    assert response.status_code == 302
    user = User.objects.get(pk=candidate_a.pk)
    assert user.candidate_profile.security_question == "我的小学校名是？"
    services.recovery_check_answer(user=user, answer="实验小学")  # spaces do not matter
    with pytest.raises(KaowuError) as excinfo:
        services.recovery_check_answer(user=user, answer="北京")
    assert excinfo.value.code == "accounts.answer_wrong"
    entry = AuditEntry.objects.get(action="accounts.security_question.changed")
    assert entry.before == {"security_question": "我的出生地是？"}
    assert entry.after == {"security_question": "我的小学校名是？"}
    assert "实验" not in json.dumps([entry.before, entry.after])  # the answer is never recorded


# --- Password ------------------------------------------------------------------------------------------


def password_post(old=PASSWORD, new="Newpass2027ok", confirm=None) -> dict:
    return {"old_password": old, "new_password1": new, "new_password2": confirm or new}


@pytest.mark.django_db
def test_password_change_with_wrong_old_password_is_refused(client_a, candidate_a):
    response = client_a.post(PASSWORD_URL, password_post(old="Wrong2026pass"))

    assert response.status_code == 200
    assert "当前密码不正确。" in text_of(response)
    assert User.objects.get(pk=candidate_a.pk).check_password(PASSWORD)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("abcdefghij", "密码须同时包含字母和数字。"),
        ("a1b2c3", "密码长度太短"),
        ("password1", "这个密码太常见了"),
    ],
)
def test_weak_new_password_is_refused(client_a, candidate_a, new, message):
    response = client_a.post(PASSWORD_URL, password_post(new=new))

    assert response.status_code == 200
    assert message in text_of(response)
    assert User.objects.get(pk=candidate_a.pk).check_password(PASSWORD)
    assert not AuditEntry.objects.filter(action="accounts.password.changed").exists()


@pytest.mark.django_db
def test_new_password_that_is_the_document_number_tail_is_refused(client_a, candidate_a):
    number = candidate_a.candidate_profile.doc_number

    response = client_a.post(PASSWORD_URL, password_post(new=number[-8:]))

    assert response.status_code == 200
    assert User.objects.get(pk=candidate_a.pk).check_password(PASSWORD)


@pytest.mark.django_db
def test_mismatched_new_passwords_are_refused(client_a, candidate_a):
    response = client_a.post(PASSWORD_URL, password_post(confirm="Other2027ok"))

    assert response.status_code == 200
    assert "两次输入的密码不一致。" in text_of(response)
    assert User.objects.get(pk=candidate_a.pk).check_password(PASSWORD)


@pytest.mark.django_db
def test_password_change_keeps_the_session_and_texts_the_candidate(
    client_a, candidate_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(PASSWORD_URL, password_post())

    assert response.status_code == 302
    assert response.url == reverse("accounts:home")
    user = User.objects.get(pk=candidate_a.pk)
    assert user.check_password("Newpass2027ok")
    assert not user.check_password(PASSWORD)
    # Still signed in: the session hash was updated.
    assert client_a.session[SESSION_KEY] == str(candidate_a.pk)
    home = client_a.get(reverse("accounts:home"))
    assert home.status_code == 200
    assert "密码已修改。" in text_of(home)
    [sms] = [m for m in locmem.outbox if m.event == "password_changed"]
    assert sms.phone == candidate_a.phone
    assert Notification.objects.filter(user=candidate_a, event="password_changed").exists()
    entry = AuditEntry.objects.get(action="accounts.password.changed")
    assert entry.actor == candidate_a
    assert "Newpass2027ok" not in json.dumps([entry.before, entry.after])


@pytest.mark.django_db
def test_other_sessions_end_after_a_password_change(client_a, candidate_a):
    other = Client()
    other.force_login(candidate_a)
    assert other.get(reverse("accounts:home")).status_code == 200

    client_a.post(PASSWORD_URL, password_post())

    response = other.get(reverse("accounts:home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


# --- Education records ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_education_record_add(client_a, candidate_a):
    response = client_a.post(EDUCATION_ADD_URL, education_post())

    assert response.status_code == 302
    record = EducationRecord.objects.get(user=candidate_a, level="master")
    assert (record.degree, record.school, record.major) == ("master", "清华大学", "法律硕士")
    assert record.graduated_on == date(2015, 7, 1)
    entry = AuditEntry.objects.get(action="accounts.education.added")
    assert entry.actor == candidate_a
    assert entry.object_id == str(record.pk)
    assert entry.after["school"] == "清华大学"
    assert EducationRecord.objects.filter(user=candidate_a).count() == 2


@pytest.mark.django_db
def test_education_record_add_with_missing_fields_is_refused(client_a, candidate_a):
    response = client_a.post(EDUCATION_ADD_URL, education_post(edu_school="", edu_graduated_on="not a date"))

    assert response.status_code == 200
    assert "这个字段是必须的" in text_of(response)
    assert EducationRecord.objects.filter(user=candidate_a).count() == 1
    assert not AuditEntry.objects.filter(action="accounts.education.added").exists()


@pytest.mark.django_db
def test_education_record_edit(client_a, candidate_a):
    record = EducationRecord.objects.get(user=candidate_a)
    form_page = client_a.get(f"/accounts/profile/education/{record.pk}/")
    assert "北京大学" in text_of(form_page)

    response = client_a.post(
        f"/accounts/profile/education/{record.pk}/",
        education_post(edu_level="bachelor", edu_degree="bachelor", edu_school="北京大学", edu_major="经济学"),
    )

    assert response.status_code == 302
    record.refresh_from_db()
    assert record.major == "经济学"
    assert record.graduated_on == date(2015, 7, 1)
    entry = AuditEntry.objects.get(action="accounts.education.changed")
    assert entry.before == {"major": "法学", "graduated_on": "2012-07-01"}
    assert entry.after == {"major": "经济学", "graduated_on": "2015-07-01"}


@pytest.mark.django_db
def test_education_record_delete(client_a, candidate_a):
    client_a.post(EDUCATION_ADD_URL, education_post())
    added = EducationRecord.objects.get(user=candidate_a, level="master")

    response = client_a.post(f"/accounts/profile/education/{added.pk}/delete/", follow=True)

    assert response.status_code == 200
    assert "学历信息已删除。" in text_of(response)
    assert not EducationRecord.objects.filter(pk=added.pk).exists()
    assert EducationRecord.objects.filter(user=candidate_a).count() == 1
    entry = AuditEntry.objects.get(action="accounts.education.deleted")
    assert entry.actor == candidate_a
    assert entry.before["id"] == added.pk
    assert entry.before["school"] == "清华大学"


@pytest.mark.django_db
def test_deleting_the_last_education_record_is_refused(client_a, candidate_a):
    [record] = EducationRecord.objects.filter(user=candidate_a)

    response = client_a.post(f"/accounts/profile/education/{record.pk}/delete/", follow=True)

    assert response.status_code == 200
    assert "至少需要保留一条学历信息。如需更正，请先添加正确的学历，再删除这一条。" in text_of(response)
    assert EducationRecord.objects.filter(pk=record.pk).exists()
    assert not AuditEntry.objects.filter(action="accounts.education.deleted").exists()


@pytest.mark.django_db
def test_education_delete_by_get_is_not_allowed(client_a, candidate_a):
    client_a.post(EDUCATION_ADD_URL, education_post())
    added = EducationRecord.objects.get(user=candidate_a, level="master")

    response = client_a.get(f"/accounts/profile/education/{added.pk}/delete/")

    assert response.status_code == 405
    assert EducationRecord.objects.filter(pk=added.pk).exists()
