"""OPS-1: granting and revoking staff roles (services and the system administrators' admin page)."""

from __future__ import annotations

import pytest

from kaowu.accounts.models import User
from kaowu.backoffice.models import RoleKind, StaffRole
from kaowu.backoffice.services import staff_role_grant, staff_role_revoke
from kaowu.backoffice.tests.world import build_world, make_staff
from kaowu.core.errors import KaowuError
from kaowu.core.models import AuditEntry


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def sysadmin(world) -> User:
    return world.users["sysadmin"]


def test_grant_makes_staff_and_audits(world, sysadmin):
    user = make_staff("newreviewer")
    assert not user.is_staff
    role = staff_role_grant(
        actor=sysadmin, user=user, role=RoleKind.PROVINCIAL_REVIEWER, organisation=world.orgs["js_pta"]
    )
    user.refresh_from_db()
    assert user.is_staff
    assert role.organisation == world.orgs["js_pta"] and role.programme is None
    entry = AuditEntry.objects.get(action="backoffice.role.granted", object_id=str(role.pk))
    assert entry.actor == sysadmin
    assert entry.after == {
        "user": "newreviewer",
        "role": "provincial_reviewer",
        "organisation": world.orgs["js_pta"].pk,
        "programme": None,
    }


def test_grant_narrowed_to_a_programme_owned_below(world, sysadmin):
    role = staff_role_grant(
        actor=sysadmin,
        user=make_staff("jsadmin2"),
        role=RoleKind.PROGRAMME_ADMIN,
        organisation=world.orgs["pta"],
        programme=world.programme("JSSY"),
    )
    assert role.programme == world.programme("JSSY")


def test_grant_narrowed_to_a_programme_owned_above(world, sysadmin):
    """A provincial reviewer reviews for the national programme of their tree."""
    role = staff_role_grant(
        actor=sysadmin,
        user=make_staff("jsrev2"),
        role=RoleKind.PROVINCIAL_REVIEWER,
        organisation=world.orgs["js_pta"],
        programme=world.programme("CPTA"),
    )
    assert role.programme == world.programme("CPTA")


def test_system_can_grant_without_an_actor(world):
    """``actor=None`` is the system itself (seed_demo, management commands)."""
    role = staff_role_grant(
        actor=None, user=make_staff("seeded1"), role=RoleKind.FINANCE, organisation=world.orgs["auction"]
    )
    assert AuditEntry.objects.get(action="backoffice.role.granted", object_id=str(role.pk)).actor is None


def _refusal(world, **overrides) -> KaowuError:
    kwargs = {
        "actor": world.users["sysadmin"],
        "user": make_staff("candidate9"),
        "role": RoleKind.PROGRAMME_ADMIN,
        "organisation": world.orgs["js_pta"],
        "programme": None,
    }
    kwargs.update(overrides)
    count = StaffRole.objects.count()
    with pytest.raises(KaowuError) as caught:
        staff_role_grant(**kwargs)
    assert StaffRole.objects.count() == count
    assert not AuditEntry.objects.filter(action="backoffice.role.granted", object_id="").exists()
    return caught.value


@pytest.mark.parametrize(
    "overrides, code, field",
    [
        (lambda w: {"programme": w.programme("CCAA")}, "backoffice.role.programme_out_of_scope", "programme"),
        (lambda w: {"programme": w.programme("CAA")}, "backoffice.role.programme_out_of_scope", "programme"),
        (
            lambda w: {"organisation": w.orgs["company"], "programme": w.programme("CPTA")},
            "backoffice.role.programme_out_of_scope",
            "programme",
        ),
        (lambda w: {"actor": w.users["pta_admin"]}, "backoffice.role.forbidden", None),
        (lambda w: {"actor": w.users["national_reviewer"]}, "backoffice.role.forbidden", None),
        (lambda w: {"role": "emperor"}, "backoffice.role.unknown", "role"),
        (
            lambda w: {"role": RoleKind.PROVINCIAL_REVIEWER, "organisation": w.orgs["nj_point"]},
            "backoffice.role.wrong_organisation_kind",
            "organisation",
        ),
        (
            lambda w: {"role": RoleKind.COMPANY_REVIEWER, "organisation": w.orgs["auction"]},
            "backoffice.role.wrong_organisation_kind",
            "organisation",
        ),
        (
            lambda w: {"role": RoleKind.SYSTEM_ADMIN, "programme": w.programme("JSSY")},
            "backoffice.role.system_admin_programme",
            "programme",
        ),
        (
            lambda w: {"user": w.users["js_admin"], "organisation": w.orgs["js_pta"]},
            "backoffice.role.duplicate",
            "role",
        ),
    ],
    ids=[
        "programme-of-another-tree",
        "programme-of-another-national-body",
        "programme-of-a-sibling-branch",
        "programme-admin-cannot-grant",
        "reviewer-cannot-grant",
        "unknown-role",
        "reviewer-at-wrong-kind-of-organisation",
        "company-reviewer-at-national-body",
        "system-admin-narrowed",
        "duplicate",
    ],
)
def test_bad_grants_are_refused(world, overrides, code, field):
    error = _refusal(world, **overrides(world))
    assert error.code == code
    assert error.field == field
    assert any("\u4e00" <= char <= "\u9fff" for char in error.message)


