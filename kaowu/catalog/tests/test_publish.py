"""CAT-2: publishing a batch (``batch_publish`` / ``batch_unpublish``) offers it to candidates or stops
doing so; publishing needs a 报名 window; both are idempotent and audited."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kaowu.accounts.models import User
from kaowu.catalog import services
from kaowu.catalog.models import (
    Batch,
    Organisation,
    OrganisationKind,
    PaymentStage,
    Programme,
    ProgrammeKind,
    WindowAction,
)
from kaowu.catalog.selectors import open_batches
from kaowu.catalog.services import WindowSpec
from kaowu.core.errors import KaowuError
from kaowu.core.models import AuditEntry

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGISTER = WindowSpec(
    WindowAction.REGISTER, datetime(2026, 3, 1, 9, tzinfo=SHANGHAI), datetime(2026, 3, 10, 17, tzinfo=SHANGHAI)
)
EXAM = WindowSpec(
    WindowAction.EXAM, datetime(2026, 5, 17, 8, tzinfo=SHANGHAI), datetime(2026, 5, 18, 17, tzinfo=SHANGHAI)
)


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_user(username="catadmin", password="x", is_staff=True, real_name="配置员")


@pytest.fixture
def programme(db) -> Programme:
    owner = Organisation.objects.create(name="中国拍卖行业协会", kind=OrganisationKind.NATIONAL)
    return Programme.objects.create(
        owner=owner,
        code="auctioneer",
        name="拍卖师资格考试",
        kind=ProgrammeKind.EXAM,
        payment_stage=PaymentStage.AFTER_REVIEW,
    )


def make_batch(admin_user, programme, windows=(REGISTER, EXAM), code: str = "2026") -> Batch:
    return services.batch_create(
        actor=admin_user, programme=programme, code=code, name=f"{code} 年拍卖师资格考试", year=2026, windows=windows
    )


def audit(action: str, batch: Batch):
    return AuditEntry.objects.filter(action=action, object_id=str(batch.pk))


def test_publish_offers_the_batch_to_candidates_and_audits(admin_user, programme):
    batch = make_batch(admin_user, programme)
    assert list(open_batches(REGISTER.opens_at)) == []

    services.batch_publish(actor=admin_user, batch=batch)

    assert batch.is_published
    assert Batch.objects.get(pk=batch.pk).is_published
    assert list(open_batches(REGISTER.opens_at)) == [batch]
    entry = audit("catalog.batch.published", batch).get()
    assert entry.actor == admin_user
    assert (entry.before, entry.after) == ({"is_published": False}, {"is_published": True})


@pytest.mark.parametrize("windows", [(), (EXAM,)], ids=["no-windows", "no-register-window"])
def test_publish_needs_a_registration_window(admin_user, programme, windows):
    batch = make_batch(admin_user, programme, windows=windows)
    with pytest.raises(KaowuError) as caught:
        services.batch_publish(actor=admin_user, batch=batch)
    assert caught.value.code == "catalog.batch_no_register_window"
    assert caught.value.message == "发布前请先设置报名时间。"
    assert (caught.value.status, caught.value.field) == (409, "windows")
    assert not batch.is_published
    assert not Batch.objects.get(pk=batch.pk).is_published
    assert not audit("catalog.batch.published", batch).exists()


def test_publish_is_idempotent(admin_user, programme):
    batch = make_batch(admin_user, programme)
    services.batch_publish(actor=admin_user, batch=batch)
    services.batch_publish(actor=admin_user, batch=batch)
    stale = Batch.objects.get(pk=batch.pk)
    stale.is_published = False  # an instance read before someone else published
    services.batch_publish(actor=admin_user, batch=stale)

    assert stale.is_published and Batch.objects.get(pk=batch.pk).is_published
    assert audit("catalog.batch.published", batch).count() == 1


def test_unpublish_stops_offering_the_batch_and_audits(admin_user, programme):
    batch = make_batch(admin_user, programme)
    services.batch_publish(actor=admin_user, batch=batch)

    services.batch_unpublish(actor=admin_user, batch=batch)

    assert not batch.is_published
    assert not Batch.objects.get(pk=batch.pk).is_published
    assert list(open_batches(REGISTER.opens_at)) == []
    entry = audit("catalog.batch.unpublished", batch).get()
    assert entry.actor == admin_user
    assert (entry.before, entry.after) == ({"is_published": True}, {"is_published": False})


def test_unpublish_is_idempotent(admin_user, programme):
    batch = make_batch(admin_user, programme)
    services.batch_unpublish(actor=admin_user, batch=batch)
    services.batch_publish(actor=admin_user, batch=batch)
    services.batch_unpublish(actor=admin_user, batch=batch)
    services.batch_unpublish(actor=admin_user, batch=batch)

    assert not Batch.objects.get(pk=batch.pk).is_published
    assert audit("catalog.batch.unpublished", batch).count() == 1


def test_publishing_one_batch_leaves_the_others_alone(admin_user, programme):
    batch = make_batch(admin_user, programme)
    other = make_batch(admin_user, programme, code="2026b")
    services.batch_publish(actor=admin_user, batch=batch)
    assert not Batch.objects.get(pk=other.pk).is_published


def test_system_may_publish_without_an_actor(admin_user, programme):
    batch = make_batch(admin_user, programme)
    services.batch_publish(actor=None, batch=batch)
    assert audit("catalog.batch.published", batch).get().actor is None
