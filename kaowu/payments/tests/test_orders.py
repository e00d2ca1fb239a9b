"""Orders (PAY-1, PAY-5): what a candidate owes in fen, frozen when ordered; one unpaid order at a time;
the payment window's edges; expiry giving seats back and a new order taking them again; applications
lapsing when the window closes unpaid; recall and withdrawal refused while money is owed or paid.

Helpers shared by the other payments test modules live here too (``footprint``, windows, the clock)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import TestCase
from django.utils import timezone

from kaowu.applications import services as application_services
from kaowu.applications.models import Application, ApplicationKind, SeatHold, Transition
from kaowu.applications.tests.conftest import fill, submitted
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.models import Batch, PaymentStage, Programme, SiteCapacity, Subject, WindowAction
from kaowu.catalog.selectors import batch_window
from kaowu.catalog.services import WindowSpec, batch_copy, batch_publish, batch_set_windows
from kaowu.core.errors import KaowuError
from kaowu.notifications.sms import locmem
from kaowu.payments import services
from kaowu.payments.models import Membership, Order, OrderEvent, OrderKind, Payment, Refund
from kaowu.payments.workflow import OrderStatus
from kaowu.results.services import subject_pass_record

from .conftest import BUYER, awaiting, gateway_pays, order_for, paid, start

pytestmark = pytest.mark.django_db

MICROSECOND = timedelta(microseconds=1)

# --- Helpers (also used by test_workflow, test_settlement, test_refunds) --------------------------------


def footprint(application: Application) -> dict:
    """Everything a money action may change; a refused action must leave all of it as it was."""
    application.refresh_from_db()
    return {
        "status": application.status,
        "site": application.site_id,
        "stage": application.current_stage_id,
        "transitions": Transition.objects.filter(application=application).count(),
        "holds": sorted(SeatHold.objects.filter(application=application).values_list("capacity_id", flat=True)),
        "held": list(SiteCapacity.objects.order_by("pk").values_list("held", flat=True)),
        "orders": list(
            Order.objects.filter(application=application).order_by("pk").values_list("pk", "status", "amount_fen")
        ),
        "payments": list(
            Payment.objects.filter(order__application=application).order_by("pk").values_list("pk", "status")
        ),
        "refunds": list(
            Refund.objects.filter(order__application=application).order_by("pk").values_list("pk", "status")
        ),
        "events": OrderEvent.objects.filter(order__application=application).count(),
        "memberships": Membership.objects.filter(candidate_id=application.candidate_id).count(),
    }


def held_at(application: Application) -> dict[int, int]:
    """``held`` of every capacity row of the application's site, by sitting."""
    return dict(SiteCapacity.objects.filter(site_id=application.site_id).values_list("sitting_id", "held"))


def set_window(batch: Batch, action: str, opens_at: datetime, closes_at: datetime) -> None:
    """Move one window of ``batch`` through the catalogue service, keeping the others."""
    windows = [
        WindowSpec(action, opens_at, closes_at) if w.action == action else WindowSpec(w.action, w.opens_at, w.closes_at)
        for w in batch.windows.all()
    ]
    batch_set_windows(actor=None, batch=batch, windows=windows)


def close_window(batch: Batch, action: str) -> None:
    """End ``action``'s window a minute ago (the demo's windows opened yesterday)."""
    window = batch_window(batch, action)
    set_window(batch, action, window.opens_at, timezone.now() - timedelta(minutes=1))


def clock_stopper(monkeypatch):
    """Stops the clock at a chosen instant for the services (freezegun is not installed): they all read
    ``django.utils.timezone.now``. Returns ``stop_at(moment) -> moment``."""

    def stop_at(moment: datetime) -> datetime:
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return stop_at


@pytest.fixture
def clock(monkeypatch):
    return clock_stopper(monkeypatch)


def sms(event: str) -> list:
    return [m for m in locmem.outbox if m.event == event]


def refused(call, code: str, status: int | None = None) -> KaowuError:
    with pytest.raises(KaowuError) as info:
        call()
    assert info.value.code == code, info.value
    if status is not None:
        assert info.value.status == status
    assert str(info.value.message)
    return info.value


