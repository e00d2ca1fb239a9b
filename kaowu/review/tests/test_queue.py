"""REV-1: each reviewer's queue holds exactly the pending steps in their scope; filters and search work;
bulk approval approves the selection and reports each refusal."""

from __future__ import annotations

import pytest
from django.test import TestCase
from django.urls import reverse

from kaowu.applications import services
from kaowu.applications.models import Application
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.models import ReviewLevel
from kaowu.conftest import register_candidate
from kaowu.core import crypto

from .conftest import (
    dishonest_submitted,
    fill,
    put_on_dishonest_list,
    student_submitted,
    submitted,
    unqualified_candidate,
    with_photo,
)

pytestmark = pytest.mark.django_db

QUEUE = reverse("review:queue")


def numbers(client, **params) -> set[str]:
    response = client.get(QUEUE, params)
    assert response.status_code == 200
    return {step.application.number for step in response.context["page"].object_list}


def approve(world, username: str, application: Application) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.review_approve(actor=world.staff(username), application=application)


@pytest.fixture
def cases(world, cand_a, cand_b):
    """One pending step for each persona, plus some that no Jiangsu reviewer may see."""
    jiangsu = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    shanghai = submitted(world, demo.AUCTIONEER_EXAM, with_photo(register_candidate(real_name="周杰")), region="310000")
    national = submitted(world, demo.AUCTIONEER_EXAM, with_photo(register_candidate(real_name="吴敏")))
    approve(world, "js_caa_province", national)
    economist_online = dishonest_submitted(world, cand_b)
    economist_on_site = submitted(world, demo.ECONOMIST_EXAM, unqualified_candidate())
    recruitment = submitted(world, demo.RECRUITMENT_EXAM, with_photo(register_candidate(real_name="郑强")))
    return {
        "jiangsu": jiangsu.number,
        "shanghai": shanghai.number,
        "national": national.number,
        "economist_online": economist_online.number,
        "economist_on_site": economist_on_site.number,
        "recruitment": recruitment.number,
    }


def test_each_reviewer_sees_only_the_pending_steps_in_scope(client, world, cases):
    expected = {
        "js_caa_province": {cases["jiangsu"]},
        "caa_nation": {cases["national"]},
        "js_cpta_point": {cases["economist_online"], cases["economist_on_site"]},
        "js_exam_point": {cases["recruitment"]},
    }
    for username, wanted in expected.items():
        client.force_login(world.staff(username))
        assert numbers(client) == wanted, username


def test_decided_and_all_show_what_the_reviewer_already_decided(client, world, cases):
    client.force_login(world.staff("js_caa_province"))

    assert numbers(client, status="decided") == {cases["national"]}
    assert numbers(client, status="all") == {cases["national"], cases["jiangsu"]}


@pytest.mark.parametrize("username", ["ccaa_finance", "sysadmin", "caa_admin"])
def test_staff_without_a_reviewer_role_get_403(client, world, username):
    client.force_login(world.staff(username))

    response = client.get(QUEUE)

    assert response.status_code == 403
    assert "仅供审核人员使用" in response.content.decode()


def test_candidates_get_403_and_anonymous_visitors_the_login_page(client, world, cand_a):
    assert client.get(QUEUE).url == f"{reverse('accounts:login')}?next={QUEUE}"
    client.force_login(cand_a)
    assert client.get(QUEUE).status_code == 403


def test_queue_shows_masked_numbers_and_flags(client, world, cand_a, cand_b):
    application = dishonest_submitted(world, cand_b)
    client.force_login(world.staff("js_cpta_point"))

    page = client.get(QUEUE).content.decode()

    profile = cand_b.candidate_profile
    assert profile.doc_number_masked in page
    assert crypto.decrypt(profile.doc_number_encrypted) not in page
    assert application.number in page and "失信" in page


# --- Filters and search ------------------------------------------------------------------------------


@pytest.fixture
def caa_cases(world, cand_a, cand_b):
    """Three Jiangsu CAA applications: plain (Nanjing, A01 only), a student with a proof (Suzhou), a listed one."""
    plain = submitted(world, demo.AUCTIONEER_EXAM, cand_a, subjects=["A01"])
    student = student_submitted(world, cand_b)
    listed_candidate = with_photo(register_candidate(real_name="王芳"))
    put_on_dishonest_list(world, demo.AUCTIONEER_EXAM, listed_candidate)
    listed = services.application_start(actor=listed_candidate, batch=world.batch(demo.AUCTIONEER_EXAM))
    fill(listed, listed_candidate)
    services.application_confirm_dishonest(actor=listed_candidate, application=listed)
    services.application_submit(actor=listed_candidate, application=listed)
    listed.refresh_from_db()
    return {"plain": plain, "student": student, "listed": listed}


