"""The back office shows accounts with identity masked and read-only, and finds rare-character names (ACC-9)."""

from __future__ import annotations

import pytest

from kaowu.accounts.models import User
from kaowu.conftest import PASSWORD


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser(username="root1", password=PASSWORD, email="root@example.com")


def test_admin_search_finds_rare_character_name(client, superuser, candidate_a, candidate_b):
    client.force_login(superuser)
    response = client.get("/admin/accounts/user/", {"q": "𠀀"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "李𠀀明" in body
    assert candidate_a.username not in body


def test_admin_lists_document_numbers_masked_only(client, superuser, candidate_a):
    client.force_login(superuser)
    body = client.get("/admin/accounts/user/").content.decode()
    profile = candidate_a.candidate_profile
    assert profile.doc_number_masked in body
    assert profile.doc_number not in body


def test_admin_cannot_edit_candidate_identity(client, superuser, candidate_a):
    client.force_login(superuser)
    page = client.get(f"/admin/accounts/user/{candidate_a.pk}/change/").content.decode()
    assert 'name="real_name"' not in page
    assert 'name="phone"' not in page
    assert candidate_a.candidate_profile.doc_number not in page


def test_admin_audit_log_is_read_only(client, superuser, candidate_a):
    client.force_login(superuser)
    assert client.get("/admin/core/auditentry/").status_code == 200
    assert client.get("/admin/core/auditentry/add/").status_code == 403
