"""REV-6: every transition leaves a Transition row and an audit row; every edit an audit row with what
changed; personal numbers never appear unmasked."""

from __future__ import annotations

import json

import pytest

from kaowu.applications import services
from kaowu.applications.models import Application, Transition
from kaowu.applications.workflow import Action, Status
from kaowu.catalog import demo
from kaowu.catalog.models import Region, ReviewLevel
from kaowu.core.context import reset_current_ip, set_current_ip
from kaowu.core.models import AuditEntry

from .conftest import fill

pytestmark = pytest.mark.django_db

IP = "203.0.113.7"


@pytest.fixture
def client_ip():
    """The request's IP, as the middleware sets it for a real request."""
    token = set_current_ip(IP)
    yield IP
    reset_current_ip(token)


def audits(application: Application) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(object_type="applications.application", object_id=str(application.pk)).order_by("pk")
    )


def test_every_transition_is_logged_with_actor_stage_reason_and_ip(world, cand_a, client_ip):
    application = fill(services.application_start(actor=cand_a, batch=world.batch(demo.AUCTIONEER_EXAM)), cand_a)
    province, nation = world.staff("js_caa_province"), world.staff("caa_nation")
    services.application_submit(actor=cand_a, application=application)
    services.application_recall(actor=cand_a, application=application)
    services.application_submit(actor=cand_a, application=application)
    services.review_approve(actor=province, application=application, reason="材料齐全")
    services.review_return(actor=nation, application=application, reason="工作年限证明缺失")
    services.application_withdraw(actor=cand_a, application=application, reason=" 今年不考了 ")

    rows = list(
        Transition.objects.filter(application=application).values_list(
            "action", "from_status", "to_status", "stage__level", "actor__username", "reason", "ip"
        )
    )
    who = cand_a.username
    assert rows == [
        (Action.SUBMIT, Status.DRAFT, Status.UNDER_REVIEW, None, who, "", IP),
        (Action.RECALL, Status.UNDER_REVIEW, Status.DRAFT, None, who, "", IP),
        (Action.SUBMIT, Status.DRAFT, Status.UNDER_REVIEW, None, who, "", IP),
        (
            Action.APPROVE,
            Status.UNDER_REVIEW,
            Status.UNDER_REVIEW,
            ReviewLevel.PROVINCE,
            province.username,
            "材料齐全",
            IP,
        ),
        (
            Action.RETURN,
            Status.UNDER_REVIEW,
            Status.RETURNED,
            ReviewLevel.NATION,
            nation.username,
            "工作年限证明缺失",
            IP,
        ),
        (Action.WITHDRAW, Status.RETURNED, Status.WITHDRAWN, None, who, "今年不考了", IP),
    ]
    transitions = [e for e in audits(application) if e.action.split(".")[1] in Action.values]
    assert [(e.action, e.actor, e.before, e.after["status"], e.ip) for e in transitions] == [
        (f"applications.{action}", actor, {"status": old}, new, IP)
        for action, old, new, _stage, actor_name, _reason, _ip in rows
        for actor in [world.staff(actor_name)]
    ]
    assert transitions[3].after == {"status": Status.UNDER_REVIEW, "stage": ReviewLevel.PROVINCE, "reason": "材料齐全"}


def test_every_edit_is_audited_with_what_changed(world, cand_a, client_ip):
    application = services.application_start(actor=cand_a, batch=world.batch(demo.CCAA_EXAM))
    fill(application, cand_a, subjects=["101"])
    actions = [e.action for e in audits(application)]
    assert actions == [
        "applications.start",
        "applications.commitment",
        "applications.personal",
        "applications.invoice",
        "applications.subjects",
        "applications.site",
    ]
    by_action = {e.action: e for e in audits(application)}
    assert by_action["applications.personal"].before == {"region": None}
    assert by_action["applications.personal"].after == {"region": "320100"}
    assert by_action["applications.subjects"].after == {"subjects": ["101"]}
    assert all(e.actor == cand_a and e.ip == IP for e in by_action.values())

    services.application_confirm_personal(
        actor=cand_a, application=application, region=Region.objects.get(code="310000")
    )
    entry = audits(application)[-1]
    assert (entry.action, entry.before, entry.after) == (
        "applications.personal",
        {"region": "320100"},
        {"region": "310000"},
    )


def test_audit_rows_hold_no_personal_numbers(world, cand_a, client_ip):
    application = fill(services.application_start(actor=cand_a, batch=world.batch(demo.ECONOMIST_EXAM)), cand_a)
    profile = cand_a.candidate_profile
    services.dishonest_entry_add(
        actor=world.staff("cpta_admin"),
        programme=application.programme,
        document_hash=profile.doc_number_hash,
        document_masked=profile.doc_number_masked,
        name=cand_a.real_name,
    )
    application.refresh_from_db()
    services.application_confirm_dishonest(actor=cand_a, application=application)
    services.application_submit(actor=cand_a, application=application)
    text = json.dumps(
        [[e.before, e.after] for e in AuditEntry.objects.all()],
        ensure_ascii=False,
    ) + "".join(Transition.objects.values_list("reason", flat=True))
    assert profile.doc_number not in text and cand_a.phone not in text
    assert profile.doc_number_masked in text  # the 失信 entry's audit shows the masked number
