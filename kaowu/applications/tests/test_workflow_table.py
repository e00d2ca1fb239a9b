"""The transition table, exhaustively: first the table itself, then every service action by every kind of
actor from every reachable state, and the batch windows that close the candidate's and reviewers' actions."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from kaowu.accounts.models import User
from kaowu.applications import services, workflow
from kaowu.applications.models import Application, SeatHold, Transition
from kaowu.applications.workflow import TRANSITIONS, Action, ActorKind, Status
from kaowu.backoffice.models import RoleKind
from kaowu.backoffice.services import staff_role_grant
from kaowu.catalog import demo
from kaowu.catalog.models import Organisation, OrganisationKind, Region, SiteCapacity, WindowAction
from kaowu.catalog.services import WindowSpec, batch_set_windows
from kaowu.core.errors import KaowuError

from .conftest import fill, submitted

# --- The table itself ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action", "actor_kind"), list(itertools.product(Status.values, Action.values, ActorKind.values))
)
def test_transition_for_allows_exactly_the_table(status, action, actor_kind):
    entry = TRANSITIONS.get((status, action))
    if entry is not None and actor_kind in entry.actors:
        assert workflow.transition_for(status, action, actor_kind) is entry
        return
    with pytest.raises(KaowuError) as info:
        workflow.transition_for(status, action, actor_kind)
    if entry is None:
        assert (info.value.code, info.value.status) == ("applications.transition_not_allowed", 409)
    else:
        assert (info.value.code, info.value.status) == ("applications.actor_not_allowed", 403)


def test_the_table_matches_the_documented_workflow():
    """Guards the table against an accidental edit: the diagram in ``workflow``'s docstring, as data."""
    c, r, f, s = ActorKind.CANDIDATE, ActorKind.REVIEWER, ActorKind.FINANCE, ActorKind.SYSTEM
    assert {key: (set(t.actors), t.window) for key, t in TRANSITIONS.items()} == {
        (Status.DRAFT, Action.SUBMIT): ({c}, WindowAction.REGISTER),
        (Status.RETURNED, Action.SUBMIT): ({c}, WindowAction.MODIFY),
        (Status.UNDER_REVIEW, Action.RECALL): ({c}, WindowAction.MODIFY),
        (Status.DRAFT, Action.WITHDRAW): ({c}, None),
        (Status.UNDER_REVIEW, Action.WITHDRAW): ({c}, None),
        (Status.RETURNED, Action.WITHDRAW): ({c}, None),
        (Status.AWAITING_PAYMENT, Action.WITHDRAW): ({c, s}, None),
        (Status.AWAITING_PAYMENT, Action.RECALL): ({c}, WindowAction.MODIFY),
        (Status.AWAITING_PAYMENT, Action.PAY): ({s}, None),
        (Status.PAID, Action.REFUND): ({c, f}, WindowAction.REFUND),
        (Status.UNDER_REVIEW, Action.REFUND): ({c, f}, WindowAction.REFUND),
        (Status.UNDER_REVIEW, Action.APPROVE): ({r, s}, WindowAction.REVIEW),
        (Status.UNDER_REVIEW, Action.RETURN): ({r}, WindowAction.REVIEW),
        (Status.UNDER_REVIEW, Action.REJECT): ({r}, WindowAction.REVIEW),
    }
    # Final states have no way out.
    assert not [key for key in TRANSITIONS if key[0] in (Status.REJECTED, Status.WITHDRAWN, Status.APPROVED)]


class _FakeApplication:
    def __init__(self, status):
        self.status = status


def test_transition_apply_refuses_a_target_outside_the_table():
    application = _FakeApplication(Status.UNDER_REVIEW)
    with pytest.raises(ValueError, match="not in the transition table"):
        workflow.transition_apply(
            application, action=Action.RETURN, actor_kind=ActorKind.REVIEWER, target=Status.APPROVED
        )
    assert application.status == Status.UNDER_REVIEW
    assert (
        workflow.transition_apply(
            application, action=Action.RETURN, actor_kind=ActorKind.REVIEWER, target=Status.RETURNED
        )
        == Status.UNDER_REVIEW
    )
    assert application.status == Status.RETURNED


