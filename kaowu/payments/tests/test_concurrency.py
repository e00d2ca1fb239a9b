"""Money under real concurrency: the same notification delivered many times at once, a notification racing
支付完毕, ten refund requests at once, and paid candidates moving to a site's last seat while another
candidate submits for it. Each call runs in its own thread with its own database connection, all released
together; every thread closes its connection at the end.

Like ``kaowu/applications/tests/test_concurrency.py`` these need PostgreSQL's row locks between
independent connections (SQLite's in-memory test database fails a second writer at once instead of making
it wait), so they skip on SQLite. They are transactional: the database is flushed between tests, including
the regions a migration loads, which ``catalogue`` reloads before the demo catalogue."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection, connections

from kaowu.accounts.models import User
from kaowu.applications import services as application_services
from kaowu.applications.models import Application, SeatHold
from kaowu.applications.tests.conftest import fill, with_photo
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.management.commands.import_regions import load_rows
from kaowu.catalog.models import Batch, Programme, Site, SiteCapacity
from kaowu.conftest import race, register_candidate
from kaowu.payments import services
from kaowu.payments.models import NotificationLog, Order, OrderEvent, Payment, Refund, SandboxRefund, SandboxTrade
from kaowu.payments.providers.sandbox import SandboxProvider, notification_payload, sign_notification
from kaowu.payments.workflow import OrderStatus, PaymentStatus, RefundStatus

from .conftest import gateway_pays, order_for, paid, start

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REGIONS = Path(demo.__file__).resolve().parent / "fixtures" / "regions.json"


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: concurrent writers on SQLite's in-memory test database fail instead of waiting "
            "for the lock (run with DATABASE_URL=postgres://…)"
        )


@pytest.fixture
def batch() -> Batch:
    """Seed 004's batch, with the regions reloaded."""
    load_rows(json.loads(REGIONS.read_text(encoding="utf-8")))
    demo.load_demo_catalogue()
    return Programme.objects.get(code=demo.CCAA_EXAM).batches.get()


def site_named(batch: Batch, name: str) -> Site:
    return Site.objects.get(batch=batch, name=name)


def draft(batch: Batch, site: Site) -> Application:
    """A new candidate's complete draft for ``site`` and subject 101 only: one seat."""
    candidate = with_photo(register_candidate())
    application = application_services.application_start(actor=candidate, batch=batch)
    return fill(application, candidate, subjects=["101"], site=site)


def awaiting_payment(batch: Batch, site: Site) -> Application:
    application = draft(batch, site)
    application_services.application_submit(actor=application.candidate, application=application)
    application.refresh_from_db()
    assert application.status == Status.AWAITING_PAYMENT
    return application


def notification(payment: Payment) -> tuple[dict[str, str], bytes]:
    trade = SandboxTrade.objects.get(out_trade_no=payment.number)
    return sign_notification("sandbox", {**notification_payload(trade), "notify_id": uuid.uuid4().hex})


def deliver(message: tuple[dict[str, str], bytes]) -> Callable[[], object]:
    headers, body = message

    def call():
        return services.payment_notification_receive(provider="sandbox", headers=headers, body=body, ip="127.0.0.1")

    return call


def check(order: Order) -> Callable[[], object]:
    def call():
        # Fresh objects in the thread: nothing is shared between connections.
        fresh = Order.objects.get(pk=order.pk)
        return services.payment_check(actor=User.objects.get(pk=order.candidate_id), order=fresh).status

    return call


def assert_settled_once(order: Order) -> Payment:
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert OrderEvent.objects.filter(order=order, subject="order", action="pay").count() == 1
    assert OrderEvent.objects.filter(order=order, subject="payment", action="succeed").count() == 1
    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert not Refund.objects.exists()
    application = Application.objects.get(pk=order.application_id)
    assert application.status == Status.PAID
    assert application.transitions.filter(action="pay").count() == 1
    return payment


