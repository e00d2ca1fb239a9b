"""The back-office lists of applications, the 失信 list and recorded passes: read-only and scoped."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kaowu.catalog import demo
from kaowu.results.services import subject_pass_record

from .conftest import dishonest_submitted, submitted

pytestmark = pytest.mark.django_db

APPLICATIONS = reverse("admin:applications_application_changelist")


@pytest.fixture
def two(world, cand_a, cand_b):
    return submitted(world, demo.AUCTIONEER_EXAM, cand_a), dishonest_submitted(world, cand_b)


def listed(client, url: str) -> set:
    response = client.get(url)
    assert response.status_code == 200
    return set(response.context["cl"].result_list)


@pytest.mark.parametrize(
    ("username", "sees"),
    [("sysadmin", {0, 1}), ("caa_admin", {0}), ("js_caa_province", {0}), ("js_cpta_point", {1}), ("caa_nation", set())],
)
def test_applications_are_listed_within_scope(client, world, two, username, sees):
    client.force_login(world.staff(username))

    assert listed(client, APPLICATIONS) == {two[i] for i in sees}


def test_applications_are_read_only_and_masked(client, world, two, cand_a):
    client.force_login(world.staff("sysadmin"))

    page = client.get(APPLICATIONS).content.decode()

    assert cand_a.candidate_profile.doc_number_masked in page
    assert client.get(reverse("admin:applications_application_add")).status_code == 403
    change = client.post(reverse("admin:applications_application_change", args=[two[0].pk]), {"status": "approved"})
    assert change.status_code == 403
    two[0].refresh_from_db()
    assert two[0].status == "under_review"


def test_finance_does_not_see_applications(client, world, two):
    client.force_login(world.staff("ccaa_finance"))

    assert client.get(APPLICATIONS).status_code == 403


def test_dishonest_entries_and_passes_are_listed_for_their_programmes(client, world, two, cand_a):
    subject = world.programmes[demo.AUCTIONEER_EXAM].subjects.get(code="A01")
    subject_pass_record(actor=world.staff("caa_admin"), candidate=cand_a, subject=subject, year=2024)
    entries = reverse("admin:applications_dishonestentry_changelist")
    passes = reverse("admin:results_subjectpass_changelist")

    client.force_login(world.staff("cpta_admin"))
    assert len(listed(client, entries)) == 1 and listed(client, passes) == set()
    client.force_login(world.staff("caa_admin"))
    assert listed(client, entries) == set() and len(listed(client, passes)) == 1
    assert client.get(reverse("admin:results_subjectpass_add")).status_code == 403
