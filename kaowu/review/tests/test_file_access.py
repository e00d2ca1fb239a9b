"""Who may open a candidate's photo and scans (X-5): the owner, a reviewer who has one of the candidate's
applications in review scope, and system administrators. Nobody else, whatever model permission they hold."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kaowu.accounts import services as account_services
from kaowu.accounts.selectors import can_view_candidate_files
from kaowu.applications import services
from kaowu.catalog import demo
from kaowu.conftest import register_candidate
from kaowu.core.models import AuditEntry

from .conftest import PDF, submitted, with_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def jiangsu(world, cand_a):
    """cand_a's auctioneer application, waiting for the Jiangsu provincial reviewer."""
    return submitted(world, demo.AUCTIONEER_EXAM, cand_a)


def test_the_owner_may_always(world, cand_a):
    assert can_view_candidate_files(cand_a, cand_a)


def test_a_reviewer_with_the_application_in_scope_may(world, jiangsu, cand_a):
    assert can_view_candidate_files(world.staff("js_caa_province"), cand_a)


@pytest.mark.parametrize("username", ["caa_nation", "js_cpta_point", "js_exam_point", "js_caa_company"])
def test_reviewers_without_the_application_in_scope_may_not(world, jiangsu, cand_a, username):
    assert not can_view_candidate_files(world.staff(username), cand_a)


def test_the_next_level_may_once_the_application_reaches_it_and_the_first_level_still_may(world, jiangsu, cand_a):
    services.review_approve(actor=world.staff("js_caa_province"), application=jiangsu)

    assert can_view_candidate_files(world.staff("caa_nation"), cand_a)
    assert can_view_candidate_files(world.staff("js_caa_province"), cand_a)  # a decided case can be looked up


def test_a_reviewer_of_another_province_may_not(world, cand_a):
    submitted(world, demo.AUCTIONEER_EXAM, cand_a, region="310000")

    assert not can_view_candidate_files(world.staff("js_caa_province"), cand_a)


@pytest.mark.parametrize("username", ["ccaa_finance", "caa_admin"])
def test_other_staff_may_not(world, jiangsu, cand_a, username):
    assert not can_view_candidate_files(world.staff(username), cand_a)


def test_system_administrators_may(world, cand_a):
    assert can_view_candidate_files(world.staff("sysadmin"), cand_a)


def test_another_candidate_may_not(world, jiangsu, cand_a, cand_b):
    assert not can_view_candidate_files(cand_b, cand_a)


def test_an_inactive_reviewer_may_not(world, jiangsu, cand_a):
    reviewer = world.staff("js_caa_province")
    reviewer.is_active = False
    reviewer.save(update_fields=["is_active"])

    assert not can_view_candidate_files(reviewer, cand_a)


def test_files_are_served_by_scope_and_every_staff_view_is_audited(client, world, jiangsu, cand_a):
    scan = account_services.scan_upload(actor=cand_a, user=cand_a, kind="diploma", name="a.pdf", data=PDF)
    other = with_photo(register_candidate(real_name="周杰"))
    urls = [reverse("accounts:photo_image", args=[cand_a.pk]), reverse("accounts:scan_file", args=[scan.pk])]

    client.force_login(world.staff("js_cpta_point"))
    assert [client.get(url).status_code for url in urls] == [404, 404]
    assert client.get(reverse("accounts:photo_image", args=[other.pk])).status_code == 404

    client.force_login(world.staff("js_caa_province"))
    assert [client.get(url).status_code for url in urls] == [200, 200]
    viewed = AuditEntry.objects.filter(action__in=["accounts.photo.viewed", "accounts.scan.viewed"])
    assert set(viewed.values_list("actor__username", flat=True)) == {"js_caa_province"}
    assert viewed.count() == 2