def test_forbidden_grant_is_403(world):
    assert _refusal(world, actor=world.users["ccaa_admin"]).status == 403


def test_candidate_account_cannot_become_staff(world, candidate_a):
    error = _refusal(world, user=candidate_a)
    assert error.code == "backoffice.role.candidate_account"
    candidate_a.refresh_from_db()
    assert not candidate_a.is_staff


def test_inactive_account_cannot_be_granted(world):
    user = make_staff("gone1")
    user.is_active = False
    user.save()
    assert _refusal(world, user=user).code == "backoffice.role.inactive_user"


def test_revoke_last_role_removes_staff_access_and_audits(world, sysadmin):
    user = world.users["js_admin"]
    role = StaffRole.objects.get(user=user)
    staff_role_revoke(actor=sysadmin, role=role)
    user.refresh_from_db()
    assert not StaffRole.objects.filter(user=user).exists()
    assert not user.is_staff
    entry = AuditEntry.objects.get(action="backoffice.role.revoked", object_id=str(role.pk))
    assert entry.actor == sysadmin
    assert entry.before["role"] == "programme_admin"


def test_revoke_one_of_two_roles_keeps_staff(world, sysadmin):
    user = world.users["js_admin"]
    extra = staff_role_grant(actor=sysadmin, user=user, role=RoleKind.FINANCE, organisation=world.orgs["js_pta"])
    staff_role_revoke(actor=sysadmin, role=extra)
    user.refresh_from_db()
    assert user.is_staff
    assert StaffRole.objects.filter(user=user).count() == 1


def test_revoke_keeps_a_superusers_staff_flag(world):
    root = world.users["superuser"]
    role = staff_role_grant(actor=root, user=root, role=RoleKind.FINANCE, organisation=world.orgs["auction"])
    staff_role_revoke(actor=root, role=role)
    root.refresh_from_db()
    assert root.is_staff


def test_only_system_admins_revoke(world):
    role = StaffRole.objects.get(user=world.users["js_admin"])
    with pytest.raises(KaowuError) as caught:
        staff_role_revoke(actor=world.users["pta_admin"], role=role)
    assert caught.value.code == "backoffice.role.forbidden"
    assert StaffRole.objects.filter(pk=role.pk).exists()


def test_system_admin_cannot_revoke_their_own_last_admin_role(world, sysadmin):
    role = StaffRole.objects.get(user=sysadmin)
    with pytest.raises(KaowuError) as caught:
        staff_role_revoke(actor=sysadmin, role=role)
    assert caught.value.code == "backoffice.role.revoke_self"
    assert StaffRole.objects.filter(pk=role.pk).exists()


# --- The staff-role admin page (system administrators only) ----------------------------------------

URL = "/admin/backoffice/staffrole/"


@pytest.mark.parametrize("persona", ["ccaa_admin", "pta_admin", "national_reviewer", "finance", "staff_without_role"])
def test_staff_role_admin_is_for_system_admins_only(client, world, persona):
    client.force_login(world.users[persona])
    assert client.get(URL).status_code == 403
    assert client.get(URL + "add/").status_code == 403
    role = StaffRole.objects.first()
    assert client.get(f"{URL}{role.pk}/change/").status_code in (403, 404)
    assert client.post(f"{URL}{role.pk}/delete/", {"post": "yes"}).status_code in (403, 404)
    assert StaffRole.objects.filter(pk=role.pk).exists()
    assert "人员角色" not in client.get("/admin/").content.decode()