def test_the_same_notification_twenty_times_at_once_settles_once(batch):
    application = awaiting_payment(batch, site_named(batch, "北京市"))
    order = order_for(application, application.candidate)
    payment = start(order, application.candidate)
    gateway_pays(payment)
    message = notification(payment)

    outcomes = race([deliver(message) for _ in range(20)])

    assert Counter(outcomes) == {(200, "success", "text/plain"): 20}, Counter(outcomes)
    assert_settled_once(order)
    assert Counter(NotificationLog.objects.values_list("accepted", "outcome")) == {
        (True, "settled"): 1,
        (True, "duplicate"): 19,
    }


def test_a_notification_racing_payment_check_settles_once(batch):
    application = awaiting_payment(batch, site_named(batch, "北京市"))
    order = order_for(application, application.candidate)
    payment = start(order, application.candidate)
    gateway_pays(payment)
    message = notification(payment)

    outcomes = race([deliver(message), check(order)] * 5)

    assert set(outcomes[0::2]) == {(200, "success", "text/plain")}, outcomes
    assert set(outcomes[1::2]) == {OrderStatus.PAID}, outcomes
    payment = assert_settled_once(order)
    assert payment.settled_by in ("notify", "query")
    notified = Counter(NotificationLog.objects.values_list("outcome", flat=True))
    assert sum(notified.values()) == 5 and set(notified) <= {"settled", "duplicate"}
    assert notified["settled"] == (1 if payment.settled_by == "notify" else 0)


def test_ten_refund_requests_at_once_refund_once(batch):
    application = awaiting_payment(batch, site_named(batch, "北京市"))
    capacity = SiteCapacity.objects.get(site=application.site, sitting__subjects__code="101")
    order = paid(application, application.candidate)
    held = SiteCapacity.objects.get(pk=capacity.pk).held

    def request():
        fresh = Order.objects.get(pk=order.pk)
        services.refund_request(actor=User.objects.get(pk=order.candidate_id), order=fresh)
        return "ok"

    outcomes = race([request for _ in range(10)])

    counts = Counter(outcomes)
    assert counts["ok"] == 1, counts
    assert set(counts) - {"ok"} <= {"payments.already_refunded", "payments.refund_used"}, counts
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.SUCCEEDED
    assert SandboxRefund.objects.get().amount_fen == order.amount_fen
    order.refresh_from_db()
    application.refresh_from_db()
    assert (order.status, application.status) == (OrderStatus.REFUNDED, Status.WITHDRAWN)
    assert application.transitions.filter(action="refund").count() == 1
    assert SiteCapacity.objects.get(pk=capacity.pk).held == held - 1  # released once, not ten times