# --- Every service action, by every actor, from every reachable state ---------------------------------


def make_reviewer(username: str, role: str, organisation: Organisation) -> User:
    """A staff account holding ``role`` at ``organisation``, granted through the back-office service."""
    user = User.objects.create_user(username=username, password="Kaowu2026test", real_name=username)
    staff_role_grant(actor=None, user=user, role=role, organisation=organisation)
    return user


def _org(name: str) -> Organisation:
    return Organisation.objects.get(name=name)


def personas(world, cand_a, cand_b, code: str) -> dict[str, User]:
    """Every kind of actor for programme ``code``: the owner, another candidate, the reviewer in scope of
    the first review level, reviewers out of it (another area, level, programme), finance and sysadmin."""
    common = {
        "owner": cand_a,
        "other_candidate": cand_b,
        "finance": world.staff("ccaa_finance"),
        "sysadmin": world.staff("sysadmin"),
    }
    if code == demo.AUCTIONEER_EXAM:
        return common | {
            "in_scope": world.staff("js_caa_province"),
            "other_area": make_reviewer("bj_caa_province", RoleKind.PROVINCIAL_REVIEWER, _org("北京市拍卖行业协会")),
            "other_level": world.staff("js_caa_company"),
            "other_programme": make_reviewer(
                "js_cpta_province", RoleKind.PROVINCIAL_REVIEWER, _org("江苏省人事考试中心")
            ),
        }
    return common | {
        "in_scope": world.staff("js_exam_point"),
        "other_area": make_reviewer(
            "sz_exam_point", RoleKind.REVIEW_POINT_REVIEWER, _org("苏州报考点（苏州市人事考试中心）")
        ),
        "other_level": make_reviewer("js_exam_province", RoleKind.PROVINCIAL_REVIEWER, _org("江苏省人事考试院")),
        "other_programme": world.staff("js_cpta_point"),
    }


def build(world, owner: User, code: str, state: str, in_scope: User) -> Application:
    """An application of programme ``code`` brought to ``state`` through the services."""
    reason = "材料不全"
    if state == Status.DRAFT:
        return fill(services.application_start(actor=owner, batch=world.batch(code)), owner)
    if state == Status.WITHDRAWN:
        application = build(world, owner, code, Status.UNDER_REVIEW, in_scope)
        services.application_withdraw(actor=owner, application=application)
    else:
        application = submitted(world, code, owner)
        decide = {
            Status.UNDER_REVIEW: None,
            Status.RETURNED: services.review_return,
            Status.REJECTED: services.review_reject,
            Status.APPROVED: services.review_approve,
        }
        if state == Status.AWAITING_PAYMENT and code == demo.AUCTIONEER_EXAM:
            services.review_approve(actor=in_scope, application=application)
            services.review_approve(actor=world.staff("caa_nation"), application=application)
        elif decide.get(state):
            decide[state](actor=in_scope, application=application, reason=reason, on_site=True)
    application.refresh_from_db()
    assert application.status == state
    return application


# The actions candidates and reviewers take on an application itself. ``pay`` and ``refund`` are taken by
# the payments services on an order (exhaustively in kaowu/payments/tests/test_workflow.py).
ACTIONS = {
    Action.SUBMIT: lambda actor, app: services.application_submit(actor=actor, application=app),
    Action.RECALL: lambda actor, app: services.application_recall(actor=actor, application=app),
    Action.WITHDRAW: lambda actor, app: services.application_withdraw(actor=actor, application=app),
    # on_site=True: the decision is entered as the on-site review would enter it (seed 003 needs it).
    Action.APPROVE: lambda actor, app: services.review_approve(actor=actor, application=app, on_site=True),
    Action.RETURN: lambda actor, app: services.review_return(
        actor=actor, application=app, reason="请补充", on_site=True
    ),
    Action.REJECT: lambda actor, app: services.review_reject(
        actor=actor, application=app, reason="不符合", on_site=True
    ),
}

