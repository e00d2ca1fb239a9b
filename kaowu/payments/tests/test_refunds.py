"""Refunds (PAY-3) and the change of site after payment (PAY-4): 退考退费 inside the refund window, once per
person per batch; the gateway's failures kept and retried; finance's manual refunds and retries; a
membership refunded with its order; a fee paid before review refunded when review rejects; seats moved to
another site without a new fee."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.test import TestCase
from django.utils import timezone

from kaowu.applications import services as application_services
from kaowu.applications.models import StepStatus
from kaowu.applications.tests.conftest import fill, submitted
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.models import Site, SiteCapacity, WindowAction
from kaowu.core.errors import KaowuError
from kaowu.core.models import AuditEntry
from kaowu.notifications.sms import locmem
from kaowu.payments import services
from kaowu.payments.models import Membership, Order, Payment, Refund, RefundKind, SandboxRefund
from kaowu.payments.providers.base import ProviderError, RefundResult
from kaowu.payments.providers.base import RefundStatus as GatewayRefundStatus
from kaowu.payments.providers.sandbox import SandboxProvider
from kaowu.payments.workflow import OrderStatus, RefundStatus

from .conftest import BUYER, awaiting, gateway_pays, order_for, paid, start
from .test_orders import before_review, close_window, footprint, held_at, refused, same_year_batch, set_fees, sms

pytestmark = pytest.mark.django_db


def refund_events(order: Order) -> list[tuple[str, str, str, str]]:
    return list(order.events.order_by("pk").values_list("subject", "action", "from_status", "to_status"))


# --- 退考退费 by the candidate ------------------------------------------------------------------------------


def test_a_refund_inside_the_window_withdraws_and_returns_the_money(world, cand_a, ccaa_app):
    seats = held_at(ccaa_app)
    order = paid(ccaa_app, cand_a)
    payment = order.payments.get()
    locmem.clear()

    with TestCase.captureOnCommitCallbacks() as after_commit:
        refund = services.refund_request(actor=cand_a, order=order)
    # At once: the application is withdrawn and its seats given back; the money is on its way.
    order.refresh_from_db()
    ccaa_app.refresh_from_db()
    assert (order.status, refund.status) == (OrderStatus.REFUNDING, RefundStatus.REQUESTED)
    assert (refund.kind, refund.amount_fen, refund.payment, refund.requested_by) == (
        RefundKind.CANDIDATE,
        24000,
        payment,
        cand_a,
    )
    assert refund.reason == "考生申请退考"
    assert (ccaa_app.status, ccaa_app.current_stage) == (Status.WITHDRAWN, None)
    assert not ccaa_app.seat_holds.exists()
    assert held_at(ccaa_app) == {sitting: count - 1 for sitting, count in seats.items()}
    last = ccaa_app.transitions.order_by("pk").last()
    assert (last.action, last.from_status, last.to_status, last.actor_id) == (
        "refund",
        Status.PAID,
        Status.WITHDRAWN,
        cand_a.pk,
    )

    with TestCase.captureOnCommitCallbacks(execute=True):
        for callback in after_commit:  # the refund task and the messages, as after commit
            callback()
    refund.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, order.status) == (RefundStatus.SUCCEEDED, OrderStatus.REFUNDED)
    assert refund.provider_refund_no and refund.finished_at and order.closed_at == refund.finished_at
    assert SandboxRefund.objects.get(out_refund_no=refund.number).amount_fen == 24000
    assert refund_events(order)[-4:] == [
        ("order", "refund", OrderStatus.PAID, OrderStatus.REFUNDING),
        ("refund", "request", "", RefundStatus.REQUESTED),
        ("refund", "succeed", RefundStatus.REQUESTED, RefundStatus.SUCCEEDED),
        ("order", "refund_done", OrderStatus.REFUNDING, OrderStatus.REFUNDED),
    ]
    assert [m.phone for m in sms("refund_requested")] == [BUYER.phone]
    assert [m.params["amount"] for m in sms("refund_succeeded")] == ["240.00"]


def test_no_refund_outside_the_window(world, cand_a, ccaa_app):
    order = paid(ccaa_app, cand_a)
    close_window(ccaa_app.batch, WindowAction.REFUND)
    before = footprint(ccaa_app)
    refused(lambda: services.refund_request(actor=cand_a, order=order), "catalog.window_closed", 409)
    assert footprint(ccaa_app) == before


def test_one_refund_per_person_per_batch_even_after_registering_again(world, cand_a, ccaa_app):
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.refund_request(actor=cand_a, order=paid(ccaa_app, cand_a), reason="临时出差")
    again = application_services.application_start(actor=cand_a, batch=ccaa_app.batch)
    fill(again, cand_a)
    with TestCase.captureOnCommitCallbacks(execute=True):
        application_services.application_submit(actor=cand_a, application=again)
    order = paid(again, cand_a)
    before = footprint(again)

    error = refused(lambda: services.refund_request(actor=cand_a, order=order), "payments.refund_used", 409)
    assert "一次退费机会" in error.message
    assert footprint(again) == before
    assert Refund.objects.filter(candidate=cand_a).count() == 1


def test_a_refund_is_asked_for_once_per_order(world, cand_a, ccaa_app):
    order = paid(ccaa_app, cand_a)
    with TestCase.captureOnCommitCallbacks():
        services.refund_request(actor=cand_a, order=order)
    before = footprint(ccaa_app)
    refused(lambda: services.refund_request(actor=cand_a, order=order), "payments.already_refunded", 409)
    assert footprint(ccaa_app) == before


# --- The gateway failing, the job retrying, finance retrying ------------------------------------------


@pytest.fixture
def refund_gateway(monkeypatch):
    """The sandbox gateway's refund made to fail, as a real gateway may (down, or refusing)."""

    def down(failure):
        def refund(self, request):
            if isinstance(failure, Exception):
                raise failure
            return RefundResult(out_refund_no=request.out_refund_no, status=GatewayRefundStatus.FAILED, raw=failure)

        monkeypatch.setattr(SandboxProvider, "refund", refund)

    return down