def test_system_admin_lists_roles(client, world, sysadmin):
    client.force_login(sysadmin)
    body = client.get(URL).content.decode()
    assert "人员角色" in body
    assert "ccaa_admin" in body and "narrowed_admin" in body


def test_system_admin_grants_through_the_admin(client, world, sysadmin):
    user = make_staff("viaadmin")
    client.force_login(sysadmin)
    response = client.post(
        URL + "add/",
        {"user": user.pk, "role": RoleKind.REVIEW_POINT_REVIEWER, "organisation": world.orgs["nj_point"].pk},
    )
    assert response.status_code == 302, response.content.decode()
    role = StaffRole.objects.get(user=user)
    user.refresh_from_db()
    assert user.is_staff
    assert AuditEntry.objects.filter(action="backoffice.role.granted", object_id=str(role.pk), actor=sysadmin).exists()


@pytest.mark.parametrize(
    "data, message",
    [
        (
            lambda w, u: {
                "user": u.pk,
                "role": RoleKind.PROGRAMME_ADMIN,
                "organisation": w.orgs["ccaa"].pk,
                "programme": w.programme("CPTA").pk,
            },
            "不属于机构",
        ),
        (
            lambda w, u: {"user": u.pk, "role": RoleKind.NATIONAL_REVIEWER, "organisation": w.orgs["company"].pk},
            "类型的机构任职",
        ),
        (
            lambda w, u: {
                "user": w.users["ccaa_admin"].pk,
                "role": "programme_admin",
                "organisation": w.orgs["ccaa"].pk,
            },
            "无需重复授予",
        ),
        (lambda w, u: {"user": u.pk, "role": "", "organisation": w.orgs["ccaa"].pk}, "这个字段是必须的"),
        (lambda w, u: {"user": u.pk, "role": "emperor", "organisation": w.orgs["ccaa"].pk}, "选择一个有效的选项"),
    ],
    ids=["programme-out-of-scope", "wrong-organisation-kind", "duplicate", "missing-role", "unknown-role"],
)
def test_bad_input_in_the_role_form(client, world, sysadmin, data, message):
    user = make_staff("badinput")
    client.force_login(sysadmin)
    count = StaffRole.objects.count()
    response = client.post(URL + "add/", data(world, user))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert StaffRole.objects.count() == count


def test_candidates_are_not_offered_in_the_role_form(client, world, sysadmin, candidate_a):
    client.force_login(sysadmin)
    body = client.get(URL + "add/").content.decode()
    assert "ccaa_admin" in body
    assert candidate_a.username not in body
    response = client.post(
        URL + "add/", {"user": candidate_a.pk, "role": "finance", "organisation": world.orgs["auction"].pk}
    )
    assert response.status_code == 200
    assert not StaffRole.objects.filter(user=candidate_a).exists()


def test_roles_are_not_edited_in_place(client, world, sysadmin):
    role = StaffRole.objects.get(user=world.users["ccaa_admin"])
    client.force_login(sysadmin)
    response = client.post(
        f"{URL}{role.pk}/change/", {"user": role.user_id, "role": "finance", "organisation": role.organisation_id}
    )
    assert response.status_code == 403
    role.refresh_from_db()
    assert role.role == RoleKind.PROGRAMME_ADMIN


def test_system_admin_revokes_through_the_admin(client, world, sysadmin):
    role = StaffRole.objects.get(user=world.users["caa_admin"])
    client.force_login(sysadmin)
    response = client.post(f"{URL}{role.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not StaffRole.objects.filter(pk=role.pk).exists()
    assert AuditEntry.objects.filter(action="backoffice.role.revoked", object_id=str(role.pk)).exists()


def test_system_admin_revokes_in_bulk(client, world, sysadmin):
    roles = list(StaffRole.objects.filter(user__username__in=["caa_admin", "finance"]))
    client.force_login(sysadmin)
    response = client.post(URL, {"action": "delete_selected", "_selected_action": [r.pk for r in roles], "post": "yes"})
    assert response.status_code == 302
    assert not StaffRole.objects.filter(pk__in=[r.pk for r in roles]).exists()
    assert AuditEntry.objects.filter(action="backoffice.role.revoked").count() == 2