# What succeeds, by whom, and where it leads; every other (state, action, actor) must be refused.
_CANDIDATE_MOVES = {
    (Status.DRAFT, Action.SUBMIT): Status.UNDER_REVIEW,
    (Status.RETURNED, Action.SUBMIT): Status.UNDER_REVIEW,
    (Status.UNDER_REVIEW, Action.RECALL): Status.DRAFT,
    (Status.DRAFT, Action.WITHDRAW): Status.WITHDRAWN,
    (Status.UNDER_REVIEW, Action.WITHDRAW): Status.WITHDRAWN,
    (Status.RETURNED, Action.WITHDRAW): Status.WITHDRAWN,
    (Status.AWAITING_PAYMENT, Action.WITHDRAW): Status.WITHDRAWN,
}
_REVIEWER_MOVES = {
    # seed 000: the province approves and the nation's level follows; seed 003: the only level, paid on site.
    (demo.AUCTIONEER_EXAM, Action.APPROVE): Status.UNDER_REVIEW,
    (demo.RECRUITMENT_EXAM, Action.APPROVE): Status.APPROVED,
    (demo.AUCTIONEER_EXAM, Action.RETURN): Status.RETURNED,
    (demo.RECRUITMENT_EXAM, Action.RETURN): Status.RETURNED,
    (demo.AUCTIONEER_EXAM, Action.REJECT): Status.REJECTED,
    (demo.RECRUITMENT_EXAM, Action.REJECT): Status.REJECTED,
}


def expected_target(code: str, state: str, action: str, actor: str) -> str | None:
    if actor == "owner":
        return _CANDIDATE_MOVES.get((state, action))
    if actor == "in_scope" and state == Status.UNDER_REVIEW:
        return _REVIEWER_MOVES.get((code, action))
    return None


def footprint(application: Application) -> dict:
    """Everything an action may change; a refused action must leave all of it as it was."""
    application.refresh_from_db()
    return {
        "status": application.status,
        "round": application.round,
        "stage": application.current_stage_id,
        "completed_steps": list(application.completed_steps),
        "steps": list(application.review_steps.order_by("pk").values_list("pk", "status", "reviewer_id")),
        "holds": list(SeatHold.objects.filter(application=application).values_list("capacity_id", flat=True)),
        "held": list(SiteCapacity.objects.order_by("pk").values_list("held", flat=True)),
        "transitions": Transition.objects.filter(application=application).count(),
    }


STATES = [
    (demo.AUCTIONEER_EXAM, Status.DRAFT),
    (demo.AUCTIONEER_EXAM, Status.UNDER_REVIEW),
    (demo.AUCTIONEER_EXAM, Status.RETURNED),
    (demo.AUCTIONEER_EXAM, Status.REJECTED),
    (demo.AUCTIONEER_EXAM, Status.AWAITING_PAYMENT),
    (demo.AUCTIONEER_EXAM, Status.WITHDRAWN),
    # seed 003 holds seats at the chosen 报考点, and is where 审核通过 is a final state.
    (demo.RECRUITMENT_EXAM, Status.DRAFT),
    (demo.RECRUITMENT_EXAM, Status.UNDER_REVIEW),
    (demo.RECRUITMENT_EXAM, Status.RETURNED),
    (demo.RECRUITMENT_EXAM, Status.REJECTED),
    (demo.RECRUITMENT_EXAM, Status.APPROVED),
    (demo.RECRUITMENT_EXAM, Status.WITHDRAWN),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("code", "state"), STATES, ids=[f"{c}-{s}" for c, s in STATES])