def set_fees(code: str, **fees: int) -> Programme:
    """Programme configuration (registration / membership fee, expiry): set through the ORM, as the back
    office's programme form would."""
    Programme.objects.filter(code=code).update(**fees)
    return Programme.objects.get(code=code)


def fee_lines(order: Order) -> list[tuple[str | None, int, int, int]]:
    return list(order.lines.order_by("pk").values_list("subject__code", "unit_fen", "quantity", "amount_fen"))


# --- Amounts in fen ----------------------------------------------------------------------------------


def test_a_new_seed_000_candidate_pays_every_registered_subject(world, cand_a, auction_app):
    order = order_for(auction_app, cand_a)
    registered = auction_app.subjects.values_list("subject__code", flat=True)
    assert sorted(registered) == ["A01", "A02", "A03", "A04"]
    # 拍卖通论、拍卖法律法规、拍卖实务 200 元, 主持与技巧 300 元.
    assert fee_lines(order) == [
        ("A01", 20000, 1, 20000),
        ("A02", 20000, 1, 20000),
        ("A03", 20000, 1, 20000),
        ("A04", 30000, 1, 30000),
    ]
    assert (order.kind, order.amount_fen, order.status) == (OrderKind.SUBJECTS, 90000, OrderStatus.UNPAID)
    assert order.candidate == cand_a and order.batch == auction_app.batch
    assert (order.buyer_name, order.buyer_phone, order.buyer_email) == (BUYER.name, BUYER.phone, BUYER.email)


def test_a_seed_000_retake_candidate_pays_only_the_subjects_still_to_pass(world, cand_a):
    batch = world.batch(demo.AUCTIONEER_EXAM)
    for code in ("A01", "A02"):
        subject_pass_record(
            actor=world.staff("caa_admin"),
            candidate=cand_a,
            subject=Subject.objects.get(programme=batch.programme, code=code),
            year=batch.year - 1,
        )
    application = application_services.application_start(actor=cand_a, batch=batch, kind=ApplicationKind.RETAKE)
    fill(application, cand_a)
    with TestCase.captureOnCommitCallbacks(execute=True):
        application_services.application_submit(actor=cand_a, application=application)
    for reviewer in ("js_caa_province", "caa_nation"):
        application_services.review_approve(actor=world.staff(reviewer), application=application)
    application.refresh_from_db()
    assert application.status == Status.AWAITING_PAYMENT

    order = order_for(application, cand_a)
    assert fee_lines(order) == [("A03", 20000, 1, 20000), ("A04", 30000, 1, 30000)]
    assert order.amount_fen == 50000


@pytest.mark.parametrize(("subjects", "fen"), [(["101"], 8000), (None, 24000)], ids=["one", "one-per-sitting"])
def test_seed_004_charges_80_yuan_per_subject(world, cand_a, subjects, fen):
    application = awaiting(world, demo.CCAA_EXAM, cand_a, **({"subjects": subjects} if subjects else {}))
    order = order_for(application, cand_a)
    assert order.amount_fen == fen
    assert {line[1] for line in fee_lines(order)} == {8000}
    assert len(fee_lines(order)) == fen // 8000


def test_a_registration_fee_replaces_the_subject_fees(world, cand_a):
    set_fees(demo.CCAA_EXAM, registration_fee_fen=30000, membership_fee_fen=100000)
    application = awaiting(world, demo.CCAA_EXAM, cand_a)
    order = order_for(application, cand_a)
    assert (order.kind, order.amount_fen) == (OrderKind.REGISTRATION, 30000)
    assert fee_lines(order) == [(None, 30000, 1, 30000)]
    assert order.lines.get().description == "注册费"


def test_joining_charges_the_membership_fee_instead(world, cand_a):
    set_fees(demo.CCAA_EXAM, registration_fee_fen=30000, membership_fee_fen=100000)
    application = awaiting(world, demo.CCAA_EXAM, cand_a)
    order = order_for(application, cand_a, join_membership=True)
    assert (order.kind, order.amount_fen) == (OrderKind.MEMBERSHIP, 100000)
    assert fee_lines(order) == [(None, 100000, 1, 100000)]
    assert not Membership.objects.exists()  # only once paid