@pytest.mark.parametrize(
    ("failure", "error"),
    [(ProviderError("网关维护中"), "网关维护中"), ({"error": "SYSTEM_ERROR", "reason": "余额不足"}, "余额不足")],
    ids=["unreachable", "refused"],
)
def test_a_failing_gateway_is_retried_then_left_to_finance(
    world, cand_a, ccaa_app, refund_gateway, monkeypatch, failure, error
):
    order = paid(ccaa_app, cand_a)
    refund_gateway(failure)
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund = services.refund_request(actor=cand_a, order=order)
    refund.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, refund.attempts, refund.last_error) == (RefundStatus.FAILED, 1, error)
    assert order.status == OrderStatus.REFUNDING  # the money has not gone back yet
    ccaa_app.refresh_from_db()
    assert ccaa_app.status == Status.WITHDRAWN

    # The job retries while attempts are left, and then stops.
    for attempt in range(2, services.REFUND_MAX_ATTEMPTS + 1):
        assert services.refunds_resume() == 1
        refund.refresh_from_db()
        assert (refund.status, refund.attempts) == (RefundStatus.FAILED, attempt)
    assert services.refunds_resume() == 0
    refund.refresh_from_db()
    assert refund.attempts == services.REFUND_MAX_ATTEMPTS
    assert not SandboxRefund.objects.exists()

    # The gateway is back; finance of the programme sends it again.
    monkeypatch.undo()
    assert services.refunds_resume() == 0
    for outsider in (cand_a, world.staff("caa_finance"), world.staff("ccaa_admin")):
        refused(
            lambda outsider=outsider: services.refund_retry(actor=outsider, refund=refund), "payments.not_finance", 403
        )
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund = services.refund_retry(actor=world.staff("ccaa_finance"), refund=refund)
    refund.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, order.status) == (RefundStatus.SUCCEEDED, OrderStatus.REFUNDED)
    assert refund.attempts == services.REFUND_MAX_ATTEMPTS + 1
    retry = order.events.filter(subject="refund", action="retry").order_by("pk").last()
    assert retry.actor == world.staff("ccaa_finance")
    # The job's retries, then finance's.
    assert order.events.filter(subject="refund", action="retry").count() == services.REFUND_MAX_ATTEMPTS - 1 + 1
    assert SandboxRefund.objects.get(out_refund_no=refund.number).amount_fen == order.amount_fen
    # Done is done: nothing to retry.
    refused(
        lambda: services.refund_retry(actor=world.staff("ccaa_finance"), refund=refund),
        "payments.refund_transition_not_allowed",
        409,
    )


