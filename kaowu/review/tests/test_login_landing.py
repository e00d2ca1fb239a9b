"""Where staff land after logging in without ``next``: reviewers at their queue, other staff in the admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kaowu.conftest import PASSWORD

from .conftest import cand_a, world  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("username", "landing"),
    [
        ("js_caa_province", "review:queue"),
        ("caa_nation", "review:queue"),
        ("js_exam_point", "review:queue"),
        ("ccaa_finance", "finance:orders"),
        ("sysadmin", "admin:index"),
    ],
)
def test_staff_land_where_they_work(client, world, username, landing):  # noqa: F811
    data = {"username": username, "password": "Kaowu2026staff", "captcha_0": "k", "captcha_1": "PASSED"}
    response = client.post(reverse("accounts:login"), data)
    assert response.status_code == 302
    assert response.url == reverse(landing)


def test_candidates_still_land_in_their_centre(client, cand_a):  # noqa: F811
    data = {"username": cand_a.username, "password": PASSWORD, "captcha_0": "k", "captcha_1": "PASSED"}
    response = client.post(reverse("accounts:login"), data)
    assert response.url == reverse("accounts:home")
