"""CAT-2: batch windows. ``batch_is_open`` is the only window check; edges are exact to the second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from kaowu.accounts.models import User
from kaowu.catalog import services
from kaowu.catalog.models import (
    Batch,
    BatchWindow,
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
SECOND = timedelta(seconds=1)
A = WindowAction


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def spec(action: str, opens: str, closes: str) -> WindowSpec:
    return WindowSpec(action, local(opens), local(closes))


REGISTER = spec(A.REGISTER, "2026-03-01 09:00", "2026-03-10 17:00")
FULL_YEAR = [
    REGISTER,
    spec(A.MODIFY, "2026-03-01 09:00", "2026-03-12 17:00"),
    spec(A.REVIEW, "2026-03-02 09:00", "2026-03-15 17:00"),
    spec(A.PAY, "2026-03-05 09:00", "2026-03-20 17:00"),
    spec(A.REFUND, "2026-03-05 09:00", "2026-04-30 17:00"),
    spec(A.CHANGE_SITE, "2026-03-06 09:00", "2026-04-20 17:00"),
    spec(A.TICKET, "2026-05-10 09:00", "2026-05-18 12:00"),
    spec(A.EXAM, "2026-05-17 08:00", "2026-05-18 17:00"),
    spec(A.SCORES, "2026-06-20 09:00", "2026-12-31 17:00"),
]


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


@pytest.fixture
def batch(admin_user, programme) -> Batch:
    return services.batch_create(
        actor=admin_user, programme=programme, code="2026", name="2026 年拍卖师资格考试", year=2026, windows=FULL_YEAR
    )


# --- batch_is_open ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (REGISTER.opens_at - SECOND, False),
        (REGISTER.opens_at, True),
        (REGISTER.opens_at + SECOND, True),
        (REGISTER.closes_at - SECOND, True),
        (REGISTER.closes_at, False),
        (REGISTER.closes_at + SECOND, False),
    ],
    ids=["opens-1s", "opens", "opens+1s", "closes-1s", "closes", "closes+1s"],
)
def test_batch_is_open_edges_are_exact(batch, moment, expected):
    assert services.batch_is_open(batch, A.REGISTER, moment) is expected


def test_batch_is_open_compares_instants_not_wall_clocks(batch):
    # 09:00 in Shanghai is 01:00 UTC.
    assert services.batch_is_open(batch, A.REGISTER, datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    assert not services.batch_is_open(batch, A.REGISTER, datetime(2026, 3, 1, 0, 59, 59, tzinfo=UTC))


def test_batch_is_open_without_window_is_closed(admin_user, programme):
    bare = services.batch_create(actor=admin_user, programme=programme, code="bare", name="无安排", year=2026)
    assert not services.batch_is_open(bare, A.REGISTER, local("2026-03-05 12:00"))


def test_batch_is_open_defaults_to_now(admin_user, programme):
    now = timezone.now()
    current = services.batch_create(
        actor=admin_user,
        programme=programme,
        code="now",
        name="进行中",
        year=now.year,
        windows=[WindowSpec(A.REGISTER, now - timedelta(hours=1), now + timedelta(hours=1))],
    )
    assert services.batch_is_open(current, A.REGISTER)
    assert not services.batch_is_open(current, A.PAY)


def test_batch_is_open_refuses_naive_datetimes(batch):
    with pytest.raises(ValueError):
        services.batch_is_open(batch, A.REGISTER, datetime(2026, 3, 5, 12, 0))


def test_batch_is_open_uses_prefetched_windows(batch, django_assert_num_queries):
    prefetched = Batch.objects.prefetch_related("windows").get(pk=batch.pk)
    with django_assert_num_queries(0):
        assert services.batch_is_open(prefetched, A.EXAM, local("2026-05-17 09:00"))
        assert not services.batch_is_open(prefetched, A.SCORES, local("2026-05-17 09:00"))


# --- require_window --------------------------------------------------------------------------------


@pytest.mark.parametrize("moment", [REGISTER.opens_at - SECOND, REGISTER.closes_at])
def test_require_window_refuses_outside_with_the_local_times(batch, moment):
    with pytest.raises(KaowuError) as caught:
        services.require_window(batch, A.REGISTER, moment)
    assert caught.value.code == "catalog.window_closed"
    assert caught.value.status == 409
    assert caught.value.message == "报名时间为 2026-03-01 09:00 至 2026-03-10 17:00，当前不在办理时间内。"


def test_require_window_names_the_action(batch):
    with pytest.raises(KaowuError) as caught:
        services.require_window(batch, A.TICKET, local("2026-05-09 12:00"))
    assert caught.value.message == "打印准考证时间为 2026-05-10 09:00 至 2026-05-18 12:00，当前不在办理时间内。"


def test_require_window_passes_inside(batch):
    services.require_window(batch, A.REGISTER, REGISTER.opens_at)
    services.require_window(batch, A.REGISTER, REGISTER.closes_at - SECOND)


def test_require_window_without_window(admin_user, programme):
    bare = services.batch_create(
        actor=admin_user, programme=programme, code="bare", name="无安排", year=2026, windows=[REGISTER]
    )
    with pytest.raises(KaowuError) as caught:
        services.require_window(bare, A.REFUND, local("2026-03-05 12:00"))
    assert caught.value.code == "catalog.window_closed"
    assert caught.value.status == 409
    assert caught.value.message == "本批次未安排该事项。"


# --- batch_windows_validate ------------------------------------------------------------------------


def test_a_full_sensible_year_is_accepted():
    services.batch_windows_validate(FULL_YEAR)


def test_windows_may_touch_at_their_edges():
    services.batch_windows_validate(
        [
            spec(A.REGISTER, "2026-03-01 09:00", "2026-03-10 17:00"),
            spec(A.TICKET, "2026-03-10 17:00", "2026-05-18 17:00"),
            spec(A.EXAM, "2026-03-10 17:00", "2026-05-18 17:00"),
            spec(A.SCORES, "2026-05-18 17:00", "2026-06-01 17:00"),
        ]
    )


def test_rules_about_absent_windows_are_skipped():
    # Scores before the exam would be refused, but there is no exam window to compare with.
    services.batch_windows_validate([REGISTER, spec(A.SCORES, "2026-01-01 09:00", "2026-01-02 09:00")])


OUT_OF_ORDER = [
    pytest.param(
        [REGISTER, spec(A.MODIFY, "2026-02-28 09:00", "2026-03-12 17:00")],
        "“修改报名信息”的开始时间（2026-02-28 09:00）不能早于“报名”的开始时间（2026-03-01 09:00），请调整后再保存。",
        id="modify-opens-before-register",
    ),
    pytest.param(
        [REGISTER, spec(A.REVIEW, "2026-03-01 08:59", "2026-03-15 17:00")],
        "“审核”的开始时间（2026-03-01 08:59）不能早于“报名”的开始时间（2026-03-01 09:00），请调整后再保存。",
        id="review-opens-before-register",
    ),
    pytest.param(
        [REGISTER, spec(A.PAY, "2026-02-01 09:00", "2026-03-20 17:00")],
        "“缴费”的开始时间（2026-02-01 09:00）不能早于“报名”的开始时间（2026-03-01 09:00），请调整后再保存。",
        id="pay-opens-before-register",
    ),
    pytest.param(
        [spec(A.PAY, "2026-03-05 09:00", "2026-03-20 17:00"), spec(A.REFUND, "2026-03-04 09:00", "2026-04-30 17:00")],
        "“退费”的开始时间（2026-03-04 09:00）不能早于“缴费”的开始时间（2026-03-05 09:00），请调整后再保存。",
        id="refund-opens-before-pay",
    ),
    pytest.param(
        [
            spec(A.REFUND, "2026-03-05 09:00", "2026-05-17 10:00"),
            spec(A.EXAM, "2026-05-17 08:00", "2026-05-18 17:00"),
        ],
        "“退费”的结束时间（2026-05-17 10:00）不能晚于“考试”的开始时间（2026-05-17 08:00），请调整后再保存。",
        id="refund-closes-after-exam-opens",
    ),
    pytest.param(
        [
            spec(A.PAY, "2026-03-05 09:00", "2026-03-20 17:00"),
            spec(A.CHANGE_SITE, "2026-03-04 09:00", "2026-04-20 17:00"),
        ],
        "“更换考区/考点”的开始时间（2026-03-04 09:00）不能早于“缴费”的开始时间（2026-03-05 09:00），请调整后再保存。",
        id="change-site-opens-before-pay",
    ),
    pytest.param(
        [
            spec(A.CHANGE_SITE, "2026-03-06 09:00", "2026-05-18 09:00"),
            spec(A.EXAM, "2026-05-17 08:00", "2026-05-18 17:00"),
        ],
        "“更换考区/考点”的结束时间（2026-05-18 09:00）不能晚于“考试”的开始时间（2026-05-17 08:00），请调整后再保存。",
        id="change-site-closes-after-exam-opens",
    ),
    pytest.param(
        [REGISTER, spec(A.TICKET, "2026-03-10 16:59", "2026-05-18 12:00")],
        "“打印准考证”的开始时间（2026-03-10 16:59）不能早于“报名”的结束时间（2026-03-10 17:00），请调整后再保存。",
        id="ticket-opens-before-register-closes",
    ),
    pytest.param(
        [
            spec(A.TICKET, "2026-05-10 09:00", "2026-05-19 09:00"),
            spec(A.EXAM, "2026-05-17 08:00", "2026-05-18 17:00"),
        ],
        "“打印准考证”的结束时间（2026-05-19 09:00）不能晚于“考试”的结束时间（2026-05-18 17:00），请调整后再保存。",
        id="ticket-closes-after-exam-closes",
    ),
    pytest.param(
        [REGISTER, spec(A.EXAM, "2026-03-10 12:00", "2026-05-18 17:00")],
        "“考试”的开始时间（2026-03-10 12:00）不能早于“报名”的结束时间（2026-03-10 17:00），请调整后再保存。",
        id="exam-opens-before-register-closes",
    ),
    pytest.param(
        [
            spec(A.EXAM, "2026-05-17 08:00", "2026-05-18 17:00"),
            spec(A.SCORES, "2026-05-18 12:00", "2026-12-31 17:00"),
        ],
        "“成绩发布”的开始时间（2026-05-18 12:00）不能早于“考试”的结束时间（2026-05-18 17:00），请调整后再保存。",
        id="scores-open-before-exam-closes",
    ),
]


@pytest.mark.parametrize(("windows", "message"), OUT_OF_ORDER)
def test_every_ordering_rule_is_enforced_naming_both_windows(windows, message):
    with pytest.raises(KaowuError) as caught:
        services.batch_windows_validate(windows)
    assert caught.value.code == "catalog.windows_out_of_order"
    assert caught.value.field == "windows"
    assert caught.value.message == message


@pytest.mark.parametrize(("windows", "message"), OUT_OF_ORDER)
def test_every_ordering_rule_is_enforced_within_a_full_year(windows, message):
    # The same mistake among all nine windows is still reported (possibly with an earlier rule first).
    changed = {w.action: w for w in windows}
    full = [changed.get(w.action, w) for w in FULL_YEAR]
    with pytest.raises(KaowuError) as caught:
        services.batch_windows_validate(full)
    assert caught.value.code == "catalog.windows_out_of_order"


@pytest.mark.parametrize("closes", ["2026-03-01 09:00", "2026-02-28 09:00"], ids=["equal", "before"])
def test_a_window_must_open_before_it_closes(closes):
    with pytest.raises(KaowuError) as caught:
        services.batch_windows_validate([spec(A.REGISTER, "2026-03-01 09:00", closes)])
    assert caught.value.code == "catalog.windows_out_of_order"
    assert caught.value.message == (f"“报名”的结束时间（{closes}）须晚于开始时间（2026-03-01 09:00），请调整后再保存。")


def test_an_action_may_have_one_window_only():
    with pytest.raises(KaowuError) as caught:
        services.batch_windows_validate([REGISTER, spec(A.REGISTER, "2026-04-01 09:00", "2026-04-10 17:00")])
    assert caught.value.code == "catalog.windows_out_of_order"
    assert caught.value.message == "“报名”安排了两次，每个事项只能安排一个时间段。"


def test_unknown_action_is_refused():
    with pytest.raises(KaowuError) as caught:
        services.batch_windows_validate([spec("lunch", "2026-03-01 12:00", "2026-03-01 13:00")])
    assert caught.value.field == "windows"


# --- batch_create / batch_set_windows --------------------------------------------------------------


def test_batch_create_writes_windows_and_audit(batch, admin_user):
    assert not batch.is_published
    assert batch.windows.count() == len(FULL_YEAR)
    entry = AuditEntry.objects.get(action="catalog.batch.created", object_id=str(batch.pk))
    assert entry.actor == admin_user
    assert entry.after["windows"]["register"] == ["2026-03-01T09:00:00+08:00", "2026-03-10T17:00:00+08:00"]


def test_batch_create_refuses_bad_windows_and_creates_nothing(admin_user, programme):
    with pytest.raises(KaowuError):
        services.batch_create(
            actor=admin_user,
            programme=programme,
            code="bad",
            name="错误安排",
            year=2026,
            windows=[REGISTER, spec(A.EXAM, "2026-03-02 09:00", "2026-03-03 09:00")],
        )
    assert not Batch.objects.filter(code="bad").exists()


def test_batch_create_refuses_a_duplicate_code(batch, admin_user, programme):
    with pytest.raises(KaowuError) as caught:
        services.batch_create(actor=admin_user, programme=programme, code="2026", name="重复", year=2026)
    assert caught.value.code == "catalog.batch_code_taken"
    assert caught.value.field == "code"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"code": "2026 一期"}, "code"), ({"name": "  "}, "name"), ({"year": 26}, "year")],
)
def test_batch_create_checks_its_fields(admin_user, programme, kwargs, field):
    arguments = {"code": "2027", "name": "2027 年", "year": 2027} | kwargs
    with pytest.raises(KaowuError) as caught:
        services.batch_create(actor=admin_user, programme=programme, **arguments)
    assert caught.value.field == field


def test_batch_set_windows_replaces_all_windows_and_audits(batch, admin_user):
    new = [
        spec(A.REGISTER, "2026-04-01 09:00", "2026-04-10 17:00"),
        spec(A.PAY, "2026-04-01 09:00", "2026-04-12 17:00"),
    ]
    services.batch_set_windows(actor=admin_user, batch=batch, windows=new)
    assert set(batch.windows.values_list("action", flat=True)) == {A.REGISTER, A.PAY}
    assert services.batch_is_open(batch, A.REGISTER, local("2026-04-01 09:00"))
    assert not services.batch_is_open(batch, A.REGISTER, local("2026-03-05 09:00"))
    entry = AuditEntry.objects.get(action="catalog.batch.windows_set", object_id=str(batch.pk))
    assert entry.before["windows"]["register"][0] == "2026-03-01T09:00:00+08:00"
    assert entry.after["windows"]["register"][0] == "2026-04-01T09:00:00+08:00"
    assert "exam" in entry.before["windows"] and "exam" not in entry.after["windows"]


def test_batch_set_windows_refusal_keeps_the_old_windows(batch, admin_user):
    before = list(BatchWindow.objects.filter(batch=batch).values_list("action", "opens_at", "closes_at"))
    with pytest.raises(KaowuError):
        services.batch_set_windows(
            actor=admin_user, batch=batch, windows=[spec(A.REGISTER, "2026-04-10 09:00", "2026-04-01 17:00")]
        )
    assert list(BatchWindow.objects.filter(batch=batch).values_list("action", "opens_at", "closes_at")) == before


# --- open_batches ----------------------------------------------------------------------------------


def test_open_batches_lists_published_batches_in_their_registration_window(batch, admin_user, programme):
    other = services.batch_create(
        actor=admin_user, programme=programme, code="2026b", name="未发布", year=2026, windows=[REGISTER]
    )
    Batch.objects.filter(pk=batch.pk).update(is_published=True)
    assert list(open_batches(REGISTER.opens_at)) == [batch]
    assert list(open_batches(REGISTER.closes_at - SECOND)) == [batch]
    assert list(open_batches(REGISTER.opens_at - SECOND)) == []
    assert list(open_batches(REGISTER.closes_at)) == []
    assert other not in open_batches(REGISTER.opens_at)
    Programme.objects.filter(pk=programme.pk).update(is_active=False)
    assert list(open_batches(REGISTER.opens_at)) == []
