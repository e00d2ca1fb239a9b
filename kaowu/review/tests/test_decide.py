"""REV-2 and REV-4: the detail page, decisions with reasons, and on-site lookup and result entry."""

from __future__ import annotations

import pytest
from django.test import TestCase
from django.urls import reverse

from kaowu.applications.models import ReviewStep, StepStatus
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.models import ReviewLevel
from kaowu.core import crypto
from kaowu.core.models import AuditEntry

from .conftest import student_submitted, submitted, unqualified_candidate

pytestmark = pytest.mark.django_db


def decide(client, application, **data):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("review:decide", args=[application.pk]), data)


@pytest.fixture
def pending(world, cand_a):
    """A Jiangsu auctioneer application waiting for the provincial reviewer, signed in as that reviewer."""
    return submitted(world, demo.AUCTIONEER_EXAM, cand_a)


@pytest.fixture
def province(client, world):
    client.force_login(world.staff("js_caa_province"))
    return client


def test_detail_shows_everything_the_reviewer_needs(province, world, cand_b):
    application = student_submitted(world, cand_b)
    profile = cand_b.candidate_profile

    response = province.get(reverse("review:detail", args=[application.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert crypto.decrypt(profile.doc_number_encrypted) in page  # the full number, in the detail only
    assert reverse("accounts:photo_image", args=[cand_b.pk]) in page
    proof = application.proofs.get()
    assert reverse("accounts:scan_file", args=[proof.scan_id]) in page
    assert "北京大学" in page  # education record
    assert "拍卖通论" in page and "拍卖法律法规" in page
    assert "须提供证明材料" in page and "在校证明" in page  # eligibility and its reason
    assert "审核通过" in page and "驳回修改" in page and "审核不通过" in page
    assert response.context["step"].stage.level == ReviewLevel.PROVINCE


def test_viewing_the_full_id_number_is_audited(province, world, pending):
    province.get(reverse("review:detail", args=[pending.pk]))

    entry = AuditEntry.objects.get(action="review.document.viewed")
    assert entry.actor == world.staff("js_caa_province")
    assert entry.object_id == str(pending.pk)
    plain = crypto.decrypt(pending.candidate.candidate_profile.doc_number_encrypted)
    assert plain not in str(entry.after)


def test_approve_sends_it_to_the_next_level(province, pending):
    response = decide(province, pending, action="approve", template="approve.complete")

    assert response.status_code == 302 and response.url == reverse("review:queue")
    pending.refresh_from_db()
    assert pending.current_stage.level == ReviewLevel.NATION
    step = ReviewStep.objects.get(application=pending, stage__level=ReviewLevel.PROVINCE)
    assert step.status == StepStatus.APPROVED and step.reason == "材料齐全，符合报考条件。"


@pytest.mark.parametrize("action", ["return", "reject"])
def test_return_and_reject_need_a_reason(province, pending, action):
    response = decide(province, pending, action=action, text="  ")

    assert response.status_code == 400
    assert "请填写驳回或不通过的原因" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Status.UNDER_REVIEW


def test_return_with_a_common_reason_and_own_words(province, pending):
    decide(province, pending, action="return", template="return.unclear", text="身份证背面模糊。")

    pending.refresh_from_db()
    assert pending.status == Status.RETURNED
    assert pending.transitions.last().reason == "证明材料不清晰或不完整，请重新上传清晰完整的扫描件。 身份证背面模糊。"


def test_reject_ends_the_application(province, pending):
    decide(province, pending, action="reject", template="reject.false")

    pending.refresh_from_db()
    assert pending.status == Status.REJECTED


def test_a_common_reason_of_another_action_is_refused(province, pending):
    response = decide(province, pending, action="reject", template="approve.complete")

    assert response.status_code == 400
    assert "所选常用意见不适用于“审核不通过”" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Status.UNDER_REVIEW


def test_deciding_twice_shows_the_services_refusal(province, pending):
    decide(province, pending, action="approve")

    response = decide(province, pending, action="approve")

    assert response.status_code == 403
    assert "该报名不在您的审核范围内" in response.content.decode()


def test_a_decided_application_shows_no_actions(province, pending):
    decide(province, pending, action="approve")

    response = province.get(reverse("review:detail", args=[pending.pk]))

    assert response.status_code == 200
    assert response.context["step"] is None
    assert 'name="action"' not in response.content.decode()


# --- On-site review (REV-4) --------------------------------------------------------------------------


@pytest.fixture
def on_site_case(client, world):
    """A recruitment application waiting at the Nanjing 报考点, signed in as its reviewer."""
    candidate = unqualified_candidate()
    application = submitted(world, demo.RECRUITMENT_EXAM, candidate)
    client.force_login(world.staff("js_exam_point"))
    return application


def test_on_site_lookup_by_application_number(client, on_site_case):
    response = client.get(reverse("review:on_site"), {"q": on_site_case.number})

    assert [case.application for case in response.context["cases"]] == [on_site_case]
    page = response.content.decode()
    assert reverse("accounts:photo_image", args=[on_site_case.candidate_id]) in page
    assert "身份证原件" in page and "学历证书原件" in page


def test_on_site_lookup_by_id_number(client, on_site_case):
    number = crypto.decrypt(on_site_case.candidate.candidate_profile.doc_number_encrypted)

    response = client.get(reverse("review:on_site"), {"q": f" {number} "})

    assert [case.application for case in response.context["cases"]] == [on_site_case]
    # The full number is shown to compare with the card in hand, and the reveal is audited.
    assert f'font-monospace">{number}</dd>' in response.content.decode()
    assert AuditEntry.objects.filter(action="review.document.viewed", object_id=str(on_site_case.pk)).exists()


def test_on_site_lookup_outside_scope_finds_nothing(client, world, on_site_case):
    client.force_login(world.staff("js_cpta_point"))

    response = client.get(reverse("review:on_site"), {"q": on_site_case.number})

    assert response.context["cases"] == []
    assert "没有找到该报名号或证件号码的报名" in response.content.decode()


def test_on_site_result_is_recorded_with_the_originals_checked(client, on_site_case):
    response = decide(client, on_site_case, action="approve", on_site="1", originals=["id_card", "diploma", "form"])

    assert response.status_code == 302
    assert response.url == f"{reverse('review:on_site')}?q={on_site_case.number}"
    on_site_case.refresh_from_db()
    assert on_site_case.status == Status.APPROVED  # seed 003 pays on site
    step = on_site_case.review_steps.get()
    assert step.reason == "已核验：身份证原件、学历证书原件、报名表。"


def test_on_site_return_without_reason_shows_the_error_on_the_on_site_page(client, on_site_case):
    response = decide(client, on_site_case, action="return", on_site="1")

    assert response.status_code == 400
    assert "请填写驳回或不通过的原因" in response.content.decode()
    assert response.templates[0].name == "review/on_site.html"


def test_online_decision_on_an_on_site_step_is_refused(client, on_site_case):
    response = decide(client, on_site_case, action="approve")

    assert response.status_code == 409
    assert "该报名须现场审核：请在“现场审核”中核验原件后录入结果。" in response.content.decode()
    on_site_case.refresh_from_db()
    assert on_site_case.status == Status.UNDER_REVIEW


def test_detail_of_an_on_site_step_points_to_the_on_site_page(client, on_site_case):
    response = client.get(reverse("review:detail", args=[on_site_case.pk]))

    page = response.content.decode()
    assert f"{reverse('review:on_site')}?q={on_site_case.number}" in page
    assert 'name="action"' not in page