def test_a_refund_whose_task_was_lost_is_sent_by_the_job(world, cand_a, ccaa_app):
    order = paid(ccaa_app, cand_a)
    with TestCase.captureOnCommitCallbacks():  # the broker lost the task
        refund = services.refund_request(actor=cand_a, order=order)
    now = timezone.now()
    assert services.refunds_resume(at=now) == 0  # just asked for: its task may still be on the way
    assert services.refunds_resume(at=now + timedelta(minutes=3)) == 1
    refund.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, refund.attempts, order.status) == (RefundStatus.SUCCEEDED, 1, OrderStatus.REFUNDED)
    # Sending it again changes nothing: the gateway refunds one refund number once.
    assert services.refund_process(refund=refund).status == RefundStatus.SUCCEEDED
    assert SandboxRefund.objects.count() == 1


# --- Finance ---------------------------------------------------------------------------------------------


def test_finance_refunds_by_hand_outside_the_window(world, cand_a, ccaa_app):
    seats = held_at(ccaa_app)
    order = paid(ccaa_app, cand_a)
    close_window(ccaa_app.batch, WindowAction.REFUND)
    finance = world.staff("ccaa_finance")
    refused(lambda: services.refund_manual(actor=finance, order=order, reason=" "), "payments.reason_required")
    refused(
        lambda: services.refund_manual(actor=world.staff("caa_finance"), order=order, reason="考生因病无法参考"),
        "payments.not_finance",
        403,
    )
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID

    with TestCase.captureOnCommitCallbacks(execute=True):
        refund = services.refund_manual(actor=finance, order=order, reason="  考生因病无法参考 ")
    refund.refresh_from_db()
    order.refresh_from_db()
    ccaa_app.refresh_from_db()
    assert (refund.kind, refund.reason, refund.requested_by, refund.status) == (
        RefundKind.MANUAL,
        "考生因病无法参考",
        finance,
        RefundStatus.SUCCEEDED,
    )
    assert (order.status, ccaa_app.status) == (OrderStatus.REFUNDED, Status.WITHDRAWN)
    assert held_at(ccaa_app) == {sitting: count - 1 for sitting, count in seats.items()}
    withdrawal = ccaa_app.transitions.order_by("pk").last()
    assert (withdrawal.action, withdrawal.actor, withdrawal.reason) == ("refund", finance, "考生因病无法参考")
    assert AuditEntry.objects.filter(actor=finance, action="payments.order.refund").exists()


# --- Membership and review ------------------------------------------------------------------------------


def test_a_paid_application_under_review_is_given_up_through_a_refund(world, cand_a):
    """Seed 001 pays before review: while review is pending the candidate gives up only through 退考退费,
    inside the refund window (this batch has none); finance refunds by hand. The pending review ends."""
    before_review(world)
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    order = paid(application, cand_a)
    application.refresh_from_db()
    assert application.status == Status.UNDER_REVIEW
    refused(lambda: services.refund_request(actor=cand_a, order=order), "catalog.window_closed", 409)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID

    with TestCase.captureOnCommitCallbacks(execute=True):
        services.refund_manual(actor=world.staff("caa_finance"), order=order, reason="考生书面申请放弃注册")
    application.refresh_from_db()
    order.refresh_from_db()
    assert (application.status, order.status) == (Status.WITHDRAWN, OrderStatus.REFUNDED)
    assert not application.review_steps.filter(status=StepStatus.PENDING).exists()
    assert application.current_stage is None


