"""ADR 0001: configuration edited in the admin leaves a field-level history (django-auditlog's
``LogEntry``, actor from the request), while services keep writing the domain trail (``AuditEntry``).

The world is ``kaowu.backoffice.tests.world``.
"""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from auditlog.registry import auditlog

from kaowu.backoffice.models import RoleKind, StaffRole
from kaowu.backoffice.tests.world import at, build_world
from kaowu.catalog import models as catalog
from kaowu.catalog.models import Organisation, OrganisationKind, Position, Subject, WindowAction
from kaowu.core.models import AuditEntry

from .test_admin import errors, management, window_rows

ADMIN = "/admin/catalog/"


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def as_user(client, world):
    def login(persona: str):
        client.force_login(world.users[persona])
        return client

    return login


def history(obj, action: int | None = None):
    entries = LogEntry.objects.get_for_object(obj)
    return entries if action is None else entries.filter(action=action)


@pytest.mark.parametrize(
    "model",
    [
        catalog.Organisation,
        catalog.Programme,
        catalog.ReviewStage,
        catalog.Batch,
        catalog.Subject,
        catalog.Level,
        catalog.Specialty,
        catalog.EligibilityRule,
        catalog.Sitting,
        catalog.Site,
        catalog.SiteCapacity,
        catalog.Position,
        StaffRole,
    ],
    ids=lambda model: model.__name__,
)
def test_configuration_edited_in_the_admin_is_registered_with_auditlog(model):
    assert auditlog.contains(model)


def test_subject_fee_changed_in_the_admin_is_logged_with_the_admin_and_the_field(as_user, world):
    subject = world.sets["CCAA"].subject
    response = as_user("ccaa_admin").post(
        f"{ADMIN}subject/{subject.pk}/change/",
        {"code": subject.code, "name": subject.name, "fee_yuan": "95.50", "position": "0"},
    )
    assert response.status_code == 302, errors(response)

    entry = history(subject, LogEntry.Action.UPDATE).get()
    assert entry.actor == world.users["ccaa_admin"]
    assert entry.changes_dict == {"fee_fen": ["8000", "9550"]}  # only what changed


