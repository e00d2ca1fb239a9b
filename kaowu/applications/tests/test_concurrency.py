"""Seats under real concurrency (docs/adr/0005-seat-holding.md): many submissions, each in its own thread
with its own database connection, race for the last seats of one site.

These tests need PostgreSQL's row locks between independent connections. On SQLite the test database is
an in-memory shared-cache database, where a second writer fails at once with "database table is locked"
instead of waiting for the lock (the busy timeout does not apply), so the race cannot be shown there and
the tests skip (CI runs the suite on PostgreSQL too: ``.ci/run``).

They are transactional (each thread commits for real), so the database is flushed between tests,
including the regions that a migration loads: ``catalogue`` reloads them before the demo catalogue.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection, connections

from kaowu.accounts.models import User
from kaowu.applications import services
from kaowu.applications.models import Application, SeatHold, Transition
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.management.commands.import_regions import load_rows
from kaowu.catalog.models import Programme, Site, SiteCapacity
from kaowu.conftest import race, register_candidate

from .conftest import fill, with_photo

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REGIONS = Path(demo.__file__).resolve().parent / "fixtures" / "regions.json"
CAPACITY = 50


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: concurrent writers on SQLite's in-memory test database fail instead of waiting "
            "for the lock (run with DATABASE_URL=postgres://…)"
        )


@pytest.fixture
def site():
    """Seed 004's batch with the regions reloaded; its first site has ``CAPACITY`` seats at every sitting."""
    load_rows(json.loads(REGIONS.read_text(encoding="utf-8")))
    demo.load_demo_catalogue()
    batch = Programme.objects.get(code=demo.CCAA_EXAM).batches.get()
    site = Site.objects.filter(batch=batch).order_by("pk").first()
    # Seat numbers are catalogue configuration without a service yet (only batch_copy copies them).
    SiteCapacity.objects.filter(site=site).update(capacity=CAPACITY)
    return site


def drafts(site: Site, count: int) -> list[Application]:
    """``count`` candidates (registered and given a photo through the services), each with a complete
    draft for ``site`` and the single subject of its first sitting: one seat per application."""
    applications = []
    for _ in range(count):
        candidate = with_photo(register_candidate())
        application = services.application_start(actor=candidate, batch=site.batch)
        applications.append(fill(application, candidate, subjects=["101"], site=site))
    return applications


def submit(application: Application) -> Callable[[], object]:
    def call():
        # Fresh objects in the thread: nothing is shared between connections.
        fresh = Application.objects.get(pk=application.pk)
        actor = User.objects.get(pk=application.candidate_id)
        services.application_submit(actor=actor, application=fresh)
        return "ok"

    return call


def withdraw(application: Application) -> Callable[[], object]:
    def call():
        fresh = Application.objects.get(pk=application.pk)
        actor = User.objects.get(pk=application.candidate_id)
        services.application_withdraw(actor=actor, application=fresh)
        return "ok"

    return call


def test_200_submissions_for_50_seats(site):
    applications = drafts(site, 200)
    outcomes = race([submit(a) for a in applications])

    assert Counter(outcomes) == {"ok": CAPACITY, "applications.site_full": 200 - CAPACITY}, Counter(outcomes)
    capacity = SiteCapacity.objects.get(site=site, sitting__subjects__code="101")
    assert capacity.held == SeatHold.objects.count() == CAPACITY
    holders = set(SeatHold.objects.values_list("application_id", flat=True))
    for application, outcome in zip(applications, outcomes, strict=True):
        application.refresh_from_db()
        if outcome == "ok":
            assert application.pk in holders
            assert application.status == Status.AWAITING_PAYMENT
            assert application.transitions.count() == 1
        else:
            # A clear refusal, and nothing of the submission kept.
            assert application.pk not in holders
            assert (application.status, application.round, application.submitted_at) == (Status.DRAFT, 0, None)
            assert not application.transitions.exists()


def test_withdrawals_and_submissions_race_for_a_full_site(site):
    seats = 20  # a smaller site than above: the race is the same, the preparation quicker
    SiteCapacity.objects.filter(site=site).update(capacity=seats)
    # Everyone chose the site while it had seats; then the holders submitted and filled it.
    holders, submitters = drafts(site, seats), drafts(site, 20)
    for application in holders:
        services.application_submit(actor=application.candidate, application=application)
    capacity = SiteCapacity.objects.get(site=site, sitting__subjects__code="101")
    assert capacity.held == capacity.capacity == seats
    leaving = holders[:10]

    peak = {"held": 0}
    stop = threading.Event()

    def watch():
        # Reads the counter throughout the race: it must never pass the capacity.
        try:
            while not stop.is_set():
                peak["held"] = max(peak["held"], SiteCapacity.objects.get(pk=capacity.pk).held)
                time.sleep(0.005)
        finally:
            connections.close_all()

    watcher = threading.Thread(target=watch)
    watcher.start()
    calls = [withdraw(a) for a in leaving] + [submit(a) for a in submitters]
    try:
        outcomes = race(calls)
    finally:
        stop.set()
        watcher.join()

    withdrawals, submissions = outcomes[: len(leaving)], outcomes[len(leaving) :]
    assert set(withdrawals) == {"ok"}
    assert set(submissions) <= {"ok", "applications.site_full"}, Counter(submissions)
    won = submissions.count("ok")
    assert won <= len(leaving)
    capacity.refresh_from_db()
    assert peak["held"] <= seats
    assert capacity.held == SeatHold.objects.count() == seats - len(leaving) + won
    assert Application.objects.filter(status=Status.WITHDRAWN, seat_holds__isnull=False).count() == 0
    for application, outcome in zip(submitters, submissions, strict=True):
        application.refresh_from_db()
        expected = Status.AWAITING_PAYMENT if outcome == "ok" else Status.DRAFT
        assert application.status == expected
        assert application.seat_holds.exists() == (outcome == "ok")


def test_a_double_submission_counts_once(site):
    (application,) = drafts(site, 1)
    outcomes = race([submit(application) for _ in range(8)])
    assert Counter(outcomes) == {"ok": 1, "applications.transition_not_allowed": 7}, Counter(outcomes)
    application.refresh_from_db()
    assert application.status == Status.AWAITING_PAYMENT and application.round == 1
    assert Transition.objects.filter(application=application).count() == 1
    assert SeatHold.objects.filter(application=application).count() == 1
    assert SiteCapacity.objects.get(site=site, sitting__subjects__code="101").held == 1
