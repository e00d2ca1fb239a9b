"""CAT-5: versioned notices; a candidate's acceptance points at exactly the version they read."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kaowu.accounts.models import User
from kaowu.catalog import services
from kaowu.catalog.models import (
    NoticeAcceptance,
    NoticeKind,
    NoticeVersion,
    Organisation,
    OrganisationKind,
    PaymentStage,
    Programme,
    ProgrammeKind,
)
from kaowu.catalog.selectors import notice_current
from kaowu.core.context import reset_current_ip, set_current_ip
from kaowu.core.errors import KaowuError
from kaowu.core.models import AuditEntry

K = NoticeKind


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_user(username="catadmin", password="x", is_staff=True, real_name="配置员")


def make_programme(code: str) -> Programme:
    owner = Organisation.objects.create(name=f"主办机构 {code}", kind=OrganisationKind.NATIONAL)
    return Programme.objects.create(
        owner=owner, code=code, name=code, kind=ProgrammeKind.EXAM, payment_stage=PaymentStage.AFTER_REVIEW
    )


@pytest.fixture
def programme(db) -> Programme:
    return make_programme("auctioneer")


def publish(actor, programme, kind=K.EXAM_INSTRUCTIONS, title="报考须知", body="请如实填写报名信息。"):
    return services.notice_publish(actor=actor, programme=programme, kind=kind, title=title, body=body)


@pytest.fixture
def client_ip():
    token = set_current_ip("203.0.113.7")
    yield "203.0.113.7"
    reset_current_ip(token)


def test_versions_count_per_programme_and_kind(admin_user, programme):
    other = make_programme("ccaa")
    first = publish(admin_user, programme)
    second = publish(admin_user, programme, body="第二版正文")
    commitment = publish(admin_user, programme, kind=K.COMMITMENT_LETTER, title="承诺书")
    elsewhere = publish(admin_user, other)
    assert (first.version, second.version, commitment.version, elsewhere.version) == (1, 2, 1, 1)
    assert first.published_by == admin_user
    assert first.published_at <= second.published_at <= timezone.now()


def test_platform_wide_notices_have_their_own_numbering(admin_user, programme):
    publish(admin_user, programme, kind=K.USER_AGREEMENT)
    publish(admin_user, programme, kind=K.USER_AGREEMENT)
    first = publish(admin_user, None, kind=K.USER_AGREEMENT, title="用户协议")
    second = publish(admin_user, None, kind=K.USER_AGREEMENT, title="用户协议")
    assert (first.programme, first.version, second.version) == (None, 1, 2)


def test_publishing_strips_and_audits(admin_user, programme):
    notice = publish(admin_user, programme, title="  报考须知  ", body="\n正文\n")
    assert (notice.title, notice.body) == ("报考须知", "正文")
    entry = AuditEntry.objects.get(action="catalog.notice.published")
    assert (entry.actor, entry.object_id) == (admin_user, str(notice.pk))
    assert entry.after == {"programme": "auctioneer", "kind": K.EXAM_INSTRUCTIONS, "version": 1, "title": "报考须知"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"title": " "}, "title"), ({"body": ""}, "body"), ({"kind": "menu"}, "kind")],
)
def test_publishing_refuses_empty_text_or_unknown_kind(admin_user, programme, kwargs, field):
    arguments = {
        "actor": admin_user,
        "programme": programme,
        "kind": K.EXAM_INSTRUCTIONS,
        "title": "须知",
        "body": "正文",
    }
    with pytest.raises(KaowuError) as caught:
        services.notice_publish(**(arguments | kwargs))
    assert caught.value.field == field
    assert not NoticeVersion.objects.exists()


def test_a_numbering_collision_is_retried_once(admin_user, programme, monkeypatch):
    publish(admin_user, programme)
    real = services._next_notice_version
    answers = iter([1])  # as if another publisher's version 1 had not been visible yet

    monkeypatch.setattr(services, "_next_notice_version", lambda p, k: next(answers, None) or real(p, k))
    assert publish(admin_user, programme).version == 2


def test_a_repeated_numbering_collision_is_refused(admin_user, programme, monkeypatch):
    publish(admin_user, programme)
    monkeypatch.setattr(services, "_next_notice_version", lambda p, k: 1)
    with pytest.raises(KaowuError) as caught:
        publish(admin_user, programme)
    assert caught.value.code == "catalog.notice_conflict"
    assert caught.value.status == 409
    assert NoticeVersion.objects.count() == 1
    assert AuditEntry.objects.filter(action="catalog.notice.published").count() == 1


def test_notice_current_is_the_latest_version(admin_user, programme):
    assert notice_current(programme, K.EXAM_INSTRUCTIONS) is None
    publish(admin_user, programme)
    second = publish(admin_user, programme, body="第二版")
    platform = publish(admin_user, None, kind=K.EXAM_INSTRUCTIONS)
    assert notice_current(programme, K.EXAM_INSTRUCTIONS) == second
    assert notice_current(None, K.EXAM_INSTRUCTIONS) == platform
    assert notice_current(programme, K.COMMITMENT_LETTER) is None


def test_acceptance_records_version_time_and_ip(admin_user, programme, candidate_a, client_ip):
    notice = publish(admin_user, programme)
    acceptance = services.notice_accept(user=candidate_a, notice=notice)
    assert (acceptance.user, acceptance.notice, acceptance.ip) == (candidate_a, notice, client_ip)
    assert abs((timezone.now() - acceptance.accepted_at).total_seconds()) < 5
    entry = AuditEntry.objects.get(action="catalog.notice.accepted", object_id=str(acceptance.pk))
    assert (entry.actor, entry.ip, entry.after["version"]) == (candidate_a, client_ip, 1)


def test_acceptance_of_v1_still_shows_v1_after_v2(admin_user, programme, candidate_a):
    v1 = publish(admin_user, programme, body="第一版：考试时请携带身份证。")
    acceptance = services.notice_accept(user=candidate_a, notice=v1)
    publish(admin_user, programme, body="第二版：考试时请携带身份证和准考证。")

    stored = NoticeAcceptance.objects.select_related("notice").get(pk=acceptance.pk)
    assert stored.notice.version == 1
    assert stored.notice.body == "第一版：考试时请携带身份证。"
    assert notice_current(programme, K.EXAM_INSTRUCTIONS).version == 2


def test_an_outdated_version_cannot_be_accepted(admin_user, programme, candidate_a):
    v1 = publish(admin_user, programme)
    publish(admin_user, programme, body="第二版")
    with pytest.raises(KaowuError) as caught:
        services.notice_accept(user=candidate_a, notice=v1)
    assert caught.value.code == "catalog.notice_outdated"
    assert caught.value.status == 409
    assert caught.value.message == "《报考须知》已发布新版本，请阅读新版本后再确认。"
    assert not NoticeAcceptance.objects.filter(notice__programme=programme).exists()
