"""The three payment transition tables (orders, payments, refunds) and the application table's money rows,
exhaustively: first each table against the workflow as documented (written out here as data, so an edit of
a table shows up as a failure), then every money service by every kind of actor from every application
state it can meet, through the services."""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction

from kaowu.applications import services as application_services
from kaowu.applications import workflow as application_workflow
from kaowu.applications.models import Application
from kaowu.applications.workflow import Action, Status
from kaowu.catalog import demo
from kaowu.catalog.models import Site, WindowAction
from kaowu.core.errors import KaowuError
from kaowu.payments import services, workflow
from kaowu.payments.workflow import (
    ActorKind,
    OrderAction,
    OrderStatus,
    PaymentAction,
    PaymentStatus,
    RefundAction,
    RefundStatus,
)

from .conftest import BUYER, order_for, paid
from .test_orders import footprint

C, F, S = ActorKind.CANDIDATE, ActorKind.FINANCE, ActorKind.SYSTEM

# --- The payment tables, as the diagram in ``kaowu.payments.workflow`` documents them -------------------

EXPECTED = {
    "order": {
        (OrderStatus.UNPAID, OrderAction.PAY): ({S}, OrderStatus.PAID),
        (OrderStatus.UNPAID, OrderAction.WAIVE): ({S}, OrderStatus.WAIVED),
        (OrderStatus.UNPAID, OrderAction.CANCEL): ({C}, OrderStatus.CANCELLED),
        (OrderStatus.UNPAID, OrderAction.EXPIRE): ({S}, OrderStatus.EXPIRED),
        (OrderStatus.PAID, OrderAction.REFUND): ({C, F, S}, OrderStatus.REFUNDING),
        (OrderStatus.REFUNDING, OrderAction.REFUND_DONE): ({S}, OrderStatus.REFUNDED),
    },
    "payment": {
        (PaymentStatus.PENDING, PaymentAction.SUCCEED): ({S}, PaymentStatus.SUCCEEDED),
        # The gateway's word wins: a failed or closed attempt that the gateway later reports paid is paid.
        (PaymentStatus.FAILED, PaymentAction.SUCCEED): ({S}, PaymentStatus.SUCCEEDED),
        (PaymentStatus.CLOSED, PaymentAction.SUCCEED): ({S}, PaymentStatus.SUCCEEDED),
        (PaymentStatus.PENDING, PaymentAction.FAIL): ({S}, PaymentStatus.FAILED),
        (PaymentStatus.PENDING, PaymentAction.CLOSE): ({S}, PaymentStatus.CLOSED),
        (PaymentStatus.FAILED, PaymentAction.CLOSE): ({S}, PaymentStatus.CLOSED),
    },
    "refund": {
        (RefundStatus.REQUESTED, RefundAction.PROCESS): ({S}, RefundStatus.PROCESSING),
        (RefundStatus.REQUESTED, RefundAction.SUCCEED): ({S}, RefundStatus.SUCCEEDED),
        (RefundStatus.REQUESTED, RefundAction.FAIL): ({S}, RefundStatus.FAILED),
        (RefundStatus.PROCESSING, RefundAction.SUCCEED): ({S}, RefundStatus.SUCCEEDED),
        (RefundStatus.PROCESSING, RefundAction.FAIL): ({S}, RefundStatus.FAILED),
        (RefundStatus.FAILED, RefundAction.RETRY): ({S, F}, RefundStatus.REQUESTED),
    },
}
CHOICES = {
    "order": (OrderStatus, OrderAction),
    "payment": (PaymentStatus, PaymentAction),
    "refund": (RefundStatus, RefundAction),
}
COMBINATIONS = [
    (table, status, action, actor)
    for table, (statuses, actions) in CHOICES.items()
    for status, action, actor in itertools.product(statuses.values, actions.values, ActorKind.values)
]


class _Row:
    """Stands in for an Order, Payment or Refund: ``transition_apply`` only reads and sets ``status``."""

    def __init__(self, status: str) -> None:
        self.status = status