def test_refunding_a_membership_order_ends_the_membership(world, cand_a):
    set_fees(demo.CCAA_EXAM, registration_fee_fen=30000, membership_fee_fen=100000)
    application = awaiting(world, demo.CCAA_EXAM, cand_a)
    order = paid(application, cand_a, join_membership=True)
    assert Membership.objects.filter(candidate=cand_a, order=order).exists()
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund = services.refund_request(actor=cand_a, order=order)
    assert refund.amount_fen == 100000
    assert not Membership.objects.filter(candidate=cand_a).exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED


def test_a_fee_paid_before_review_is_refunded_when_review_rejects(world, cand_a):
    before_review(world)
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    order = paid(application, cand_a)
    locmem.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        application_services.review_reject(
            actor=world.staff("js_caa_province"), application=application, reason="从业年限不符"
        )
    refund = Refund.objects.get(order=order)
    order.refresh_from_db()
    application.refresh_from_db()
    assert (refund.kind, refund.amount_fen, refund.status, refund.requested_by) == (
        RefundKind.REJECTED,
        order.amount_fen,
        RefundStatus.SUCCEEDED,
        None,
    )
    assert (order.status, application.status) == (OrderStatus.REFUNDED, Status.REJECTED)
    assert sms("refund_requested") and sms("refund_succeeded")
    # Not the candidate's own refund: their one chance in the batch is untouched.
    assert not Refund.objects.filter(candidate=cand_a, kind=RefundKind.CANDIDATE).exists()


# --- Change of site after payment (PAY-4) ---------------------------------------------------------------


def site(application, name: str) -> Site:
    return Site.objects.get(batch=application.batch, name=name)


def test_changing_site_moves_the_seats_and_keeps_the_fee(world, cand_a, ccaa_app):
    order = paid(ccaa_app, cand_a)
    old, new = ccaa_app.site, site(ccaa_app, "广州市")
    old_seats, new_seats = (
        held_at(ccaa_app),
        dict(SiteCapacity.objects.filter(site=new).values_list("sitting_id", "held")),
    )
    locmem.clear()

    with TestCase.captureOnCommitCallbacks(execute=True):
        application_services.application_change_site(actor=cand_a, application=ccaa_app, site=new)
    ccaa_app.refresh_from_db()
    assert (ccaa_app.site, ccaa_app.status) == (new, Status.PAID)
    assert dict(SiteCapacity.objects.filter(site=old).values_list("sitting_id", "held")) == {
        sitting: count - 1 for sitting, count in old_seats.items()
    }
    assert held_at(ccaa_app) == {sitting: count + 1 for sitting, count in new_seats.items()}
    assert set(ccaa_app.seat_holds.values_list("capacity__site", flat=True)) == {new.pk}
    # The fee does not change: the same paid order, no new order or payment.
    assert list(Order.objects.filter(application=ccaa_app).values_list("pk", "status", "amount_fen")) == [
        (order.pk, OrderStatus.PAID, 24000)
    ]
    assert Payment.objects.filter(order__application=ccaa_app).count() == 1
    assert [m.params["site"] for m in sms("application_site_changed")] == ["广州市"]
    assert AuditEntry.objects.filter(actor=cand_a, action="applications.site_changed").exists()