def test_position_deleted_in_the_admin_is_logged(as_user, world):
    position = world.sets["CPTA"].position
    pk = position.pk
    response = as_user("pta_admin").post(f"{ADMIN}position/{pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Position.objects.filter(pk=pk).exists()

    entry = LogEntry.objects.get(
        content_type__app_label="catalog",
        content_type__model="position",
        object_pk=str(pk),
        action=LogEntry.Action.DELETE,
    )
    assert entry.actor == world.users["pta_admin"]
    assert entry.object_repr == "CPTA-G1 全国专业技术人员资格考试岗位"


def test_position_added_in_the_admin_is_logged(as_user, world):
    response = as_user("ccaa_admin").post(
        f"{ADMIN}position/add/",
        {"batch": world.batch("CCAA").pk, "code": "G02", "name": "审核员", "unit": "认证机构", "posts": "3"},
    )
    assert response.status_code == 302, errors(response)
    entry = history(Position.objects.get(code="G02"), LogEntry.Action.CREATE).get()
    assert entry.actor == world.users["ccaa_admin"]
    assert entry.changes_dict["posts"] == ["None", "3"]


def test_level_subject_set_changes_are_logged(as_user, world):
    s = world.sets["CCAA"]
    other = Subject.objects.create(programme=s.programme, code="CCAA-S2", name="审核知识", fee_fen=5000)
    response = as_user("ccaa_admin").post(
        f"{ADMIN}level/{s.level.pk}/change/",
        {"code": s.level.code, "name": s.level.name, "position": "0", "subjects": [other.pk]},
    )
    assert response.status_code == 302, errors(response)

    changes = [entry.changes_dict["subjects"] for entry in history(s.level).filter(actor=world.users["ccaa_admin"])]
    assert {(c["operation"], tuple(c["objects"])) for c in changes} == {
        ("add", (str(other),)),
        ("delete", (str(s.subject),)),
    }


def test_organisation_created_in_the_admin_is_logged_once_without_its_path(as_user, world):
    response = as_user("sysadmin").post(
        f"{ADMIN}organisation/add/",
        {"name": "上海市拍卖行业协会", "kind": OrganisationKind.PROVINCIAL, "parent": world.orgs["auction"].pk},
    )
    assert response.status_code == 302, errors(response)
    organisation = Organisation.objects.get(name="上海市拍卖行业协会")

    entry = history(organisation).get()
    assert entry.action == LogEntry.Action.CREATE
    assert entry.actor == world.users["sysadmin"]
    assert entry.changes_dict["parent"] == ["None", str(world.orgs["auction"].pk)]
    assert "path" not in entry.changes_dict


def test_staff_role_granted_in_the_admin_is_logged_in_both_trails(as_user, world):
    user = world.users["staff_without_role"]
    response = as_user("sysadmin").post(
        "/admin/backoffice/staffrole/add/",
        {"user": user.pk, "role": RoleKind.FINANCE, "organisation": world.orgs["ccaa"].pk, "programme": ""},
    )
    assert response.status_code == 302, errors(response)
    role = StaffRole.objects.get(user=user)

    assert history(role, LogEntry.Action.CREATE).get().actor == world.users["sysadmin"]
    entry = AuditEntry.objects.get(action="backoffice.role.granted", object_id=str(role.pk))
    assert entry.actor == world.users["sysadmin"]


def test_batch_changed_through_the_service_path_still_writes_audit_entries(as_user, world):
    """Windows are written by ``batch_set_windows``: the domain trail (``AuditEntry``) as before; the
    batch's own fields edited in the same form are in the field-level history."""
    batch = world.batch("CCAA")
    existing = list(batch.windows.order_by("opens_at", "action"))
    rows = [
        (w.action, w.opens_at, at(2026, 3, 25, 17) if w.action == WindowAction.REGISTER else w.closes_at)
        for w in existing
    ]
    data = {"code": batch.code, "name": "认证人员注册考试2026年度（春季）", "year": "2026"}
    data.update(window_rows(rows, existing=existing))
    response = as_user("ccaa_admin").post(f"{ADMIN}batch/{batch.pk}/change/", data)
    assert response.status_code == 302, errors(response)

    entry = AuditEntry.objects.get(action="catalog.batch.windows_set", object_id=str(batch.pk))
    assert entry.actor == world.users["ccaa_admin"]
    assert entry.after["windows"]["register"][1] == "2026-03-25T17:00:00+08:00"
    change = history(batch, LogEntry.Action.UPDATE).get()
    assert change.actor == world.users["ccaa_admin"]
    assert change.changes_dict == {"name": ["认证人员注册考试2026年度", "认证人员注册考试2026年度（春季）"]}


def test_programme_and_review_chain_changed_in_the_admin_are_logged(as_user, world):
    programme = world.programme("CCAA")
    data = {
        "name": programme.name,
        "kind": programme.kind,
        "description": "",
        "flow": "personal, subjects, confirm",
        "payment_stage": programme.payment_stage,
        "resubmission_restart": programme.resubmission_restart,
        "consultation_phone": "010-12345678",
        "is_active": "on",
        **management("review_stages", total=1),
        "review_stages-0-position": "1",
        "review_stages-0-level": "nation",
        "review_stages-0-mode": "online",
    }
    response = as_user("ccaa_admin").post(f"{ADMIN}programme/{programme.pk}/change/", data)
    assert response.status_code == 302, errors(response)

    admin_user = world.users["ccaa_admin"]
    assert history(programme, LogEntry.Action.UPDATE).get().changes_dict == {"consultation_phone": ["", "010-12345678"]}
    stage = programme.review_stages.get()
    assert history(stage, LogEntry.Action.CREATE).get().actor == admin_user


def test_system_writes_are_logged_without_an_actor(world):
    """Outside a request (``seed_demo``, the shell) there is no actor to record."""
    entry = history(world.sets["CAA"].subject, LogEntry.Action.CREATE).get()
    assert entry.actor is None