def test_every_filter(client, world, caa_cases):
    plain, student, listed = caa_cases["plain"], caa_cases["student"], caa_cases["listed"]
    everyone = {plain.number, student.number, listed.number}
    caa_exam = world.batch(demo.AUCTIONEER_EXAM)
    registration = world.batch(demo.AUCTIONEER_REGISTRATION)
    a02 = caa_exam.programme.subjects.get(code="A02")
    client.force_login(world.staff("js_caa_province"))

    assert numbers(client) == everyone
    assert numbers(client, batch=caa_exam.pk) == everyone
    assert numbers(client, batch=registration.pk) == set()
    assert numbers(client, level=ReviewLevel.PROVINCE) == everyone
    assert numbers(client, level=ReviewLevel.NATION) == set()
    assert numbers(client, province="320000") == everyone
    assert numbers(client, province="310000") == set()
    assert numbers(client, province="320000", city="320500") == {student.number}
    assert numbers(client, city="320100") == {plain.number, listed.number}
    assert numbers(client, subject=a02.pk) == {student.number, listed.number}
    assert numbers(client, mode="online") == everyone
    assert numbers(client, mode="on_site") == set()
    assert numbers(client, dishonest="on") == {listed.number}
    assert numbers(client, needs_proof="on") == {student.number}
    assert numbers(client, dishonest="on", needs_proof="on") == set()


def test_a_batch_outside_the_reviewers_programmes_is_refused_not_applied(client, world, caa_cases):
    client.force_login(world.staff("js_caa_province"))

    response = client.get(QUEUE, {"batch": world.batch(demo.CCAA_EXAM).pk})

    assert response.context["form"].errors["batch"]
    assert len(response.context["page"].object_list) == 3


def test_mode_filter_separates_online_and_on_site(client, world, cases):
    client.force_login(world.staff("js_cpta_point"))

    assert numbers(client, mode="online") == {cases["economist_online"]}
    assert numbers(client, mode="on_site") == {cases["economist_on_site"]}


def test_search_by_name_number_id_and_phone(client, world, caa_cases, cand_a, cand_b):
    plain, student = caa_cases["plain"], caa_cases["student"]
    client.force_login(world.staff("js_caa_province"))
    id_number = crypto.decrypt(cand_b.candidate_profile.doc_number_encrypted)

    assert numbers(client, q="𠀀") == {student.number}  # a fragment of 李𠀀明
    assert numbers(client, q=plain.number) == {plain.number}
    assert numbers(client, q=id_number) == {student.number}
    assert numbers(client, q=id_number.lower()) == {student.number}  # normalised before hashing
    assert numbers(client, q=cand_a.phone) == {plain.number}
    assert numbers(client, q="不存在的人") == set()


def test_queue_is_paginated_by_50(client, world, cand_a, monkeypatch):
    submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    monkeypatch.setattr("kaowu.review.views.PAGE_SIZE", 1)
    second = submitted(world, demo.AUCTIONEER_EXAM, with_photo(register_candidate(real_name="吴敏")))
    client.force_login(world.staff("js_caa_province"))

    response = client.get(QUEUE, {"page": 2, "status": "pending"})

    assert [s.application.number for s in response.context["page"].object_list] == [second.number]
    assert "status=pending" in response.content.decode()  # page links keep the filters


# --- Bulk approval (REV-2) ---------------------------------------------------------------------------


def bulk(client, *applications, next_url=QUEUE):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            reverse("review:bulk_approve"),
            {"applications": [a.pk for a in applications], "next": next_url},
            follow=True,
        )


def test_bulk_approve_approves_the_selection_only(client, world, caa_cases):
    plain, student, listed = caa_cases["plain"], caa_cases["student"], caa_cases["listed"]
    client.force_login(world.staff("js_caa_province"))

    response = bulk(client, plain, student, next_url=f"{QUEUE}?mode=online")

    assert response.redirect_chain[-1][0] == f"{QUEUE}?mode=online"
    assert "已审核通过 2 份报名" in response.content.decode()
    for application in (plain, student):
        application.refresh_from_db()
        assert application.current_stage.level == ReviewLevel.NATION
    listed.refresh_from_db()
    assert listed.current_stage.level == ReviewLevel.PROVINCE


def test_bulk_approve_reports_each_refusal_with_its_reason(client, world, cases):
    online = Application.objects.get(number=cases["economist_online"])
    on_site = Application.objects.get(number=cases["economist_on_site"])
    elsewhere = Application.objects.get(number=cases["jiangsu"])  # CAA: not this reviewer's
    client.force_login(world.staff("js_cpta_point"))

    page = bulk(client, online, on_site, elsewhere).content.decode()

    assert "已审核通过 1 份报名" in page
    assert f"报名号 {on_site.number} 未通过：该报名须现场审核" in page
    assert "1 份报名没有找到，或不在您的审核范围内" in page
    assert elsewhere.number not in page
    online.refresh_from_db(), on_site.refresh_from_db(), elsewhere.refresh_from_db()
    assert online.status == Status.AWAITING_PAYMENT
    assert on_site.status == elsewhere.status == Status.UNDER_REVIEW


def test_bulk_approve_of_a_case_already_passed_on_reports_it(client, world, cases):
    national = Application.objects.get(number=cases["national"])  # the province approved it already
    client.force_login(world.staff("js_caa_province"))

    page = bulk(client, national).content.decode()

    assert f"报名号 {national.number} 未通过：该报名不在您的审核范围内" in page


def test_bulk_approve_without_a_selection_says_what_to_do(client, world, cases):
    client.force_login(world.staff("js_caa_province"))

    response = client.post(reverse("review:bulk_approve"), {"next": "https://evil.example/"}, follow=True)

    assert response.redirect_chain[-1][0] == QUEUE
    assert "请先勾选要批量通过的报名" in response.content.decode()