def test_paid_candidates_and_a_submission_race_for_a_sites_last_seat(batch):
    old, new = site_named(batch, "北京市"), site_named(batch, "上海市")
    movers = [awaiting_payment(batch, old) for _ in range(6)]
    for application in movers:
        paid(application, application.candidate)
    newcomer = draft(batch, new)
    old_capacity = SiteCapacity.objects.get(site=old, sitting__subjects__code="101")
    new_capacity = SiteCapacity.objects.get(site=new, sitting__subjects__code="101")
    # Seat numbers are catalogue configuration: one free seat left at the new site.
    SiteCapacity.objects.filter(pk=new_capacity.pk).update(capacity=new_capacity.held + 1)
    new_capacity.refresh_from_db()
    old_held = SiteCapacity.objects.get(pk=old_capacity.pk).held

    peak = {"held": 0}
    stop = threading.Event()

    def watch():
        # Reads the counter throughout the race: it must never pass the capacity.
        try:
            while not stop.is_set():
                peak["held"] = max(peak["held"], SiteCapacity.objects.get(pk=new_capacity.pk).held)
                time.sleep(0.005)
        finally:
            connections.close_all()

    def move(application: Application) -> Callable[[], object]:
        def call():
            fresh = Application.objects.get(pk=application.pk)
            actor = User.objects.get(pk=application.candidate_id)
            application_services.application_change_site(
                actor=actor, application=fresh, site=Site.objects.get(pk=new.pk)
            )
            return "ok"

        return call

    def submit():
        fresh = Application.objects.get(pk=newcomer.pk)
        application_services.application_submit(actor=User.objects.get(pk=newcomer.candidate_id), application=fresh)
        return "ok"

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        outcomes = race([move(a) for a in movers] + [submit])
    finally:
        stop.set()
        watcher.join()

    assert Counter(outcomes) == {"ok": 1, "applications.site_full": len(movers)}, Counter(outcomes)
    new_capacity.refresh_from_db()
    assert peak["held"] <= new_capacity.capacity
    assert new_capacity.held == new_capacity.capacity == SeatHold.objects.filter(capacity=new_capacity).count()
    moved = outcomes[: len(movers)].count("ok")
    assert SiteCapacity.objects.get(pk=old_capacity.pk).held == old_held - moved
    for application, outcome in zip(movers, outcomes, strict=False):
        application.refresh_from_db()
        # Winners sit at the new site; losers keep their old seat, their status and their paid order.
        expected_site = new if outcome == "ok" else old
        assert (application.site, application.status) == (expected_site, Status.PAID)
        assert list(application.seat_holds.values_list("capacity", flat=True)) == [
            (new_capacity if outcome == "ok" else old_capacity).pk
        ]
        assert application.orders.get().status == OrderStatus.PAID
    newcomer.refresh_from_db()
    assert newcomer.status == (Status.AWAITING_PAYMENT if outcomes[-1] == "ok" else Status.DRAFT)
    assert newcomer.seat_holds.exists() == (outcomes[-1] == "ok")


def test_a_refund_waiting_at_the_gateway_holds_up_no_other_candidates_payment(batch, monkeypatch):
    """Gateways are slow at times. While one candidate's refund waits for the gateway's answer, another
    candidate's payment in the same batch settles at once: the refund holds its own rows, not the batch's."""
    site = site_named(batch, "北京市")
    leaving = awaiting_payment(batch, site)
    refunded_order = paid(leaving, leaving.candidate)
    paying = awaiting_payment(batch, site)
    order = order_for(paying, paying.candidate)
    payment = start(order, paying.candidate)
    gateway_pays(payment)
    message = notification(payment)

    inside, release = threading.Event(), threading.Event()
    original = SandboxProvider.refund

    def slow_refund(self, request):
        inside.set()
        release.wait(timeout=60)
        return original(self, request)

    monkeypatch.setattr(SandboxProvider, "refund", slow_refund)
    outcomes: dict[str, object] = {}

    def run(name: str, call: Callable[[], object]) -> None:
        try:
            outcomes[name] = call()
        except Exception as error:  # reported to the test, which fails on it
            outcomes[name] = repr(error)
        finally:
            connections.close_all()

    def refund():
        fresh = Order.objects.get(pk=refunded_order.pk)
        services.refund_request(actor=User.objects.get(pk=fresh.candidate_id), order=fresh)
        return "ok"

    refunder = threading.Thread(target=run, args=("refund", refund))
    refunder.start()
    try:
        assert inside.wait(timeout=60), "the refund never reached the gateway"
        settler = threading.Thread(target=run, args=("notify", deliver(message)))
        settler.start()
        settler.join(timeout=10)
        held_up = settler.is_alive()
    finally:
        release.set()
        refunder.join(timeout=60)
    settler.join(timeout=60)

    assert not held_up, "the payment waited for another candidate's refund at the gateway"
    assert outcomes == {"refund": "ok", "notify": (200, "success", "text/plain")}, outcomes
    order.refresh_from_db()
    refunded_order.refresh_from_db()
    assert (order.status, refunded_order.status) == (OrderStatus.PAID, OrderStatus.REFUNDED)
