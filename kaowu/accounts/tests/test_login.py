"""Login and logout (ACC-4): user name or ID number, captcha, photo redirect, safe ``next``, lockout."""

from __future__ import annotations

import re
from datetime import date

import pytest
from captcha.models import CaptchaStore
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from kaowu.accounts.models import Photo, User
from kaowu.conftest import PASSWORD, make_id_number, register_candidate
from kaowu.core.validators import gb11643_check_char

LOGIN_URL = reverse("accounts:login")
LOGOUT_URL = reverse("accounts:logout")
HOME_URL = reverse("accounts:home")
PHOTO_URL = reverse("accounts:photo")
GENERIC_ERROR = "用户名（或证件号码）或密码不正确"
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def login(client, username: str, password: str = PASSWORD, *, captcha: str = "PASSED", next_url: str | None = None):
    data = {"username": username, "password": password, "captcha_0": "any-key", "captcha_1": captcha}
    if next_url is not None:
        data["next"] = next_url
    return client.post(LOGIN_URL, data)


def signed_in_as(client) -> int | None:
    value = client.session.get(SESSION_KEY)
    return int(value) if value is not None else None


def give_photo(user: User) -> None:
    Photo.objects.create(
        user=user,
        image="photos/00/test.jpg",
        width=295,
        height=413,
        size_bytes=20_000,
        background="blue",
        source_width=600,
        source_height=800,
        source_bytes=90_000,
    )


def id_number_ending_in_x() -> str:
    for seq in range(1, 1000, 2):
        body = f"32010219880203{seq:03d}"
        if gb11643_check_char(body) == "X":
            return body + "X"
    raise AssertionError("no number with check character X")  # pragma: no cover


def page_errors(response) -> str:
    assert response.status_code == 200
    return " ".join(response.context["form"].errors.get("__all__", []))


# --- Identifiers ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_login_by_username(client, candidate_a):
    response = login(client, candidate_a.username)

    assert response.status_code == 302
    assert signed_in_as(client) == candidate_a.pk


@pytest.mark.django_db
def test_login_by_username_ignores_case(client, candidate_a):
    response = login(client, candidate_a.username.upper())

    assert response.status_code == 302
    assert signed_in_as(client) == candidate_a.pk


@pytest.mark.django_db
def test_login_by_id_number(client, candidate_a):
    response = login(client, candidate_a.candidate_profile.doc_number)

    assert response.status_code == 302
    assert signed_in_as(client) == candidate_a.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    "spell",
    [
        pytest.param(lambda number: number.lower(), id="lower-case-x"),
        pytest.param(lambda number: number.translate(FULL_WIDTH), id="full-width"),
        pytest.param(lambda number: f"  {number}  ", id="surrounding-spaces"),
    ],
)
def test_login_by_id_number_as_typed_by_people(client, spell):
    number = id_number_ending_in_x()
    user = register_candidate(doc_number=number)

    response = login(client, spell(number))

    assert response.status_code == 302
    assert signed_in_as(client) == user.pk


@pytest.mark.django_db
def test_login_by_passport_number_that_looks_like_a_username(client):
    user = register_candidate(doc_type="passport", doc_number="E7654321", gender="F", birth_date=date(1985, 3, 2))

    response = login(client, "e7654321")

    assert response.status_code == 302
    assert signed_in_as(client) == user.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    "identifier",
    [
        pytest.param(lambda user: user.username, id="username"),
        pytest.param(lambda user: user.candidate_profile.doc_number, id="id-number"),
        pytest.param(lambda user: "nosuchuser", id="unknown-username"),
        pytest.param(lambda user: make_id_number(), id="unknown-id-number"),
    ],
)
def test_wrong_password_or_unknown_account_gets_one_generic_error(client, candidate_a, identifier):
    response = login(client, identifier(candidate_a), "Wrong2026pass")

    assert GENERIC_ERROR in page_errors(response)
    assert GENERIC_ERROR in response.content.decode()
    assert signed_in_as(client) is None


@pytest.mark.django_db
def test_wrong_captcha_refuses_even_the_right_password(client, candidate_a):
    store = CaptchaStore.objects.create(challenge="WXYZ", response="wxyz")
    response = client.post(
        LOGIN_URL,
        {"username": candidate_a.username, "password": PASSWORD, "captcha_0": store.hashkey, "captcha_1": "abcd"},
    )

    assert response.status_code == 200
    assert "图片验证码不正确" in response.context["form"].errors["captcha"][0]
    assert signed_in_as(client) is None


@pytest.mark.django_db
def test_inactive_account_cannot_log_in(client, candidate_a):
    User.objects.filter(pk=candidate_a.pk).update(is_active=False)

    response = login(client, candidate_a.username)

    assert GENERIC_ERROR in page_errors(response)
    assert signed_in_as(client) is None


# --- Where a successful login goes ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_candidate_without_photo_goes_to_the_photo_page(client, candidate_a):
    response = login(client, candidate_a.username, next_url="/accounts/scans/")

    assert response.status_code == 302
    assert response.url == PHOTO_URL
    page = client.get(PHOTO_URL)
    assert "请先上传证件照片" in page.content.decode()


