"""OPS-1: the role × object matrix of the permission layer (``kaowu.backoffice.permissions``).

Every staff account sees exactly its scope: programme administrators and finance the programmes owned
within their organisation's subtree, reviewers also the programmes owned above them, a role narrowed to
one programme only that programme; candidates, outsiders and staff without a role see nothing.
"""

from __future__ import annotations

import pytest

from kaowu.backoffice import permissions
from kaowu.backoffice.models import RoleKind
from kaowu.backoffice.tests.world import build_world
from kaowu.catalog.models import Organisation, Programme

ALL_PROGRAMMES = {"CCAA", "CPTA", "JSSY", "CAA"}
ALL_ORGS = {"ccaa", "pta", "js_pta", "nj_point", "auction", "js_auction", "company"}

# persona → (visible programmes, managed programmes, visible organisations)
MATRIX: dict[str, tuple[set[str], set[str], set[str]]] = {
    "superuser": (ALL_PROGRAMMES, ALL_PROGRAMMES, ALL_ORGS),
    "sysadmin": (ALL_PROGRAMMES, ALL_PROGRAMMES, ALL_ORGS),
    "ccaa_admin": ({"CCAA"}, {"CCAA"}, {"ccaa"}),
    "pta_admin": ({"CPTA", "JSSY"}, {"CPTA", "JSSY"}, {"pta", "js_pta", "nj_point"}),
    "js_admin": ({"JSSY"}, {"JSSY"}, {"js_pta", "nj_point"}),
    "caa_admin": ({"CAA"}, {"CAA"}, {"auction", "js_auction", "company"}),
    "narrowed_admin": ({"JSSY"}, {"JSSY"}, {"pta", "js_pta", "nj_point"}),
    "national_reviewer": ({"CPTA", "JSSY"}, set(), {"pta", "js_pta", "nj_point"}),
    "provincial_reviewer": ({"CPTA", "JSSY"}, set(), {"js_pta", "nj_point"}),
    "review_point_reviewer": ({"CPTA", "JSSY"}, set(), {"nj_point"}),
    "company_reviewer": ({"CAA"}, set(), {"company"}),
    "finance": ({"CAA"}, set(), {"auction", "js_auction", "company"}),
    "staff_without_role": (set(), set(), set()),
    "candidate": (set(), set(), set()),
    "outsider": (set(), set(), set()),
}


@pytest.fixture
def world(db, candidate_a, outsider):
    world = build_world()
    world.users["candidate"] = candidate_a
    world.users["outsider"] = outsider
    return world


def _codes(programmes) -> set[str]:
    return {p.code.upper() for p in programmes}


def _org_keys(world, organisations) -> set[str]:
    by_pk = {org.pk: key for key, org in world.orgs.items()}
    return {by_pk[org.pk] for org in organisations}


@pytest.mark.parametrize("persona", MATRIX)
def test_visible_programmes(world, persona):
    assert _codes(permissions.programmes_for(world.users[persona])) == MATRIX[persona][0]


@pytest.mark.parametrize("persona", MATRIX)
def test_visible_batches(world, persona):
    batches = permissions.batches_for(world.users[persona])
    assert {b.code for b in batches} == {f"{code.lower()}-2026" for code in MATRIX[persona][0]}


@pytest.mark.parametrize("persona", MATRIX)
def test_managed_programmes(world, persona):
    assert _codes(permissions.managed_programmes(world.users[persona])) == MATRIX[persona][1]


@pytest.mark.parametrize("persona", MATRIX)
@pytest.mark.parametrize("programme", sorted(ALL_PROGRAMMES))
def test_can_manage_programme(world, persona, programme):
    expected = programme in MATRIX[persona][1]
    assert permissions.can_manage_programme(world.users[persona], world.programme(programme)) is expected


@pytest.mark.parametrize("persona", MATRIX)
def test_visible_organisations(world, persona):
    assert _org_keys(world, permissions.organisations_for(world.users[persona])) == MATRIX[persona][2]


@pytest.mark.parametrize("persona", [p for p in MATRIX if p not in {"superuser", "sysadmin"}])
def test_nobody_sees_another_organisations_programmes(world, persona):
    """Whatever a non-administrator sees is owned inside their organisation's subtree, or — for
    reviewers only — by an organisation above them."""
    user = world.users[persona]
    roles = permissions.roles_of(user)
    for programme in permissions.programmes_for(user):
        owner = programme.owner
        assert any(
            (role.programme_id in (None, programme.pk))
            and (
                owner.is_within(role.organisation)
                or (role.role in permissions.REVIEWER_ROLES and role.organisation.is_within(owner))
            )
            for role in roles
        ), f"{persona} sees {programme.code} owned by {owner}"


@pytest.mark.parametrize(
    "persona", ["superuser", "sysadmin", "ccaa_admin", "national_reviewer", "staff_without_role", "outsider"]
)
def test_is_system_admin(world, persona):
    assert permissions.is_system_admin(world.users[persona]) is (persona in {"superuser", "sysadmin"})


def test_roles_of_lists_only_the_users_roles(world):
    roles = permissions.roles_of(world.users["provincial_reviewer"])
    assert [(r.role, r.organisation.name) for r in roles] == [(RoleKind.PROVINCIAL_REVIEWER, "江苏省人事考试中心")]
    assert permissions.roles_of(world.users["candidate"]) == []


def test_deactivated_staff_sees_nothing(world):
    user = world.users["pta_admin"]
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert not permissions.programmes_for(user).exists()
    assert not permissions.organisations_for(user).exists()
    assert not permissions.can_manage_programme(user, world.programme("CPTA"))


def test_staff_flag_removed_sees_nothing(world):
    """Roles count only while the account is staff (revoking the last role clears the flag)."""
    user = world.users["ccaa_admin"]
    user.is_staff = False
    user.save(update_fields=["is_staff"])
    assert not permissions.programmes_for(user).exists()


def test_second_role_widens_the_scope(world):
    from kaowu.backoffice.services import staff_role_grant

    user = world.users["ccaa_admin"]
    staff_role_grant(
        actor=world.users["sysadmin"], user=user, role=RoleKind.FINANCE, organisation=world.orgs["auction"]
    )
    assert _codes(permissions.programmes_for(user)) == {"CCAA", "CAA"}
    assert _codes(permissions.managed_programmes(user)) == {"CCAA"}  # finance does not configure


def test_new_programme_below_an_admin_joins_their_scope(world):
    """Scopes follow the tree, not a list: a programme created under 南京审核点 is the PTA admin's at once."""
    programme = Programme.objects.create(
        owner=world.orgs["nj_point"], code="njtest", name="南京测试", kind="exam", payment_stage="after_review"
    )
    assert permissions.can_manage_programme(world.users["pta_admin"], programme)
    assert not permissions.can_manage_programme(world.users["ccaa_admin"], programme)
    assert programme in permissions.programmes_for(world.users["review_point_reviewer"])


def test_moving_an_organisation_moves_its_scope(world):
    """Re-parenting 江苏省人事考试中心 under 中国认证认可协会 moves JSSY out of the PTA admin's scope."""
    js = world.orgs["js_pta"]
    js.parent = world.orgs["ccaa"]
    js.save()
    assert _codes(permissions.managed_programmes(world.users["pta_admin"])) == {"CPTA"}
    assert _codes(permissions.managed_programmes(world.users["ccaa_admin"])) == {"CCAA", "JSSY"}
    assert Organisation.objects.get(name="南京审核点").is_within(world.orgs["ccaa"])
