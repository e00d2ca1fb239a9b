"""APP-2 staff side: programme administrators record a candidate's earlier passed subjects."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kaowu.catalog import demo
from kaowu.core import crypto
from kaowu.results.models import SubjectPass
from kaowu.results.selectors import passed_subjects

pytestmark = pytest.mark.django_db

URL = reverse("review:passes")


@pytest.fixture
def admin_client(client, world):
    client.force_login(world.staff("caa_admin"))
    return client


def form_data(world, candidate, *, code: str = "A01", programme: str = demo.AUCTIONEER_EXAM, **overrides) -> dict:
    subject = world.programmes[programme].subjects.get(code=code)
    data = {
        "real_name": candidate.real_name,
        "doc_type": "id_card",
        "doc_number": crypto.decrypt(candidate.candidate_profile.doc_number_encrypted),
        "subject": subject.pk,
        "year": world.batch(demo.AUCTIONEER_EXAM).year - 1,
        "valid_until_year": "",
        "note": "2026年成绩单",
    }
    return data | overrides


def test_recording_a_pass_lets_the_candidate_carry_it(admin_client, world, cand_a):
    response = admin_client.post(URL, form_data(world, cand_a), follow=True)

    assert response.redirect_chain == [(URL, 302)]
    row = SubjectPass.objects.get()
    assert (row.candidate, row.subject.code, row.recorded_by.username) == (cand_a, "A01", "caa_admin")
    page = response.content.decode()
    assert "已录入 张伟 的已通过科目“拍卖通论”" in page
    assert cand_a.candidate_profile.doc_number_masked in page
    assert crypto.decrypt(cand_a.candidate_profile.doc_number_encrypted) not in page
    batch = world.batch(demo.AUCTIONEER_EXAM)
    assert [s.code for s in passed_subjects(cand_a, batch.programme, year=batch.year)] == ["A01"]


def test_a_duplicate_is_refused(admin_client, world, cand_a):
    admin_client.post(URL, form_data(world, cand_a))

    response = admin_client.post(URL, form_data(world, cand_a))

    assert response.status_code == 200
    assert "该考生该年度的此科目合格记录已存在" in response.content.decode()
    assert SubjectPass.objects.count() == 1


def test_the_name_must_match_the_id_number(admin_client, world, cand_a):
    response = admin_client.post(URL, form_data(world, cand_a, real_name="张伟伟"))

    assert "没有找到姓名和证件号码都一致的考生" in response.content.decode()
    assert not SubjectPass.objects.exists()


def test_an_invalid_id_number_is_explained(admin_client, world, cand_a):
    response = admin_client.post(URL, form_data(world, cand_a, doc_number="110105199005170000"))

    assert response.context["form"].errors["doc_number"]
    assert not SubjectPass.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"valid_until_year": "2020", "year": "2024"}, "valid_until_year"),  # the service's span check
        ({"year": "2999"}, "year"),  # no passes from the future
    ],
)
def test_impossible_years_are_refused(admin_client, world, cand_a, overrides, field):
    response = admin_client.post(URL, form_data(world, cand_a, **overrides))

    assert response.context["form"].errors[field]
    assert not SubjectPass.objects.exists()


def test_only_subjects_of_managed_programmes_can_be_chosen(admin_client, world, cand_a):
    response = admin_client.post(URL, form_data(world, cand_a, code="101", programme=demo.ECONOMIST_EXAM))

    assert response.context["form"].errors["subject"]
    assert not SubjectPass.objects.exists()


def test_the_list_shows_only_the_managed_programmes_passes(client, world, cand_a):
    client.force_login(world.staff("sysadmin"))
    client.post(URL, form_data(world, cand_a))
    client.force_login(world.staff("cpta_admin"))

    response = client.get(URL)

    assert list(response.context["rows"].object_list) == []