def test_membership_choices_the_programme_does_not_offer_are_refused(world, cand_a):
    application = awaiting(world, demo.CCAA_EXAM, cand_a)
    set_fees(demo.CCAA_EXAM, registration_fee_fen=30000, membership_fee_fen=0)
    refused(lambda: order_for(application, cand_a, join_membership=True), "payments.no_membership")
    set_fees(demo.CCAA_EXAM, registration_fee_fen=0, membership_fee_fen=100000)
    refused(lambda: order_for(application, cand_a), "payments.membership_required")
    assert not Order.objects.exists()


def test_a_programme_without_fees_cannot_be_ordered(world, cand_a, ccaa_app):
    Subject.objects.filter(programme=ccaa_app.batch.programme).update(fee_fen=0)
    refused(lambda: order_for(ccaa_app, cand_a), "payments.no_fee", 409)
    assert not Order.objects.exists()


def same_year_batch(world, code: str) -> Batch:
    """A second, published batch of the programme in the same year (照上一期新建 with the same year)."""
    source = world.batch(code)
    copy = batch_copy(
        actor=None, source=source, code=f"{source.code}-b", name=f"{source.name}（加考）", year=source.year
    )
    batch_publish(actor=None, batch=copy)
    return copy


def test_a_member_of_the_year_is_waived_the_registration_fee(world, cand_a):
    set_fees(demo.CCAA_EXAM, registration_fee_fen=30000, membership_fee_fen=100000)
    first = awaiting(world, demo.CCAA_EXAM, cand_a)
    membership_order = paid(first, cand_a, join_membership=True)
    membership = Membership.objects.get(candidate=cand_a)
    assert (membership.order, membership.year, membership.programme) == (
        membership_order,
        first.batch.year,
        first.batch.programme,
    )

    second_batch = same_year_batch(world, demo.CCAA_EXAM)
    second = application_services.application_start(actor=cand_a, batch=second_batch)
    fill(second, cand_a)
    with TestCase.captureOnCommitCallbacks(execute=True):
        application_services.application_submit(actor=cand_a, application=second)
    second.refresh_from_db()
    assert second.status == Status.AWAITING_PAYMENT
    locmem.clear()

    order = order_for(second, cand_a)
    assert (order.kind, order.status, order.amount_fen) == (OrderKind.REGISTRATION, OrderStatus.WAIVED, 0)
    assert fee_lines(order) == [(None, 0, 1, 0)]
    assert order.lines.get().description == "注册费（会员免缴）"
    assert list(order.events.values_list("action", "from_status", "to_status")) == [
        ("waive", OrderStatus.UNPAID, OrderStatus.WAIVED)
    ]
    second.refresh_from_db()
    assert second.status == Status.PAID
    assert second.seat_holds.exists()
    assert [m.phone for m in sms("order_waived")] == [BUYER.phone]
    # Nothing to pay and nothing to refund.
    refused(lambda: start(order, cand_a), "payments.order_closed", 409)
    refused(lambda: services.refund_request(actor=cand_a, order=order), "payments.nothing_to_refund", 409)


# --- Frozen orders, one at a time ----------------------------------------------------------------------