@pytest.mark.parametrize(("table", "status", "action", "actor"), COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
def test_every_state_action_and_actor(table, status, action, actor):
    expected = EXPECTED[table].get((status, action))
    row = _Row(status)
    if expected is not None and actor in expected[0]:
        assert workflow.transition_for(table, status, action, actor).target == expected[1]
        assert workflow.transition_apply(row, table=table, action=action, actor_kind=actor) == status
        assert row.status == expected[1]
        return
    with pytest.raises(KaowuError) as info:
        workflow.transition_apply(row, table=table, action=action, actor_kind=actor)
    if expected is None:
        assert (info.value.code, info.value.status) == (f"payments.{table}_transition_not_allowed", 409)
        # The refusal names the state and the action in words the person understands.
        statuses, actions = CHOICES[table]
        assert str(statuses(status).label) in info.value.message
        assert str(actions(action).label) in info.value.message
    else:
        assert (info.value.code, info.value.status) == ("payments.actor_not_allowed", 403)
    assert row.status == status  # a refusal changes nothing


@pytest.mark.parametrize("table", list(EXPECTED))
def test_each_table_is_exactly_the_documented_one(table):
    assert {key: (set(t.actors), t.target) for key, t in workflow.TABLES[table].items()} == EXPECTED[table]
    assert {key for key in EXPECTED[table] if workflow.allows(table, *key)} == set(EXPECTED[table])


def test_final_states_have_no_way_out():
    final = {
        "order": {OrderStatus.WAIVED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REFUNDED},
        "payment": {PaymentStatus.SUCCEEDED},
        "refund": {RefundStatus.SUCCEEDED},
    }
    for table, states in final.items():
        assert not [key for key in workflow.TABLES[table] if key[0] in states], table


def test_live_orders_are_the_ones_that_hold_or_may_hold_money():
    assert set(workflow.LIVE_ORDER_STATES) == {
        OrderStatus.UNPAID,
        OrderStatus.PAID,
        OrderStatus.WAIVED,
        OrderStatus.REFUNDING,
    }


# --- The application table's money rows -------------------------------------------------------------

AC, AR, AF, AS = (
    application_workflow.ActorKind.CANDIDATE,
    application_workflow.ActorKind.REVIEWER,
    application_workflow.ActorKind.FINANCE,
    application_workflow.ActorKind.SYSTEM,
)
_REVIEWED = {Status.UNDER_REVIEW, Status.AWAITING_PAYMENT, Status.APPROVED}
APPLICATION_TABLE = {
    (Status.DRAFT, Action.SUBMIT): ({AC}, _REVIEWED, WindowAction.REGISTER),
    (Status.RETURNED, Action.SUBMIT): ({AC}, _REVIEWED, WindowAction.MODIFY),
    (Status.UNDER_REVIEW, Action.RECALL): ({AC}, {Status.DRAFT}, WindowAction.MODIFY),
    (Status.DRAFT, Action.WITHDRAW): ({AC}, {Status.WITHDRAWN}, None),
    (Status.UNDER_REVIEW, Action.WITHDRAW): ({AC}, {Status.WITHDRAWN}, None),
    (Status.RETURNED, Action.WITHDRAW): ({AC}, {Status.WITHDRAWN}, None),
    (Status.UNDER_REVIEW, Action.APPROVE): ({AR, AS}, _REVIEWED, WindowAction.REVIEW),
    (Status.UNDER_REVIEW, Action.RETURN): ({AR}, {Status.RETURNED}, WindowAction.REVIEW),
    (Status.UNDER_REVIEW, Action.REJECT): ({AR}, {Status.REJECTED}, WindowAction.REVIEW),
    # Issue 5: the system withdraws an application left unpaid when the payment window closes (逾期未缴费);
    # an application awaiting payment may be recalled (no unpaid order: the service checks); payment
    # settles it (into review where the programme pays first, seed 001); 退考退费 by the candidate inside
    # the refund window, or by finance.
    (Status.AWAITING_PAYMENT, Action.WITHDRAW): ({AC, AS}, {Status.WITHDRAWN}, None),
    (Status.AWAITING_PAYMENT, Action.RECALL): ({AC}, {Status.DRAFT}, WindowAction.MODIFY),
    (Status.AWAITING_PAYMENT, Action.PAY): ({AS}, {Status.PAID, Status.UNDER_REVIEW, Status.APPROVED}, None),
    (Status.PAID, Action.REFUND): ({AC, AF}, {Status.WITHDRAWN}, WindowAction.REFUND),
    (Status.UNDER_REVIEW, Action.REFUND): ({AC, AF}, {Status.WITHDRAWN}, WindowAction.REFUND),
}
APPLICATION_COMBINATIONS = list(itertools.product(Status.values, Action.values, application_workflow.ActorKind.values))


def test_the_application_table_with_its_money_rows():
    assert {
        key: (set(t.actors), set(t.targets), t.window) for key, t in application_workflow.TRANSITIONS.items()
    } == APPLICATION_TABLE
    # Paid is left only through a refund; the ends stay ends.
    assert [key for key in application_workflow.TRANSITIONS if key[0] == Status.PAID] == [(Status.PAID, Action.REFUND)]
    ends = (Status.REJECTED, Status.WITHDRAWN, Status.APPROVED)
    assert not [key for key in application_workflow.TRANSITIONS if key[0] in ends]
    # A paid application still holds its seats and is the candidate's live application for the batch.
    assert Status.PAID in application_workflow.LIVE_STATES
    assert Status.PAID not in application_workflow.EDITABLE_STATES


@pytest.mark.parametrize(
    ("status", "action", "actor"), APPLICATION_COMBINATIONS, ids=["-".join(c) for c in APPLICATION_COMBINATIONS]
)
def test_every_application_state_action_and_actor(status, action, actor):
    expected = APPLICATION_TABLE.get((status, action))
    if expected is not None and actor in expected[0]:
        transition = application_workflow.transition_for(status, action, actor)
        assert set(transition.targets) == expected[1]
        return
    with pytest.raises(KaowuError) as info:
        application_workflow.transition_for(status, action, actor)
    if expected is None:
        assert (info.value.code, info.value.status) == ("applications.transition_not_allowed", 409)
    else:
        assert (info.value.code, info.value.status) == ("applications.actor_not_allowed", 403)


class _Application:
    def __init__(self, status: str) -> None:
        self.status = status


@pytest.mark.parametrize(
    ("action", "actor", "target"),
    [
        (Action.PAY, AS, Status.WITHDRAWN),
        (Action.PAY, AS, Status.REJECTED),
        (Action.WITHDRAW, AS, Status.DRAFT),
    ],
)
def test_a_target_outside_the_money_rows_is_a_programming_error(action, actor, target):
    application = _Application(Status.AWAITING_PAYMENT)
    with pytest.raises(ValueError, match="not in the transition table"):
        application_workflow.transition_apply(application, action=action, actor_kind=actor, target=target)
    assert application.status == Status.AWAITING_PAYMENT


# --- Every money service, by every kind of actor, from every state it meets ------------------------------

ROLES = ("owner", "other_candidate", "finance", "other_finance", "programme_admin")


def people(world, cand_a, cand_b) -> dict:
    """The owner of the seed 004 application, another candidate, the programme's finance, the auctioneer
    programme's finance (out of scope) and the programme's administrator (not finance)."""
    return {
        "owner": cand_a,
        "other_candidate": cand_b,
        "finance": world.staff("ccaa_finance"),
        "other_finance": world.staff("caa_finance"),
        "programme_admin": world.staff("ccaa_admin"),
    }


def other_site(application: Application) -> Site:
    return Site.objects.filter(batch=application.batch).exclude(pk=application.site_id).order_by("pk").first()


def _live_order(application: Application):
    return application.orders.filter(status__in=workflow.LIVE_ORDER_STATES).get()


SERVICES = {
    "recall": lambda actor, app: application_services.application_recall(actor=actor, application=app),
    "withdraw": lambda actor, app: application_services.application_withdraw(actor=actor, application=app),
    "change_site": lambda actor, app: application_services.application_change_site(
        actor=actor, application=app, site=other_site(app)
    ),
    "order_create": lambda actor, app: services.order_create(actor=actor, application=app, buyer=BUYER),
    "order_cancel": lambda actor, app: services.order_cancel(actor=actor, order=_live_order(app)),
    "refund_request": lambda actor, app: services.refund_request(actor=actor, order=_live_order(app)),
    "refund_manual": lambda actor, app: services.refund_manual(actor=actor, order=_live_order(app), reason="考生病假"),
}

# What succeeds, by whom, and the application's status afterwards (order services: the order's status);
# everything else must be refused with nothing changed. Without an order the order services do not apply.
_ALLOWED = {
    ("awaiting", "recall", "owner"): ("application", Status.DRAFT),
    ("awaiting", "withdraw", "owner"): ("application", Status.WITHDRAWN),
    ("awaiting", "order_create", "owner"): ("order", OrderStatus.UNPAID),
    ("unpaid_order", "order_cancel", "owner"): ("order", OrderStatus.CANCELLED),
    ("paid", "refund_request", "owner"): ("application", Status.WITHDRAWN),
    ("paid", "refund_manual", "finance"): ("application", Status.WITHDRAWN),
    ("paid", "change_site", "owner"): ("application", Status.PAID),
}
# The owner's refusals, with their reasons: the candidate must learn what to do instead.
_OWNER_REFUSALS = {
    ("awaiting", "change_site"): "applications.change_site_unpaid",
    ("unpaid_order", "recall"): "applications.order_unpaid",
    ("unpaid_order", "withdraw"): "applications.order_unpaid",
    ("unpaid_order", "change_site"): "applications.change_site_unpaid",
    ("unpaid_order", "order_create"): "payments.order_exists",
    ("unpaid_order", "refund_request"): "payments.order_transition_not_allowed",
    ("unpaid_order", "refund_manual"): "payments.not_finance",
    ("paid", "recall"): "applications.transition_not_allowed",
    ("paid", "withdraw"): "applications.transition_not_allowed",
    ("paid", "order_create"): "payments.not_awaiting_payment",
    ("paid", "order_cancel"): "payments.order_transition_not_allowed",
    ("paid", "refund_manual"): "payments.not_finance",
}
_NO_ORDER_SERVICES = {"order_cancel", "refund_request", "refund_manual"}
MONEY_STATES = ("awaiting", "unpaid_order", "paid")


def build(state: str, application: Application, owner) -> Application:
    if state == "unpaid_order":
        order_for(application, owner)
    elif state == "paid":
        paid(application, owner)
    application.refresh_from_db()
    return application


@pytest.mark.parametrize("state", MONEY_STATES)
def test_every_money_service_by_every_actor(world, cand_a, cand_b, ccaa_app, state):
    everyone = people(world, cand_a, cand_b)
    application = build(state, ccaa_app, cand_a)
    assert application.seat_holds.exists()  # so "seats unchanged" below means something
    checked = 0
    for name, who in itertools.product(SERVICES, ROLES):
        if state == "awaiting" and name in _NO_ORDER_SERVICES:
            continue
        before = footprint(application)
        allowed = _ALLOWED.get((state, name, who))
        if allowed is None:
            with pytest.raises(KaowuError) as info:
                SERVICES[name](everyone[who], application)
            if who == "owner":
                assert info.value.code == _OWNER_REFUSALS[(state, name)], (name, info.value.code)
            else:
                # Not theirs: refused as someone else's, or (table first) as impossible in this state.
                assert info.value.status in (403, 409), (name, who, info.value.code)
            assert str(info.value.message), (name, who)
            assert footprint(application) == before, (name, who, info.value.code)
        else:
            # Allowed: do it, look, and undo it so the next actor starts from the same state.
            with transaction.atomic():
                SERVICES[name](everyone[who], application)
                after = footprint(application)
                transaction.set_rollback(True)
            subject, expected = allowed
            if subject == "application":
                assert after["status"] == expected, (name, who)
            else:
                assert after["orders"][-1][1] == expected, (name, who)
            if expected == Status.WITHDRAWN:
                assert after["holds"] == [], (name, who)
            assert footprint(application) == before
        checked += 1
    assert checked == (len(SERVICES) - (len(_NO_ORDER_SERVICES) if state == "awaiting" else 0)) * len(ROLES)


@pytest.mark.parametrize("service", ["refund_request", "change_site", "order_cancel"])
def test_a_paid_application_is_not_someone_elses_to_refund_or_move(world, cand_a, cand_b, ccaa_app, service):
    """Another candidate is refused as not the owner (403), not told what state the order is in."""
    paid(ccaa_app, cand_a)
    with pytest.raises(KaowuError) as info:
        SERVICES[service](cand_b, ccaa_app)
    assert info.value.status == 403, info.value.code
    assert info.value.code.endswith("not_owner")


def test_finance_refusals_say_why(world, cand_a, cand_b, ccaa_app):
    everyone = people(world, cand_a, cand_b)
    order = paid(ccaa_app, cand_a)
    for who in ("owner", "other_candidate", "other_finance", "programme_admin"):
        with pytest.raises(KaowuError) as info:
            services.refund_manual(actor=everyone[who], order=order, reason="财务退款")
        assert (info.value.code, info.value.status) == ("payments.not_finance", 403), who
    with pytest.raises(KaowuError) as info:
        services.refund_manual(actor=everyone["finance"], order=order, reason="  ")
    assert info.value.code == "payments.reason_required"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_seed_000_awaiting_payment_cannot_be_recalled_after_a_person_approved(world, cand_a):
    """The new recall row does not undo a reviewer's approval (seed 000 pays after two levels approved)."""
    from .conftest import awaiting

    application = awaiting(world, demo.AUCTIONEER_EXAM, cand_a)
    with pytest.raises(KaowuError) as info:
        application_services.application_recall(actor=cand_a, application=application)
    assert info.value.code == "applications.already_approved"
    application.refresh_from_db()
    assert application.status == Status.AWAITING_PAYMENT
