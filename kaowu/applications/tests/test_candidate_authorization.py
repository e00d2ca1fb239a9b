"""Who may open which candidate application page: every URL of ``kaowu.applications.urls`` × every persona.

An application's pages belong to its candidate alone: another candidate, every demo staff login (even the
reviewer whose queue holds the application) and a signed-in outsider get 404, so a guessed URL reveals
nothing; anonymous visitors are sent to the login page; POSTs by anyone but the owner change nothing.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse

from kaowu.applications import services
from kaowu.applications.models import Application, ApplicationKind
from kaowu.applications.urls import urlpatterns
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.models import FlowStep, Site

from .conftest import fill, submitted

pytestmark = pytest.mark.django_db

STAFF = (
    "sysadmin",
    "caa_admin",
    "caa_nation",
    "js_caa_province",
    "js_caa_company",
    "cpta_admin",
    "js_cpta_point",
    "js_exam_admin",
    "js_exam_point",
    "ccaa_admin",
    "ccaa_finance",
)
ROLES = ("anonymous", "owner", "cand_b", "outsider", *STAFF)
OBJECT_URLS = {p.name for p in urlpatterns} - {"list", "start"}
POST_ONLY = {"submit", "recall", "proof_attach", "proof_detach"}


@pytest.fixture
def login_as(client, world, cand_a, cand_b, outsider):
    def login(role: str):
        users = {"owner": cand_a, "cand_b": cand_b, "outsider": outsider}
        if role != "anonymous":
            client.force_login(users.get(role) or world.staff(role))
        return client

    return login


def drafts(world, owner) -> list[Application]:
    """A draft of each demo flow: between them they have every step."""
    return [
        services.application_start(actor=owner, batch=world.batch(code), kind=ApplicationKind.NEW)
        for code in (demo.CCAA_EXAM, demo.AUCTIONEER_EXAM, demo.ECONOMIST_EXAM, demo.RECRUITMENT_EXAM)
    ]


def object_urls(application: Application) -> dict[str, str]:
    urls = {name: reverse(f"applications:{name}", args=[application.pk]) for name in OBJECT_URLS if name != "step"}
    for step in application.programme.flow:
        if step != FlowStep.CONFIRM:
            urls[f"step:{step}"] = reverse("applications:step", args=[application.pk, step])
    return urls


def owner_get_status(name: str) -> int:
    if name in POST_ONLY:
        return 405
    if name == "dishonest":
        return 302  # not on the list: on to the confirmation page
    return 200


def test_every_url_is_covered():
    assert {
        "detail",
        "step",
        "confirm",
        "dishonest",
        "submit",
        "recall",
        "withdraw",
        "restart",
        "record",
        "proof_attach",
        "proof_detach",
    } == OBJECT_URLS


@pytest.mark.parametrize("role", ROLES)
def test_get_of_every_application_url_by_role(world, cand_a, login_as, role):
    client = login_as(role)
    seen = set()
    for application in drafts(world, cand_a):
        for name, url in object_urls(application).items():
            seen.add(name.split(":")[0])
            response = client.get(url)
            if role == "anonymous":
                assert response.status_code == 302, name
                assert response.url.startswith(resolve_url(settings.LOGIN_URL)), name
            elif role == "owner":
                assert response.status_code == owner_get_status(name.split(":")[0]), name
            else:
                expected = 405 if name in POST_ONLY else 404
                assert response.status_code == expected, (name, response.status_code)
    assert seen == OBJECT_URLS


@pytest.mark.parametrize("role", ROLES)
def test_the_list_by_role(world, login_as, role):
    response = login_as(role).get(reverse("applications:list"))
    if role == "anonymous":
        assert response.status_code == 302 and response.url.startswith(resolve_url(settings.LOGIN_URL))
    elif role in ("owner", "cand_b"):
        assert response.status_code == 200
    else:
        assert response.status_code == 403 and "此页面仅供考生使用。" in response.content.decode()


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("owner", "cand_b")])
def test_only_candidates_can_start(world, login_as, role):
    batch = world.batch(demo.CCAA_EXAM)
    response = login_as(role).post(reverse("applications:start", args=[batch.pk]))
    assert response.status_code == (302 if role == "anonymous" else 403)
    assert not Application.objects.exists()


def state(application: Application) -> tuple:
    application.refresh_from_db()
    return (
        application.status,
        application.kind,
        list(application.completed_steps),
        application.region_id,
        application.site_id,
        application.invoice_kind,
        application.dishonest_confirmed_at,
        sorted(application.subjects.values_list("subject_id", flat=True)),
        sorted(application.proofs.values_list("scan_id", flat=True)),
        application.transitions.count(),
    )


@pytest.mark.parametrize("role", [r for r in ROLES if r != "owner"])
def test_posts_by_anyone_but_the_owner_change_nothing(world, cand_a, login_as, role):
    ready = fill(
        services.application_start(actor=cand_a, batch=world.batch(demo.CCAA_EXAM), kind=ApplicationKind.NEW), cand_a
    )
    under_review = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    draft = services.application_start(actor=cand_a, batch=world.batch(demo.RECRUITMENT_EXAM))
    site = Site.objects.filter(batch=draft.batch).first()
    posts = [
        (ready, "submit", {"confirm": "on"}),
        (ready, "withdraw", {"confirm": "on"}),
        (ready, "dishonest", {"confirm": "on"}),
        (under_review, "recall", {}),
        (under_review, "withdraw", {"confirm": "on"}),
        (under_review, "restart", {"confirm": "on"}),
        (draft, "proof_attach", {"scan": "1"}),
        (draft, "proof_detach", {"scan": "1"}),
    ]
    steps = [
        (draft, FlowStep.PERSONAL, {"province": "320000"}),
        (draft, FlowStep.SITE, {"site": site.pk}),
        (draft, FlowStep.POSITION, {"position": draft.batch.positions.first().pk}),
        (ready, FlowStep.INVOICE, {"kind": "none"}),
        (ready, FlowStep.COMMITMENT, {"agree": "on"}),
    ]
    before = {a.pk: state(a) for a in (ready, under_review, draft)}
    client = login_as(role)
    expected = 302 if role == "anonymous" else 404
    for application, name, data in posts:
        response = client.post(reverse(f"applications:{name}", args=[application.pk]), data)
        assert response.status_code == expected, name
    for application, step, data in steps:
        response = client.post(reverse("applications:step", args=[application.pk, step]), data)
        assert response.status_code == expected, step
    assert {a.pk: state(a) for a in (ready, under_review, draft)} == before
    assert under_review.status == Status.UNDER_REVIEW and ready.status == Status.DRAFT
