"""The seat counter on SiteCapacity is written only by the seat services (docs/adr/0005-seat-holding.md)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from kaowu.catalog import demo
from kaowu.catalog.models import SiteCapacity

pytestmark = pytest.mark.django_db


@pytest.fixture
def capacity() -> SiteCapacity:
    demo.load_demo_catalogue()
    return SiteCapacity.objects.filter(site__batch__programme__code=demo.CCAA_EXAM).order_by("pk").first()


def test_saving_a_stale_row_keeps_the_live_seat_count(capacity):
    stale = SiteCapacity.objects.get(pk=capacity.pk)
    SiteCapacity.objects.filter(pk=capacity.pk).update(held=F("held") + 3)
    stale.capacity += 10
    stale.save()
    capacity.refresh_from_db()
    assert capacity.held == 3
    assert capacity.capacity == stale.capacity


def test_capacity_below_held_is_refused_by_clean_and_by_the_database(capacity):
    SiteCapacity.objects.filter(pk=capacity.pk).update(held=5, capacity=5)
    capacity.refresh_from_db()
    capacity.capacity = 4
    with pytest.raises(ValidationError) as raised:
        capacity.full_clean()
    assert "已有 5 个座位被占用" in str(raised.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        SiteCapacity.objects.filter(pk=capacity.pk).update(held=F("held") + 1)
