"""Who may open which account page: every URL of ``kaowu.accounts.urls`` × every persona.

Candidate-centre pages need a signed-in candidate; another candidate's objects answer 404 (so a guessed
URL reveals nothing); staff allowed to see a candidate's files may view the photo and scans but never
change them. Here ``staff_reviewer`` is made a system administrator (allowed everywhere, see
``can_view_candidate_files``); reviewers with and without the candidate in scope are covered in
``kaowu/review/tests/test_file_access.py``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.urls import reverse

from kaowu.accounts import services
from kaowu.accounts.models import EducationRecord, Photo, Scan
from kaowu.accounts.urls import urlpatterns
from kaowu.backoffice.models import RoleKind
from kaowu.backoffice.services import staff_role_grant
from kaowu.catalog.models import Organisation, OrganisationKind
from kaowu.core.models import AuditEntry

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
ROLES = ("anonymous", "candidate_a", "candidate_b", "staff_reviewer", "outsider")
NOT_CANDIDATE = "此页面仅供考生使用。"

LOGIN = "login"  # 302 to the login page, coming back here afterwards
FORBIDDEN = 403  # the "candidates only" page


def redirect_to(name: str) -> tuple[str, str]:
    return ("redirect", name)


def candidate_only(**overrides):
    """Expectations for a page only candidates may open: anonymous to login, staff and outsider 403."""
    expected = {
        "anonymous": LOGIN,
        "candidate_a": 200,
        "candidate_b": 200,
        "staff_reviewer": FORBIDDEN,
        "outsider": FORBIDDEN,
    }
    expected.update(overrides)
    return expected


def everyone(expected):
    return dict.fromkeys(ROLES, expected)


def signed_in(anonymous, others):
    return {"anonymous": anonymous, **dict.fromkeys(ROLES[1:], others)}


# URL name → (kwargs built from candidate_a's objects, expected GET result per role).
# Every object URL points at candidate_a's objects.
MATRIX = {
    "home": ({}, candidate_only()),
    "register": ({}, signed_in(200, redirect_to("accounts:home"))),
    "register_notice": ({}, everyone(redirect_to("accounts:register"))),
    "register_form": ({}, everyone(redirect_to("accounts:register"))),
    "register_confirm": ({}, everyone(redirect_to("accounts:register"))),
    "login": ({}, everyone(200)),
    "logout": ({}, everyone(405)),  # POST only
    "contact": ({}, candidate_only()),
    "phone": ({}, candidate_only()),
    "security_question": ({}, candidate_only()),
    # Staff and other signed-in users change their own password here too.
    "password": ({}, signed_in(LOGIN, 200)),
    "education_add": ({}, candidate_only()),
    "education_edit": ({"pk": "record"}, candidate_only(candidate_b=404)),
    "education_delete": ({"pk": "record"}, candidate_only(candidate_a=405, candidate_b=405)),  # POST only
    "photo": ({}, candidate_only()),
    "photo_image": (
        {"user_id": "owner"},
        {"anonymous": LOGIN, "candidate_a": 200, "candidate_b": 404, "staff_reviewer": 200, "outsider": 404},
    ),
    "scans": ({}, candidate_only()),
    "scan_file": (
        {"pk": "scan"},
        {"anonymous": LOGIN, "candidate_a": 200, "candidate_b": 404, "staff_reviewer": 200, "outsider": 404},
    ),
    "scan_delete": ({"pk": "scan"}, candidate_only(candidate_a=405, candidate_b=405)),  # POST only
    "recover": ({}, everyone(200)),
    "recover_sms": ({}, everyone(200)),
    "recover_question": ({}, everyone(200)),
    "recover_answer": ({}, everyone(redirect_to("accounts:recover_question"))),
    "recover_reset": ({}, everyone(redirect_to("accounts:recover"))),
}

GET_CASES = [
    pytest.param(name, role, expected[role], id=f"{name}-{role}")
    for name, (_kwargs, expected) in MATRIX.items()
    for role in ROLES
]


@pytest.fixture
def world(db, candidate_a, candidate_b, staff_reviewer, outsider, good_photo):
    """candidate_a's objects: two education records (so one may be deleted), a scan and a photo.

    The photo row is written directly (not through the photo checks, which ACC-7's tests cover), to keep
    the several hundred matrix cases fast.
    """
    record = EducationRecord.objects.get(user=candidate_a)
    services.education_record_add(
        actor=candidate_a,
        user=candidate_a,
        data=services.EducationData(
            level="master",
            degree="master",
            school="清华大学",
            major="法律硕士",
            graduated_on=date(2015, 7, 1),
            study_mode="full_time",
        ),
    )
    scan = services.scan_upload(actor=candidate_a, user=candidate_a, kind="diploma", name="a.pdf", data=PDF)
    photo = Photo(user=candidate_a, width=295, height=413, size_bytes=len(good_photo), background="blue")
    photo.source_width, photo.source_height, photo.source_bytes = 600, 840, len(good_photo)
    photo.image.save("photo.jpg", ContentFile(good_photo), save=False)
    photo.save()
    platform = Organisation.objects.create(name="考务平台运维中心", kind=OrganisationKind.NATIONAL)
    staff_role_grant(actor=None, user=staff_reviewer, role=RoleKind.SYSTEM_ADMIN, organisation=platform)
    return {
        "users": {
            "candidate_a": candidate_a,
            "candidate_b": candidate_b,
            "staff_reviewer": staff_reviewer,
            "outsider": outsider,
        },
        "ids": {"record": record.pk, "scan": scan.pk, "owner": candidate_a.pk},
        "record": record,
        "scan": scan,
        "photo": photo,
    }


def url_of(world, name: str) -> str:
    kwargs, _expected = MATRIX[name]
    return reverse(f"accounts:{name}", kwargs={key: world["ids"][ref] for key, ref in kwargs.items()})


def sign_in(client, world, role: str):
    if role != "anonymous":
        client.force_login(world["users"][role])
    return client


def test_matrix_covers_every_account_url():
    assert set(MATRIX) == {pattern.name for pattern in urlpatterns}


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "role", "expected"), GET_CASES)
def test_get_matrix(client, world, name, role, expected):
    url = url_of(world, name)
    sign_in(client, world, role)

    response = client.get(url)

    if expected == LOGIN:
        assert response.status_code == 302
        assert response.url == f"{reverse('accounts:login')}?next={quote(url)}"
    elif isinstance(expected, tuple):
        assert response.status_code == 302
        assert response.url == reverse(expected[1])
    else:
        assert response.status_code == expected
        if expected == FORBIDDEN:
            assert NOT_CANDIDATE in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(("name", "role"), [(name, role) for name in MATRIX for role in ROLES])
def test_no_request_in_the_matrix_is_a_server_error(client, world, name, role, method):
    client.raise_request_exception = False
    sign_in(client, world, role)

    response = getattr(client, method)(url_of(world, name))

    assert response.status_code < 500


# --- URL guessing: candidate_b tries candidate_a's objects ------------------------------------------


def _state(world):
    scan, photo = world["scan"], world["photo"]
    return {
        "records": list(EducationRecord.objects.filter(user=world["users"]["candidate_a"]).values()),
        "scan_exists": Scan.objects.filter(pk=scan.pk).exists(),
        "scan_file": Path(scan.file.path).is_file(),
        "photo_exists": Photo.objects.filter(pk=photo.pk).exists(),
        "photo_file": Path(photo.image.path).is_file(),
        "audit": list(AuditEntry.objects.values_list("pk", flat=True)),
    }


EDUCATION_POST = {
    "edu_level": "doctorate",
    "edu_degree": "doctor",
    "edu_school": "冒名大学",
    "edu_major": "篡改",
    "edu_graduated_on": "2020-07-01",
    "edu_study_mode": "full_time",
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "method", "expected"),
    [
        ("education_edit", "get", 404),
        ("education_edit", "post", 404),
        ("education_delete", "get", 405),  # refused before any lookup, so nothing is revealed either
        ("education_delete", "post", 404),
        ("scan_file", "get", 404),
        ("scan_file", "post", 404),
        ("scan_delete", "get", 405),
        ("scan_delete", "post", 404),
        ("photo_image", "get", 404),
        ("photo_image", "post", 404),
    ],
)
def test_candidate_b_guessing_candidate_a_urls_gets_404_and_changes_nothing(
    client, world, name, method, expected, django_capture_on_commit_callbacks
):
    sign_in(client, world, "candidate_b")
    before = _state(world)

    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(client, method)(url_of(world, name), EDUCATION_POST if method == "post" else None)

    assert response.status_code == expected
    assert _state(world) == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["education_edit", "scan_file", "photo_image"])
def test_404_for_another_candidates_object_matches_404_for_a_missing_one(client, world, name):
    """A guessed id answers exactly as an id that does not exist: nobody learns which ids are in use."""
    sign_in(client, world, "candidate_b")
    kwargs_name = next(iter(MATRIX[name][0]))
    missing = reverse(f"accounts:{name}", kwargs={kwargs_name: 999_999})

    guessed = url_of(world, name)

    existing_other = client.get(guessed)
    not_there = client.get(missing)

    assert existing_other.status_code == not_there.status_code == 404
    assert existing_other.content.replace(guessed.encode(), b"") == not_there.content.replace(missing.encode(), b"")


# --- Staff review ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "expected"), [("staff_reviewer", 200), ("candidate_a", 200), ("outsider", 404)])
def test_scan_and_photo_files_by_role(client, world, role, expected):
    sign_in(client, world, role)

    scan_response = client.get(url_of(world, "scan_file"))
    photo_response = client.get(url_of(world, "photo_image"))

    assert scan_response.status_code == photo_response.status_code == expected
    if expected == 200:
        assert b"".join(scan_response.streaming_content) == PDF
        assert scan_response["Content-Type"] == "application/pdf"
        assert b"".join(photo_response.streaming_content) == Path(world["photo"].image.path).read_bytes()
        assert photo_response["Cache-Control"] == "private, no-store"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "expected", "deleted"),
    [
        ("candidate_a", 302, True),  # the owner may
        ("candidate_b", 404, False),
        ("staff_reviewer", 403, False),  # may view, never delete
        ("outsider", 403, False),
        ("anonymous", 302, False),  # to the login page
    ],
)
def test_only_the_owner_deletes_a_scan(client, world, role, expected, deleted, django_capture_on_commit_callbacks):
    sign_in(client, world, role)
    scan = world["scan"]
    path = Path(scan.file.path)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url_of(world, "scan_delete"))

    assert response.status_code == expected
    assert Scan.objects.filter(pk=scan.pk).exists() is not deleted
    assert path.exists() is not deleted
    assert AuditEntry.objects.filter(action="accounts.scan.deleted").exists() is deleted


@pytest.mark.django_db
def test_staff_without_a_role_cannot_view_candidate_files_even_with_the_model_permission(
    client, world, django_user_model
):
    plain_staff = django_user_model.objects.create_user(username="staff2", password="x", is_staff=True)
    plain_staff.user_permissions.add(Permission.objects.get(codename="view_scan"))
    client.force_login(plain_staff)

    assert client.get(url_of(world, "scan_file")).status_code == 404
    assert client.get(url_of(world, "photo_image")).status_code == 404


@pytest.mark.django_db
def test_inactive_reviewer_cannot_view_candidate_files(client, world):
    reviewer = world["users"]["staff_reviewer"]
    client.force_login(reviewer)
    reviewer.is_active = False
    reviewer.save(update_fields=["is_active"])

    url = url_of(world, "scan_file")

    response = client.get(url)

    # An inactive account's session no longer authenticates.
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={quote(url)}"


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "logged"), [("staff_reviewer", True), ("candidate_a", False)])
def test_staff_access_to_candidate_files_is_audited(client, world, role, logged):
    sign_in(client, world, role)

    client.get(url_of(world, "scan_file"))
    client.get(url_of(world, "photo_image"))

    viewed = AuditEntry.objects.filter(action__in=["accounts.scan.viewed", "accounts.photo.viewed"])
    assert viewed.count() == (2 if logged else 0)
    if logged:
        assert set(viewed.values_list("actor__username", flat=True)) == {world["users"]["staff_reviewer"].username}
