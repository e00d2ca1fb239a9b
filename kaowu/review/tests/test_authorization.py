"""Who may open which workbench URL: every URL of ``kaowu.review.urls`` × every persona.

The object URLs point at a Jiangsu auctioneer application waiting for the provincial reviewer. Reviewers
for whom it is out of scope get 404 (as for an id that does not exist); people who are not reviewers at
all get the 403 page; anonymous visitors the login page. The 失信 list and prior passes are for programme
and system administrators.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.urls import reverse

from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.review.urls import urlpatterns

from .conftest import submitted

pytestmark = pytest.mark.django_db

LOGIN, FORBIDDEN, NOT_FOUND = "login", 403, 404
PERSONAS = (
    "anonymous",
    "js_caa_province",  # in scope
    "caa_nation",  # same programme, not at its level yet
    "js_cpta_point",  # another programme's review point
    "js_exam_point",
    "owner",  # the candidate whose application it is
    "candidate_b",
    "ccaa_finance",
    "caa_admin",
    "sysadmin",
)
REVIEWERS_OUT = ("caa_nation", "js_cpta_point", "js_exam_point")
NOT_REVIEWERS = ("owner", "candidate_b", "ccaa_finance", "caa_admin", "sysadmin")


def expect(*, anonymous=LOGIN, in_scope, out_of_scope, others=FORBIDDEN, **overrides):
    expected = {"anonymous": anonymous, "js_caa_province": in_scope}
    expected |= dict.fromkeys(REVIEWERS_OUT, out_of_scope) | dict.fromkeys(NOT_REVIEWERS, others)
    return expected | overrides


def managers_only():
    return expect(in_scope=FORBIDDEN, out_of_scope=FORBIDDEN, caa_admin=200, sysadmin=200)


# URL name → (method, expected status per persona). Object URLs take the application's pk.
MATRIX = {
    "queue": ("get", expect(in_scope=200, out_of_scope=200)),
    "bulk_approve": ("post", expect(in_scope=302, out_of_scope=302)),  # empty selection: back to the queue
    "on_site": ("get", expect(in_scope=200, out_of_scope=200)),
    "detail": ("get", expect(in_scope=200, out_of_scope=NOT_FOUND)),
    "decide": ("post", expect(in_scope=400, out_of_scope=NOT_FOUND)),  # return without reason: refused
    "dishonest": ("get", managers_only()),
    "passes": ("get", managers_only()),
}


@pytest.fixture
def setting(world, cand_a, cand_b):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    users = {name: world.staff(name) for name in PERSONAS if name not in ("anonymous", "owner", "candidate_b")}
    users |= {"owner": cand_a, "candidate_b": cand_b}
    return application, users


def url_of(name: str, application) -> str:
    if name in ("detail", "decide"):
        return reverse(f"review:{name}", args=[application.pk])
    return reverse(f"review:{name}")


def request(client, name: str, application, method: str | None = None):
    method = method or MATRIX[name][0]
    url = url_of(name, application)
    if name == "on_site":
        return client.get(url, {"q": application.number})
    if method == "post":
        return client.post(url, {"action": "return", "text": ""})
    return client.get(url)


def test_matrix_covers_every_review_url():
    assert set(MATRIX) == {pattern.name for pattern in urlpatterns}


@pytest.mark.parametrize("name", MATRIX)
def test_matrix(client, setting, name):
    application, users = setting
    _method, expected = MATRIX[name]
    actual = {}
    for persona in PERSONAS:
        client.logout()
        if persona != "anonymous":
            client.force_login(users[persona])
        response = request(client, name, application)
        if response.status_code == 302 and response.url.startswith(reverse("accounts:login")):
            assert response.url.startswith(f"{reverse('accounts:login')}?next={quote(url_of(name, application))}")
            actual[persona] = LOGIN
        else:
            actual[persona] = response.status_code
    assert actual == expected
    application.refresh_from_db()
    assert application.status == Status.UNDER_REVIEW  # nothing in the matrix changed it


@pytest.mark.parametrize("method", ["get", "post"])
def test_no_request_is_a_server_error(client, setting, method):
    application, users = setting
    client.raise_request_exception = False
    for persona in PERSONAS:
        client.logout()
        if persona != "anonymous":
            client.force_login(users[persona])
        for name in MATRIX:
            assert request(client, name, application, method).status_code < 500, (name, persona)


def test_out_of_scope_on_site_lookup_shows_nothing(client, setting):
    application, users = setting
    client.force_login(users["caa_nation"])

    response = client.get(reverse("review:on_site"), {"q": application.number})

    assert response.context["cases"] == []
    assert application.candidate.real_name not in response.content.decode()


@pytest.mark.parametrize("name", ["detail", "decide"])
def test_out_of_scope_404_matches_a_missing_id(client, setting, name):
    application, users = setting
    client.force_login(users["js_cpta_point"])
    guessed, missing = url_of(name, application), reverse(f"review:{name}", args=[999_999])

    method = client.post if name == "decide" else client.get
    existing_other, not_there = method(guessed), method(missing)

    assert existing_other.status_code == not_there.status_code == 404
    assert existing_other.content.replace(guessed.encode(), b"") == not_there.content.replace(missing.encode(), b"")
