"""CAT-2/3/4: starting next year's batch from this one (``batch_copy``): a deep, independent copy."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kaowu.accounts.models import User
from kaowu.catalog import services
from kaowu.catalog.models import (
    Batch,
    BatchWindow,
    Organisation,
    OrganisationKind,
    PaymentStage,
    Position,
    Programme,
    ProgrammeKind,
    Region,
    Site,
    SiteCapacity,
    Sitting,
    Subject,
    WindowAction,
)
from kaowu.catalog.services import WindowSpec
from kaowu.core.errors import KaowuError
from kaowu.core.models import AuditEntry

SHANGHAI = ZoneInfo("Asia/Shanghai")
A = WindowAction


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def local_text(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_user(username="catadmin", password="x", is_staff=True, real_name="配置员")


@pytest.fixture
def programme(db) -> Programme:
    owner = Organisation.objects.create(name="江苏省人事考试中心", kind=OrganisationKind.PROVINCIAL)
    return Programme.objects.create(
        owner=owner,
        code="js-recruit",
        name="江苏省事业单位招聘考试",
        kind=ProgrammeKind.EXAM,
        payment_stage=PaymentStage.AFTER_REVIEW,
    )


@pytest.fixture
def source(admin_user, programme) -> Batch:
    """A published 2024 batch whose registration closes on the leap day, with everything a batch holds."""
    batch = services.batch_create(
        actor=admin_user,
        programme=programme,
        code="2024",
        name="2024 年事业单位招聘考试",
        year=2024,
        windows=[
            WindowSpec(A.REGISTER, local("2024-02-20 09:00"), local("2024-02-29 17:00")),
            WindowSpec(A.PAY, local("2024-02-21 09:00"), local("2024-03-02 17:00")),
            WindowSpec(A.TICKET, local("2024-03-20 09:00"), local("2024-03-24 12:00")),
            WindowSpec(A.EXAM, local("2024-03-23 08:30"), local("2024-03-24 17:00")),
        ],
    )
    Batch.objects.filter(pk=batch.pk).update(is_published=True)
    batch.refresh_from_db()
    written = Subject.objects.create(programme=programme, code="01", name="综合知识", fee_fen=5000)
    aptitude = Subject.objects.create(programme=programme, code="02", name="职业能力倾向测验", fee_fen=5000)
    morning = Sitting.objects.create(
        batch=batch, name="上午", starts_at=local("2024-03-23 09:00"), ends_at=local("2024-03-23 11:00")
    )
    morning.subjects.set([written])
    afternoon = Sitting.objects.create(
        batch=batch, name="下午", starts_at=local("2024-03-23 14:00"), ends_at=local("2024-03-23 16:00")
    )
    afternoon.subjects.set([aptitude])
    site = Site.objects.create(batch=batch, region=Region.objects.get(code="320102"), name="南京一中", address="中山路")
    SiteCapacity.objects.create(site=site, sitting=morning, capacity=300)
    SiteCapacity.objects.create(site=site, sitting=afternoon, capacity=280)
    Position.objects.create(batch=batch, code="A01", name="会计", unit="南京市财政局", posts=2, requirements="会计学")
    return batch


def test_copy_is_deep_and_shifted_by_one_year(source, admin_user):
    copy = services.batch_copy(actor=admin_user, source=source, code="2025", name="2025 年事业单位招聘考试", year=2025)

    assert (copy.programme, copy.code, copy.year) == (source.programme, "2025", 2025)
    assert copy.copied_from == source
    assert copy.is_published is False
    windows = {w.action: (local_text(w.opens_at), local_text(w.closes_at)) for w in copy.windows.all()}
    assert windows == {
        A.REGISTER: ("2025-02-20 09:00", "2025-02-28 17:00"),  # 29 February 2024 → 28 February 2025
        A.PAY: ("2025-02-21 09:00", "2025-03-02 17:00"),
        A.TICKET: ("2025-03-20 09:00", "2025-03-24 12:00"),
        A.EXAM: ("2025-03-23 08:30", "2025-03-24 17:00"),
    }
    sittings = {s.name: s for s in copy.sittings.all()}
    assert {name: (local_text(s.starts_at), local_text(s.ends_at)) for name, s in sittings.items()} == {
        "上午": ("2025-03-23 09:00", "2025-03-23 11:00"),
        "下午": ("2025-03-23 14:00", "2025-03-23 16:00"),
    }
    assert [s.code for s in sittings["上午"].subjects.all()] == ["01"]
    assert [s.code for s in sittings["下午"].subjects.all()] == ["02"]
    (site,) = copy.sites.all()
    assert (site.region_id, site.name, site.address) == ("320102", "南京一中", "中山路")
    capacities = {c.sitting.name: (c.sitting.batch_id, c.capacity) for c in site.capacities.select_related("sitting")}
    assert capacities == {"上午": (copy.pk, 300), "下午": (copy.pk, 280)}
    (position,) = copy.positions.all()
    assert (position.code, position.name, position.unit, position.posts, position.requirements) == (
        "A01",
        "会计",
        "南京市财政局",
        2,
        "会计学",
    )


def test_copy_into_a_leap_year_keeps_the_leap_day(source, admin_user):
    copy = services.batch_copy(actor=admin_user, source=source, code="2028", name="2028 年", year=2028)
    register = copy.windows.get(action=A.REGISTER)
    assert local_text(register.closes_at) == "2028-02-29 17:00"


def test_copy_is_independent_of_its_source(source, admin_user):
    source_windows = list(BatchWindow.objects.filter(batch=source).values_list("action", "opens_at", "closes_at"))
    copy = services.batch_copy(actor=admin_user, source=source, code="2025", name="2025 年", year=2025)

    services.batch_set_windows(
        actor=admin_user,
        batch=copy,
        windows=[WindowSpec(A.REGISTER, local("2025-04-01 09:00"), local("2025-04-10 17:00"))],
    )
    copy.sittings.filter(name="上午").update(name="上午（改）")
    SiteCapacity.objects.filter(site__batch=copy).update(capacity=1)
    copy.positions.update(posts=9)
    copy.sites.update(name="新考点")

    assert list(BatchWindow.objects.filter(batch=source).values_list("action", "opens_at", "closes_at")) == (
        source_windows
    )
    assert sorted(source.sittings.values_list("name", flat=True)) == ["上午", "下午"]
    assert sorted(SiteCapacity.objects.filter(site__batch=source).values_list("capacity", flat=True)) == [280, 300]
    assert source.positions.get().posts == 2
    assert source.sites.get().name == "南京一中"
    assert SiteCapacity.objects.filter(site__batch=source, sitting__batch=copy).count() == 0

    copy.delete()
    assert Sitting.objects.filter(batch=source).count() == 2
    assert SiteCapacity.objects.filter(site__batch=source).count() == 2


def test_copy_refuses_a_code_already_used_in_the_programme(source, admin_user):
    before = Batch.objects.count()
    with pytest.raises(KaowuError) as caught:
        services.batch_copy(actor=admin_user, source=source, code="2024", name="又一个", year=2025)
    assert caught.value.code == "catalog.batch_code_taken"
    assert caught.value.field == "code"
    assert caught.value.message == "本项目已有代码为“2024”的批次，请换一个代码。"
    assert Batch.objects.count() == before


def test_copy_writes_an_audit_row(source, admin_user):
    copy = services.batch_copy(actor=admin_user, source=source, code="2025", name="2025 年", year=2025)
    entry = AuditEntry.objects.get(action="catalog.batch.copied")
    assert (entry.actor, entry.object_type, entry.object_id) == (admin_user, "catalog.batch", str(copy.pk))
    assert entry.before == {"source": "2024", "source_year": 2024}
    assert entry.after["sittings"] == 2
    assert entry.after["sites"] == 1
    assert entry.after["positions"] == 1
    assert entry.after["windows"]["register"] == ["2025-02-20T09:00:00+08:00", "2025-02-28T17:00:00+08:00"]


def test_copy_of_an_empty_batch(admin_user, programme):
    empty = services.batch_create(actor=admin_user, programme=programme, code="e24", name="空批次", year=2024)
    copy = services.batch_copy(actor=admin_user, source=empty, code="e25", name="空批次 2025", year=2025)
    assert (copy.windows.count(), copy.sittings.count(), copy.sites.count(), copy.positions.count()) == (0, 0, 0, 0)