def test_every_action_by_every_actor(world, cand_a, cand_b, code, state):
    people = personas(world, cand_a, cand_b, code)
    application = build(world, cand_a, code, state, people["in_scope"])
    if code == demo.RECRUITMENT_EXAM and state in (Status.UNDER_REVIEW, Status.RETURNED, Status.APPROVED):
        assert application.seat_holds.exists()  # so "seats unchanged" below means something
    checked = 0
    for action, who in itertools.product(ACTIONS, people):
        before = footprint(application)
        target = expected_target(code, state, action, who)
        if target is None:
            with pytest.raises(KaowuError) as info:
                ACTIONS[action](people[who], application)
            assert info.value.status in (403, 409), (action, who, info.value.code)
            assert str(info.value.message), (action, who)
            assert footprint(application) == before, (action, who, info.value.code)
        else:
            # Allowed: do it, look, and undo it so the next actor starts from the same state.
            with transaction.atomic():
                ACTIONS[action](people[who], application)
                after = footprint(application)
                transaction.set_rollback(True)
            assert after["status"] == target, (action, who)
            assert after["transitions"] == before["transitions"] + 1, (action, who)
            if target in (Status.WITHDRAWN, Status.REJECTED):
                assert after["holds"] == [], (action, who)
            assert footprint(application) == before
        checked += 1
    assert checked == len(ACTIONS) * len(people)


@pytest.mark.django_db
def test_refusals_say_why(world, cand_a, cand_b):
    """The codes behind the refusals above: owner, table, scope."""
    people = personas(world, cand_a, cand_b, demo.AUCTIONEER_EXAM)
    application = build(world, cand_a, demo.AUCTIONEER_EXAM, Status.UNDER_REVIEW, people["in_scope"])
    cases = [
        (Action.RECALL, "other_candidate", "applications.not_owner"),
        (Action.WITHDRAW, "sysadmin", "applications.not_owner"),
        (Action.SUBMIT, "owner", "applications.transition_not_allowed"),
        (Action.APPROVE, "owner", "applications.out_of_scope"),
        (Action.APPROVE, "other_area", "applications.out_of_scope"),
        (Action.RETURN, "other_level", "applications.out_of_scope"),
        (Action.REJECT, "other_programme", "applications.out_of_scope"),
        (Action.APPROVE, "finance", "applications.out_of_scope"),
        (Action.APPROVE, "sysadmin", "applications.out_of_scope"),
    ]
    for action, who, code in cases:
        with pytest.raises(KaowuError) as info:
            ACTIONS[action](people[who], application)
        assert info.value.code == code, (action, who)
    services.review_approve(actor=people["in_scope"], application=application)
    # At the national level the province is now the wrong level, and the nation is in scope.
    with pytest.raises(KaowuError) as info:
        services.review_approve(actor=people["in_scope"], application=application)
    assert info.value.code == "applications.out_of_scope"
    services.review_approve(actor=world.staff("caa_nation"), application=application)
    application.refresh_from_db()
    assert application.status == Status.AWAITING_PAYMENT


# --- Windows --------------------------------------------------------------------------------------------


def close_windows(batch, *actions: str) -> None:
    """End ``actions``' windows of ``batch`` a minute ago through the catalogue service (the demo's windows
    opened yesterday, so their order stays valid)."""
    now = timezone.now()
    windows = [
        WindowSpec(w.action, w.opens_at, now - timedelta(minutes=1))
        if w.action in actions
        else WindowSpec(w.action, w.opens_at, w.closes_at)
        for w in batch.windows.all()
    ]
    batch_set_windows(actor=None, batch=batch, windows=windows)


def assert_window_closed(call, name: str = "") -> None:
    with pytest.raises(KaowuError) as info:
        call()
    assert (info.value.code, info.value.status) == ("catalog.window_closed", 409), name