@pytest.mark.django_db
def test_candidate_with_photo_goes_to_the_candidate_centre(client, candidate_a):
    give_photo(candidate_a)

    response = login(client, candidate_a.username)

    assert response.status_code == 302
    assert response.url == HOME_URL


@pytest.mark.django_db
@pytest.mark.parametrize("next_url", ["/accounts/scans/", "/accounts/profile/contact/?tab=1"])
def test_next_on_the_same_site_is_honoured(client, candidate_a, next_url):
    give_photo(candidate_a)

    response = login(client, candidate_a.username, next_url=next_url)

    assert response.status_code == 302
    assert response.url == next_url


@pytest.mark.django_db
def test_next_from_the_query_string_is_honoured(client, candidate_a):
    give_photo(candidate_a)
    data = {"username": candidate_a.username, "password": PASSWORD, "captcha_0": "k", "captcha_1": "PASSED"}

    response = client.post(f"{LOGIN_URL}?next=/accounts/scans/", data)

    assert response.url == "/accounts/scans/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "http://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "https://testserver.evil.example/",
    ],
)
def test_next_to_another_site_is_refused(client, candidate_a, next_url):
    give_photo(candidate_a)

    response = login(client, candidate_a.username, next_url=next_url)

    assert response.status_code == 302
    assert response.url == HOME_URL
    assert signed_in_as(client) == candidate_a.pk


@pytest.mark.django_db
def test_staff_member_is_not_sent_to_the_photo_page(client, staff_reviewer):
    response = login(client, staff_reviewer.username, next_url="/admin/")

    assert response.status_code == 302
    assert response.url == "/admin/"


@pytest.mark.django_db
def test_login_page_keeps_next_in_the_form(client):
    response = client.get(f"{LOGIN_URL}?next=/accounts/scans/")

    assert response.status_code == 200
    assert 'name="next" value="/accounts/scans/"' in response.content.decode()


# --- Lockout ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lockout_after_too_many_failures_refuses_even_the_right_password(client, candidate_a):
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5
    for _ in range(limit - 1):
        response = login(client, candidate_a.username, "Wrong2026pass")
        assert response.status_code == 200
        assert GENERIC_ERROR in page_errors(response)

    login(client, candidate_a.username, "Wrong2026pass")  # the fifth failure
    response = login(client, candidate_a.username, PASSWORD)

    assert response.status_code == 429
    text = response.content.decode()
    assert "锁定" in text
    assert re.search(r"请于 \d{2}:\d{2} 后再试", text)
    assert "找回密码/账户" in text
    assert signed_in_as(client) is None


@pytest.mark.django_db
def test_lockout_counts_failures_by_id_number_too(client, candidate_a):
    number = candidate_a.candidate_profile.doc_number
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, number, "Wrong2026pass")

    response = login(client, number, PASSWORD)

    assert response.status_code == 429
    assert "锁定" in response.content.decode()
    assert signed_in_as(client) is None


@pytest.mark.django_db
def test_lockout_cannot_be_dodged_by_spelling_the_identifier_differently(client):
    number = id_number_ending_in_x()
    user = register_candidate(doc_number=number)
    spellings = [
        user.username,
        user.username.upper(),
        user.username.capitalize(),
        number,
        number.lower(),
        number.translate(FULL_WIDTH),
    ]
    for spelling in spellings[: settings.AXES_FAILURE_LIMIT]:
        login(client, spelling, "Wrong2026pass")

    for spelling in spellings:
        response = login(client, spelling, PASSWORD)
        assert response.status_code == 429, spelling
        assert "锁定" in response.content.decode()
    assert signed_in_as(client) is None


@pytest.mark.django_db
def test_failures_below_the_limit_do_not_lock_and_success_resets_them(client, candidate_a):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        login(client, candidate_a.username, "Wrong2026pass")
    assert login(client, candidate_a.username).status_code == 302
    client.post(LOGOUT_URL)

    # The count started again after the success: another limit − 1 failures still do not lock.
    for _ in range(limit - 1):
        login(client, candidate_a.username, "Wrong2026pass")
    response = login(client, candidate_a.username)

    assert response.status_code == 302
    assert signed_in_as(client) == candidate_a.pk


@pytest.mark.django_db
def test_lockout_of_one_account_does_not_lock_another(client, candidate_a, candidate_b):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, candidate_a.username, "Wrong2026pass")

    response = login(client, candidate_b.username)

    assert response.status_code == 302
    assert signed_in_as(client) == candidate_b.pk


# --- Logout -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_logout_requires_post(client, candidate_a):
    client.force_login(candidate_a)

    response = client.get(LOGOUT_URL)

    assert response.status_code == 405
    assert signed_in_as(client) == candidate_a.pk


@pytest.mark.django_db
def test_logout_by_post_signs_out(client, candidate_a):
    client.force_login(candidate_a)

    response = client.post(LOGOUT_URL)

    assert response.status_code == 302
    assert response.url == reverse("home")
    assert signed_in_as(client) is None
    assert client.get(HOME_URL).status_code == 302  # the candidate centre asks to log in again