def test_changing_a_fee_after_ordering_does_not_change_the_order(world, cand_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    lines = fee_lines(order)
    Subject.objects.filter(programme=ccaa_app.batch.programme).update(fee_fen=12000)

    order.refresh_from_db()
    assert (order.amount_fen, fee_lines(order)) == (24000, lines)
    payment = start(order, cand_a)
    assert payment.amount_fen == 24000
    gateway_pays(payment)
    with TestCase.captureOnCommitCallbacks(execute=True):
        order = services.payment_check(actor=cand_a, order=order)
    assert (order.status, order.amount_fen) == (OrderStatus.PAID, 24000)


def test_a_new_order_after_cancelling_is_priced_anew(world, cand_a, ccaa_app):
    first = order_for(ccaa_app, cand_a)
    Subject.objects.filter(programme=ccaa_app.batch.programme).update(fee_fen=12000)
    services.order_cancel(actor=cand_a, order=first)
    second = order_for(ccaa_app, cand_a)
    assert (first.amount_fen, second.amount_fen) == (24000, 36000)


def test_one_unpaid_order_at_a_time(world, cand_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    before = footprint(ccaa_app)
    refused(lambda: order_for(ccaa_app, cand_a), "payments.order_exists", 409)
    assert footprint(ccaa_app) == before
    # The database refuses a second live order too, whatever the code path.
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(
            number="D-SECOND",
            application=ccaa_app,
            candidate=cand_a,
            batch=ccaa_app.batch,
            kind=OrderKind.SUBJECTS,
            amount_fen=order.amount_fen,
            description="second",
            buyer_name="x",
            expires_at=order.expires_at,
        )


def test_cancel_and_order_again(world, cand_a, cand_b, ccaa_app):
    seats = held_at(ccaa_app)
    order = order_for(ccaa_app, cand_a)
    refused(lambda: services.order_cancel(actor=cand_b, order=order), "payments.not_owner", 403)
    services.order_cancel(actor=cand_a, order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and order.closed_at is not None
    assert list(order.events.values_list("action", "from_status", "to_status", "actor")) == [
        ("cancel", OrderStatus.UNPAID, OrderStatus.CANCELLED, cand_a.pk)
    ]
    # The seats stay held while the application waits for payment.
    assert held_at(ccaa_app) == seats
    ccaa_app.refresh_from_db()
    assert ccaa_app.status == Status.AWAITING_PAYMENT
    refused(lambda: services.order_cancel(actor=cand_a, order=order), "payments.order_transition_not_allowed", 409)

    again = order_for(ccaa_app, cand_a)
    assert again.number != order.number and again.status == OrderStatus.UNPAID
    assert held_at(ccaa_app) == seats
    assert Order.objects.filter(application=ccaa_app).count() == 2


def test_ordering_is_for_the_owner_and_only_while_awaiting_payment(world, cand_a, cand_b, ccaa_app):
    refused(lambda: order_for(ccaa_app, cand_b), "payments.not_owner", 403)
    under_review = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    refused(lambda: order_for(under_review, cand_a), "payments.not_awaiting_payment", 409)
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("buyer", "code"),
    [
        (services.Buyer(name=" ", phone="13912345678"), "payments.buyer_name"),
        (services.Buyer(name="张三", phone="12345"), "payments.buyer_phone"),
        (services.Buyer(name="张三", phone="13912345678", email="not-an-email"), "payments.buyer_email"),
    ],
)
def test_the_buyer_must_be_reachable(world, cand_a, ccaa_app, buyer, code):
    refused(lambda: services.order_create(actor=cand_a, application=ccaa_app, buyer=buyer), code)
    assert not Order.objects.exists()


# --- The payment window's edges ---------------------------------------------------------------------


def test_the_payment_window_opens_at_its_first_instant(world, cand_a, ccaa_app, clock):
    window = batch_window(ccaa_app.batch, WindowAction.PAY)
    clock(window.opens_at - MICROSECOND)
    refused(lambda: order_for(ccaa_app, cand_a), "catalog.window_closed", 409)
    assert not Order.objects.exists()
    clock(window.opens_at)
    order = order_for(ccaa_app, cand_a)
    assert order.status == OrderStatus.UNPAID


def test_the_payment_window_is_closed_at_its_end(world, cand_a, ccaa_app, clock):
    window = batch_window(ccaa_app.batch, WindowAction.PAY)
    clock(window.closes_at)
    refused(lambda: order_for(ccaa_app, cand_a), "catalog.window_closed", 409)
    assert not Order.objects.exists()
    # The last instant: the order must be paid by the window's end, not two hours later.
    clock(window.closes_at - MICROSECOND)
    order = order_for(ccaa_app, cand_a)
    assert order.expires_at == window.closes_at


def test_an_order_expires_after_the_programmes_time_limit(world, cand_a, ccaa_app, clock):
    set_fees(demo.CCAA_EXAM, order_expiry_minutes=30)
    window = batch_window(ccaa_app.batch, WindowAction.PAY)
    now = clock(window.closes_at - timedelta(hours=1))
    assert order_for(ccaa_app, cand_a).expires_at == now + timedelta(minutes=30)
    services.order_cancel(actor=cand_a, order=Order.objects.get())
    clock(window.closes_at - timedelta(minutes=10))
    assert order_for(ccaa_app, cand_a).expires_at == window.closes_at


# --- Expiry ----------------------------------------------------------------------------------------------


def test_expiry_closes_the_order_and_gives_the_seats_back(world, cand_a, ccaa_app):
    seats = held_at(ccaa_app)
    order = order_for(ccaa_app, cand_a)
    assert services.orders_expire(at=order.expires_at - MICROSECOND) == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.UNPAID
    locmem.clear()

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert services.orders_expire(at=order.expires_at) == 1
    order.refresh_from_db()
    assert (order.status, order.closed_at) == (OrderStatus.EXPIRED, order.expires_at)
    assert list(order.events.values_list("action", "to_status", "actor")) == [("expire", OrderStatus.EXPIRED, None)]
    assert not ccaa_app.seat_holds.exists()
    assert held_at(ccaa_app) == {sitting: count - 1 for sitting, count in seats.items()}
    ccaa_app.refresh_from_db()
    assert ccaa_app.status == Status.AWAITING_PAYMENT
    assert [m.params["order"] for m in sms("order_expired")] == [order.number]
    # Once is enough.
    assert services.orders_expire(at=order.expires_at + timedelta(hours=1)) == 0


def test_expiry_settles_a_payment_made_just_in_time(world, cand_a, ccaa_app):
    seats = held_at(ccaa_app)
    order = order_for(ccaa_app, cand_a)
    gateway_pays(start(order, cand_a))  # paid at the gateway; its notification has not arrived
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert services.orders_expire(at=order.expires_at) == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert not Refund.objects.exists()
    assert held_at(ccaa_app) == seats


def test_a_new_order_after_expiry_takes_the_seats_again(world, cand_a, ccaa_app):
    seats = held_at(ccaa_app)
    order = order_for(ccaa_app, cand_a)
    services.orders_expire(at=order.expires_at)
    assert sum(held_at(ccaa_app).values()) == sum(seats.values()) - 3

    again = order_for(ccaa_app, cand_a)
    assert again.status == OrderStatus.UNPAID
    assert held_at(ccaa_app) == seats
    assert ccaa_app.seat_holds.count() == 3


def test_a_new_order_after_expiry_is_refused_when_the_site_filled_meanwhile(world, cand_a, cand_b):
    application = awaiting(world, demo.CCAA_EXAM, cand_a, subjects=["101"])
    order = order_for(application, cand_a)
    services.orders_expire(at=order.expires_at)
    # Seat numbers are catalogue configuration: one seat left, then another candidate takes it.
    capacity = SiteCapacity.objects.get(site=application.site, sitting__subjects__code="101")
    SiteCapacity.objects.filter(pk=capacity.pk).update(capacity=capacity.held + 1)
    awaiting(world, demo.CCAA_EXAM, cand_b, subjects=["101"], site=application.site)
    capacity.refresh_from_db()
    assert capacity.held == capacity.capacity
    before = footprint(application)

    error = refused(lambda: order_for(application, cand_a), "applications.site_full", 409)
    assert "上海市" in error.message  # the alternatives with seats are named
    assert footprint(application) == before
    assert Order.objects.filter(application=application).count() == 1


# --- Lapsing after the payment window ----------------------------------------------------------------


def test_an_application_left_unpaid_lapses_when_the_window_closes(world, cand_a, ccaa_app):
    closes = batch_window(ccaa_app.batch, WindowAction.PAY).closes_at
    seats = held_at(ccaa_app)
    assert services.applications_lapse(at=closes - MICROSECOND) == 0
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert services.applications_lapse(at=closes) == 1
    ccaa_app.refresh_from_db()
    assert ccaa_app.status == Status.WITHDRAWN
    assert not ccaa_app.seat_holds.exists()
    assert sum(held_at(ccaa_app).values()) == sum(seats.values()) - 3
    lapse = ccaa_app.transitions.order_by("pk").last()
    assert (lapse.action, lapse.to_status, lapse.actor) == ("withdraw", Status.WITHDRAWN, None)
    assert [m.params["number"] for m in sms("application_lapsed")] == [ccaa_app.number]
    assert services.applications_lapse(at=closes) == 0


def test_lapsing_waits_for_an_unpaid_order_to_expire(world, cand_a, ccaa_app):
    closes = batch_window(ccaa_app.batch, WindowAction.PAY).closes_at
    order = order_for(ccaa_app, cand_a)
    assert services.applications_lapse(at=closes) == 0
    ccaa_app.refresh_from_db()
    assert ccaa_app.status == Status.AWAITING_PAYMENT
    assert services.orders_expire(at=closes) == 1
    assert services.applications_lapse(at=closes) == 1
    ccaa_app.refresh_from_db()
    order.refresh_from_db()
    assert (ccaa_app.status, order.status) == (Status.WITHDRAWN, OrderStatus.EXPIRED)


def test_lapsing_spares_paid_applications_and_takes_cancelled_ones(world, cand_a, cand_b, ccaa_app):
    services.order_cancel(actor=cand_a, order=order_for(ccaa_app, cand_a))
    other = awaiting(world, demo.CCAA_EXAM, cand_b)
    paid(other, cand_b)
    closes = batch_window(ccaa_app.batch, WindowAction.PAY).closes_at
    assert services.applications_lapse(at=closes) == 1
    ccaa_app.refresh_from_db()
    other.refresh_from_db()
    assert (ccaa_app.status, other.status) == (Status.WITHDRAWN, Status.PAID)


# --- Recall and withdrawal while money is owed or paid -----------------------------------------------


def test_recall_and_withdrawal_wait_for_an_unpaid_order_to_be_cancelled(world, cand_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    before = footprint(ccaa_app)
    for call in (application_services.application_recall, application_services.application_withdraw):
        refused(lambda call=call: call(actor=cand_a, application=ccaa_app), "applications.order_unpaid", 409)
    assert footprint(ccaa_app) == before
    services.order_cancel(actor=cand_a, order=order)
    application_services.application_recall(actor=cand_a, application=ccaa_app)
    ccaa_app.refresh_from_db()
    assert ccaa_app.status == Status.DRAFT
    assert ccaa_app.seat_holds.count() == 3  # recalling never costs a seat


def test_recall_and_withdrawal_are_refused_once_paid(world, cand_a, ccaa_app):
    paid(ccaa_app, cand_a)
    before = footprint(ccaa_app)
    for call in (application_services.application_recall, application_services.application_withdraw):
        refused(lambda call=call: call(actor=cand_a, application=ccaa_app), "applications.transition_not_allowed")
    assert footprint(ccaa_app) == before


def before_review(world) -> Programme:
    """Seed 000's exam configured to take payment on submission, review after (as seed 001 does)."""
    return set_fees(demo.AUCTIONEER_EXAM, payment_stage=PaymentStage.BEFORE_REVIEW)


def test_a_paid_application_under_review_cannot_be_recalled_or_withdrawn(world, cand_a):
    before_review(world)
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    assert application.status == Status.AWAITING_PAYMENT
    paid(application, cand_a)
    application.refresh_from_db()
    assert application.status == Status.UNDER_REVIEW
    before = footprint(application)
    for call in (application_services.application_recall, application_services.application_withdraw):
        error = refused(lambda call=call: call(actor=cand_a, application=application), "applications.order_paid")
        assert "退考退费" in error.message
    assert footprint(application) == before
