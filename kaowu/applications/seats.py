"""Seat holding: never more holds than seats, under any concurrency (docs/adr/0005-seat-holding.md).

A seat is taken with one conditional UPDATE on the ``SiteCapacity`` row::

    UPDATE catalog_sitecapacity SET held = held + 1 WHERE id = %s AND held < capacity

The database evaluates the condition on the current row under the row's write lock, so of any number of
concurrent takers exactly ``capacity - held`` succeed; a taker whose UPDATE matched no row lost the race
and gets ``applications.site_full``. The row lock is held until the surrounding transaction ends, which
is why services call these functions as their *last* write (locks taken late). Several rows are always
taken in primary-key order, so two transactions never wait for each other in opposite orders. A CHECK
constraint (``held <= capacity``) backs this up in the database itself. SQLite serialises writers
(``BEGIN IMMEDIATE``), so the same code is correct there.

These functions must run inside the caller's ``transaction.atomic()`` with the application row locked.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from kaowu.catalog.models import Site, SiteCapacity
from kaowu.core.errors import KaowuError

from .models import Application, SeatHold


def capacities_for(site: Site, sitting_ids: Iterable[int]) -> list[SiteCapacity]:
    """The capacity rows of ``site`` for the given sittings, in lock order; refuses a missing one."""
    sitting_ids = sorted(set(sitting_ids))
    rows = list(SiteCapacity.objects.filter(site=site, sitting_id__in=sitting_ids).order_by("pk"))
    if len(rows) != len(sitting_ids):
        raise KaowuError(
            "applications.site_not_offered",
            _("所选考点未安排您所报科目的考试场次，请选择其他考点。"),
            field="site",
            status=409,
        )
    return rows


def alternatives_for(site: Site, sitting_ids: Iterable[int]) -> list[Site]:
    """Other sites of the same batch with a free seat at every one of the sittings."""
    sitting_ids = set(sitting_ids)
    sites = []
    for other in Site.objects.filter(batch_id=site.batch_id).exclude(pk=site.pk).prefetch_related("capacities"):
        free = {c.sitting_id for c in other.capacities.all() if c.held < c.capacity}
        if sitting_ids <= free:
            sites.append(other)
    return sites


def site_full_error(site: Site, sitting_ids: Iterable[int]) -> KaowuError:
    names = "、".join(s.name for s in alternatives_for(site, sitting_ids))
    if names:
        message = _("此考点已满，请选择其他考点。尚有空余座位的考点：%(alternatives)s。")
    else:
        message = _("此考点已满，请选择其他考点。目前其他考点也已满员，请留意名额调整通知。")
    return KaowuError(
        "applications.site_full", message, field="site", status=409, params={"alternatives": names} if names else {}
    )


def seats_hold(application: Application, capacities: list[SiteCapacity]) -> None:
    """Hold a seat in each of ``capacities`` for ``application``, keeping holds it already has there and
    releasing its holds elsewhere. All or nothing: on ``applications.site_full`` the caller's transaction
    must roll back (the exception does that when it leaves ``atomic``)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("seats_hold must run inside the caller's transaction")
    by_pk = {c.pk: c for c in capacities}
    holds = {h.capacity_id: h for h in application.seat_holds.all()}
    # Every row this call touches, released or taken, in one primary-key order: no deadlock with a
    # transaction moving the other way (a candidate changing from site B to A while another goes A to B).
    released, taken = [], []
    for pk in sorted(set(by_pk) ^ set(holds)):
        if pk in holds:
            SiteCapacity.objects.filter(pk=pk).update(held=F("held") - 1)
            released.append(holds[pk].pk)
            continue
        if not SiteCapacity.objects.filter(pk=pk, held__lt=F("capacity")).update(held=F("held") + 1):
            raise site_full_error(by_pk[pk].site, [c.sitting_id for c in capacities])
        taken.append(SeatHold(application=application, capacity=by_pk[pk]))
    # The hold rows only record whose seats the counters hold; they take no lock worth ordering.
    SeatHold.objects.filter(pk__in=released).delete()
    SeatHold.objects.bulk_create(taken)


def seats_release(application: Application) -> int:
    """Give back all of the application's seats (withdrawal, final rejection); returns how many."""
    holds = list(application.seat_holds.order_by("capacity_id"))
    for hold in holds:
        SiteCapacity.objects.filter(pk=hold.capacity_id).update(held=F("held") - 1)
    SeatHold.objects.filter(pk__in=[h.pk for h in holds]).delete()
    return len(holds)


def seats_hold_chosen(application: Application) -> None:
    """Hold the seats of the application's chosen site for its subjects' sittings (at submission, and
    again when a new order is made after an unpaid one expired and gave them back). No site, no seats."""
    if application.site_id is None:
        return
    sitting_ids = [s for s in application.subjects.values_list("sitting_id", flat=True) if s]
    seats_hold(application, capacities_for(application.site, sitting_ids))