def test_changing_site_is_refused_outside_its_window_and_to_the_same_site(world, cand_a, ccaa_app):
    paid(ccaa_app, cand_a)
    before = footprint(ccaa_app)
    refused(
        lambda: application_services.application_change_site(actor=cand_a, application=ccaa_app, site=ccaa_app.site),
        "applications.same_site",
    )
    other_batch_site = Site.objects.exclude(batch=ccaa_app.batch).first()
    if other_batch_site is not None:
        refused(
            lambda: application_services.application_change_site(
                actor=cand_a, application=ccaa_app, site=other_batch_site
            ),
            "applications.bad_site",
        )
    close_window(ccaa_app.batch, WindowAction.CHANGE_SITE)
    refused(
        lambda: application_services.application_change_site(
            actor=cand_a, application=ccaa_app, site=site(ccaa_app, "上海市")
        ),
        "catalog.window_closed",
        409,
    )
    assert footprint(ccaa_app) == before


def test_a_full_site_is_refused_with_the_alternatives_and_the_old_seats_kept(world, cand_a, cand_b):
    application = awaiting(world, demo.CCAA_EXAM, cand_a, subjects=["101"])
    paid(application, cand_a)
    full = site(application, "上海市")
    # Seat numbers are catalogue configuration: one seat at 上海市, taken by another candidate.
    SiteCapacity.objects.filter(site=full).update(capacity=F("held") + 1)
    awaiting(world, demo.CCAA_EXAM, cand_b, subjects=["101"], site=full)
    before = footprint(application)

    error = refused(
        lambda: application_services.application_change_site(actor=cand_a, application=application, site=full),
        "applications.site_full",
        409,
    )
    assert "广州市" in error.message and "上海市" not in error.message.split("：", 1)[-1]
    assert footprint(application) == before
    application.refresh_from_db()
    assert application.site != full


def test_refunding_the_membership_leaves_no_fee_waived_by_it(world, cand_a):
    """A membership that already waived a registration fee this year cannot be refunded and leave that
    application paid for by nothing: either the refund is refused, or the waived application goes too."""
    set_fees(demo.CCAA_EXAM, registration_fee_fen=30000, membership_fee_fen=100000)
    membership_order = paid(awaiting(world, demo.CCAA_EXAM, cand_a), cand_a, join_membership=True)
    second_batch = same_year_batch(world, demo.CCAA_EXAM)
    second = application_services.application_start(actor=cand_a, batch=second_batch)
    fill(second, cand_a)
    application_services.application_submit(actor=cand_a, application=second)
    assert order_for(second, cand_a).status == OrderStatus.WAIVED

    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            services.refund_request(actor=cand_a, order=membership_order)
    except KaowuError:
        pass  # refused: the membership stays, and so may the waiver
    waived_and_kept = Order.objects.filter(
        candidate=cand_a, status=OrderStatus.WAIVED, application__status=Status.PAID
    ).exists()
    assert Membership.objects.filter(candidate=cand_a).exists() or not waived_and_kept


def test_the_settled_payment_is_the_one_refunded_when_another_was_refunded_automatically(world, cand_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    first, second = start(order, cand_a), start(order, cand_a)
    gateway_pays(first)
    gateway_pays(second)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.payment_check(actor=cand_a, order=order)  # one settles, the other is refunded automatically
    automatic = Refund.objects.get(kind=RefundKind.AUTOMATIC)
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund = services.refund_request(actor=cand_a, order=order)
    assert {refund.payment_id, automatic.payment_id} == {first.pk, second.pk}
    refund.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, order.status) == (RefundStatus.SUCCEEDED, OrderStatus.REFUNDED)
    assert SandboxRefund.objects.count() == 2


def test_someone_elses_refunding_order_is_refused_as_not_theirs(world, cand_a, cand_b, ccaa_app):
    """The refund service answers a stranger "not yours" (403), never with the state of the order."""
    order = paid(ccaa_app, cand_a)
    with TestCase.captureOnCommitCallbacks():
        services.refund_request(actor=cand_a, order=order)
    refused(lambda: services.refund_request(actor=cand_b, order=order), "payments.not_owner", 403)