def edit_calls(world, application: Application) -> dict:
    """Every candidate step service, with arguments that would be accepted while the window is open."""
    programme = application.programme
    nanjing = Region.objects.get(code="320100")
    point = Organisation.objects.filter(kind=OrganisationKind.REVIEW_POINT, region=nanjing).first()
    subjects = list(application.subjects.values_list("subject", flat=True))
    level = application.level
    owner = application.candidate
    return {
        "personal": lambda: services.application_confirm_personal(actor=owner, application=application, region=nanjing),
        "review_point": lambda: services.application_choose_review_point(
            actor=owner, application=application, review_point=point
        ),
        "commitment": lambda: services.application_accept_commitment(actor=owner, application=application),
        "subjects": lambda: services.application_choose_subjects(
            actor=owner,
            application=application,
            level=level,
            specialty=application.specialty,
            subjects=list(programme.subjects.filter(pk__in=subjects)),
        ),
        "site": lambda: services.application_choose_site(
            actor=owner, application=application, site=application.batch.sites.order_by("pk").last()
        ),
        "position": lambda: services.application_choose_position(
            actor=owner, application=application, position=world.batch(demo.RECRUITMENT_EXAM).positions.first()
        ),
        "invoice": lambda: services.application_set_invoice(actor=owner, application=application, kind="personal"),
        "proofs": lambda: services.application_confirm_proofs(actor=owner, application=application),
        "dishonest": lambda: services.application_confirm_dishonest(actor=owner, application=application),
        "restart_as_new": lambda: services.application_restart_as_new(actor=owner, application=application),
    }


@pytest.mark.django_db
def test_closed_register_window_refuses_submit_and_every_edit_but_not_withdraw(world, cand_a):
    application = fill(services.application_start(actor=cand_a, batch=world.batch(demo.CCAA_EXAM)), cand_a)
    close_windows(application.batch, WindowAction.REGISTER)
    before = footprint(application)
    assert_window_closed(lambda: services.application_submit(actor=cand_a, application=application))
    for name, call in edit_calls(world, application).items():
        assert_window_closed(call, name)
    assert footprint(application) == before
    with pytest.raises(KaowuError) as info:
        services.application_start(actor=cand_a, batch=application.batch)
    assert info.value.code == "catalog.window_closed"
    services.application_withdraw(actor=cand_a, application=application)
    application.refresh_from_db()
    assert application.status == Status.WITHDRAWN


@pytest.mark.django_db
def test_closed_modify_window_refuses_recall_resubmission_and_edits(world, cand_a):
    returned = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    services.review_return(actor=world.staff("js_caa_province"), application=returned, reason="请补充工作证明")
    close_windows(returned.batch, WindowAction.MODIFY)
    before = footprint(returned)
    # After the first submission the 修改 window governs, even though 报名 is still open.
    assert_window_closed(lambda: services.application_submit(actor=cand_a, application=returned))
    for name, call in edit_calls(world, returned).items():
        assert_window_closed(call, name)
    assert footprint(returned) == before
    services.application_withdraw(actor=cand_a, application=returned)
    returned.refresh_from_db()
    assert returned.status == Status.WITHDRAWN


@pytest.mark.django_db
def test_closed_modify_window_refuses_recall(world, cand_a):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    close_windows(application.batch, WindowAction.MODIFY)
    before = footprint(application)
    assert_window_closed(lambda: services.application_recall(actor=cand_a, application=application))
    assert footprint(application) == before
    services.application_withdraw(actor=cand_a, application=application)
    application.refresh_from_db()
    assert application.status == Status.WITHDRAWN


@pytest.mark.django_db
@pytest.mark.parametrize("action", [Action.APPROVE, Action.RETURN, Action.REJECT])
def test_closed_review_window_refuses_every_decision(world, cand_a, cand_b, action):
    people = personas(world, cand_a, cand_b, demo.RECRUITMENT_EXAM)
    application = submitted(world, demo.RECRUITMENT_EXAM, cand_a)
    close_windows(application.batch, WindowAction.REVIEW)
    before = footprint(application)
    assert_window_closed(lambda: ACTIONS[action](people["in_scope"], application))
    assert footprint(application) == before
    services.application_withdraw(actor=cand_a, application=application)
    application.refresh_from_db()
    assert application.status == Status.WITHDRAWN
    assert not application.seat_holds.exists()
