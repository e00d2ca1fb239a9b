"""CAT-8: ``python manage.py seed_demo`` configures all five seed programmes, idempotently."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from kaowu.accounts.models import User
from kaowu.backoffice.models import RoleKind, StaffRole
from kaowu.backoffice.permissions import managed_programmes, programmes_for
from kaowu.catalog import demo
from kaowu.catalog.models import (
    Batch,
    FlowStep,
    NoticeKind,
    NoticeVersion,
    Organisation,
    OrganisationKind,
    PaymentStage,
    Programme,
    ProgrammeKind,
    ResubmissionRestart,
    ReviewLevel,
    Subject,
    VerificationMode,
    WindowAction,
)
from kaowu.catalog.selectors import open_batches
from kaowu.catalog.services import batch_is_open
from kaowu.core.models import AuditEntry

pytestmark = pytest.mark.django_db

F = FlowStep
PROVINCE_ONLINE = (ReviewLevel.PROVINCE, VerificationMode.ONLINE)
NATION_ONLINE = (ReviewLevel.NATION, VerificationMode.ONLINE)

# code: (owner kind, kind, flow, review chain, payment stage)
EXPECTED = {
    demo.AUCTIONEER_EXAM: (
        OrganisationKind.NATIONAL,
        ProgrammeKind.EXAM,
        [F.COMMITMENT, F.CANDIDATE_TYPE, F.PERSONAL, F.SUBJECTS, F.PROOFS, F.CONFIRM],
        [PROVINCE_ONLINE, NATION_ONLINE],
        PaymentStage.AFTER_REVIEW,
    ),
    demo.AUCTIONEER_REGISTRATION: (
        OrganisationKind.NATIONAL,
        ProgrammeKind.PRACTISING_REGISTRATION,
        [F.PERSONAL, F.PRACTICE, F.PROOFS, F.CONFIRM],
        [(ReviewLevel.COMPANY, VerificationMode.ONLINE), PROVINCE_ONLINE, NATION_ONLINE],
        PaymentStage.BEFORE_REVIEW,
    ),
    demo.ECONOMIST_EXAM: (
        OrganisationKind.NATIONAL,
        ProgrammeKind.EXAM,
        [F.PERSONAL, F.REVIEW_POINT, F.COMMITMENT, F.SUBJECTS, F.PROOFS, F.CONFIRM],
        [(ReviewLevel.REVIEW_POINT, VerificationMode.AUTO)],
        PaymentStage.AFTER_REVIEW,
    ),
    demo.RECRUITMENT_EXAM: (
        OrganisationKind.PROVINCIAL,
        ProgrammeKind.EXAM,
        [F.PERSONAL, F.SITE, F.POSITION, F.CONFIRM],
        [(ReviewLevel.REVIEW_POINT, VerificationMode.ON_SITE)],
        PaymentStage.ON_SITE,
    ),
    demo.CCAA_EXAM: (
        OrganisationKind.NATIONAL,
        ProgrammeKind.EXAM,
        [F.COMMITMENT, F.PERSONAL, F.INVOICE, F.SUBJECTS, F.SITE, F.CONFIRM],
        [],
        PaymentStage.NO_REVIEW,
    ),
}
EXAM_PROGRAMMES = [code for code, expected in EXPECTED.items() if expected[1] == ProgrammeKind.EXAM]


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(db) -> str:
    return _seed()


def _programme(code: str) -> Programme:
    return Programme.objects.select_related("owner").get(code=code)


def _open_batch(programme: Programme) -> Batch:
    """The programme's one batch offered to candidates now (published, registration open)."""
    batches = list(open_batches().filter(programme=programme))
    assert len(batches) == 1, f"{programme.code}: {batches}"
    return batches[0]


@pytest.mark.parametrize("code", list(EXPECTED))
def test_programme_owner_flow_chain_and_payment(seeded, code):
    owner_kind, kind, flow, chain, payment_stage = EXPECTED[code]
    programme = _programme(code)

    assert programme.owner.kind == owner_kind
    assert programme.owner.parent is None
    assert programme.kind == kind
    assert programme.flow == [str(step) for step in flow]
    assert [(s.level, s.mode) for s in programme.review_stages.order_by("position")] == chain
    assert list(programme.review_stages.order_by("position").values_list("position", flat=True)) == list(
        range(1, len(chain) + 1)
    )
    assert programme.payment_stage == payment_stage
    assert programme.is_active
    assert programme.description
    assert programme.consultation_phone


@pytest.mark.parametrize("code", list(EXPECTED))
def test_batch_is_published_with_windows_open_now_and_exam_later(seeded, code):
    batch = _open_batch(_programme(code))
    windows = {w.action: w for w in batch.windows.all()}
    now = timezone.now()

    for action in (WindowAction.REGISTER, WindowAction.MODIFY, WindowAction.PAY):
        assert batch_is_open(batch, action), action
    if EXPECTED[code][3]:  # a review chain
        assert batch_is_open(batch, WindowAction.REVIEW)
    if code == demo.AUCTIONEER_REGISTRATION:
        assert set(windows) == {WindowAction.REGISTER, WindowAction.MODIFY, WindowAction.REVIEW, WindowAction.PAY}
        return
    for action in (WindowAction.TICKET, WindowAction.EXAM, WindowAction.SCORES):
        assert windows[action].opens_at > now, action
    assert windows[WindowAction.TICKET].opens_at >= windows[WindowAction.REGISTER].closes_at
    assert windows[WindowAction.EXAM].opens_at >= windows[WindowAction.REGISTER].closes_at
    assert windows[WindowAction.SCORES].opens_at >= windows[WindowAction.EXAM].closes_at
    # every sitting lies inside the exam window
    for sitting in batch.sittings.all():
        assert windows[WindowAction.EXAM].opens_at <= sitting.starts_at < sitting.ends_at
        assert sitting.ends_at <= windows[WindowAction.EXAM].closes_at


@pytest.mark.parametrize("code", [c for c, e in EXPECTED.items() if F.SUBJECTS in e[2]])
def test_subjects_have_fees_and_each_sits_in_exactly_one_sitting(seeded, code):
    programme = _programme(code)
    batch = _open_batch(programme)
    subjects = list(programme.subjects.all())

    assert subjects
    assert all(s.fee_fen > 0 for s in subjects)
    assert batch.sittings.count() >= 2
    placements = Counter(s.pk for sitting in batch.sittings.all() for s in sitting.subjects.all())
    assert placements == Counter({s.pk: 1 for s in subjects})


@pytest.mark.parametrize("code", [c for c, e in EXPECTED.items() if F.SITE in e[2]])
def test_sites_have_capacity_at_every_sitting(seeded, code):
    batch = _open_batch(_programme(code))
    sittings = set(batch.sittings.values_list("pk", flat=True))
    sites = list(batch.sites.select_related("region").prefetch_related("capacities"))

    assert len(sites) >= 3
    assert len({site.region_id for site in sites}) >= 3
    for site in sites:
        assert site.address
        assert {c.sitting_id for c in site.capacities.all()} == sittings
        assert all(c.capacity > 0 for c in site.capacities.all())


def test_auctioneer_exam_has_three_written_subjects_and_hosting_retakes(seeded):
    programme = _programme(demo.AUCTIONEER_EXAM)

    assert programme.resubmission_restart == ResubmissionRestart.FIRST_LEVEL
    assert programme.allows_retake
    written = programme.subjects.filter(is_practical=False)
    assert sorted(written.values_list("name", flat=True)) == sorted(["拍卖通论", "拍卖法律法规", "拍卖实务"])
    assert list(programme.subjects.filter(is_practical=True).values_list("name", flat=True)) == ["主持与技巧"]
    level = programme.levels.get()
    assert set(level.subjects.all()) == set(programme.subjects.all())
    assert level.rules.filter(full_time_students_need_certificate=True).exists()
    owner = programme.owner
    provinces = owner.children.filter(kind=OrganisationKind.PROVINCIAL)
    assert {"北京市拍卖行业协会", "江苏省拍卖行业协会", "上海市拍卖行业协会"} <= set(
        provinces.values_list("name", flat=True)
    )
    assert Organisation.objects.filter(kind=OrganisationKind.COMPANY, path__startswith=owner.path).count() >= 3


def test_practising_registration_has_fee_items_yearly_batch_and_company_in_preparation(seeded):
    programme = _programme(demo.AUCTIONEER_REGISTRATION)

    assert programme.membership_fee_fen == 100000  # seed 001: 入会会费 总价 1000.0
    assert programme.registration_fee_fen > 0
    assert not programme.subjects.exists()  # fees, not subjects (PAY-1, PAY-5)
    batch = _open_batch(programme)
    assert batch.name == f"{batch.year}年度拍卖师执业注册"
    assert batch.year == timezone.localdate().year + 1
    assert Organisation.objects.filter(
        kind=OrganisationKind.COMPANY, in_preparation=True, path__startswith=programme.owner.path
    ).exists()


def test_personnel_exam_has_levels_specialties_rules_and_review_points(seeded):
    programme = _programme(demo.ECONOMIST_EXAM)

    assert list(programme.levels.values_list("name", flat=True)) == ["初级", "中级", "高级"]
    for level in programme.levels.all():
        assert level.subjects.exists()
        assert level.specialties.count() >= 2
        for specialty in level.specialties.all():
            assert specialty.subjects.exists()
            assert set(specialty.subjects.all()) <= set(level.subjects.all())
        assert level.rules.exists()
    rules = [rule for level in programme.levels.all() for rule in level.rules.all()]
    assert any(r.min_education for r in rules)
    assert any(r.min_degree for r in rules)
    assert any(r.min_work_years for r in rules)
    assert any(r.allowed_majors for r in rules)
    assert any(r.specialty_id for r in rules)
    assert "自动核验" in programme.description and "现场核验" in programme.description

    points = Organisation.objects.filter(kind=OrganisationKind.REVIEW_POINT, path__startswith=programme.owner.path)
    assert points.count() >= 2
    for point in points:
        assert point.parent.kind == OrganisationKind.PROVINCIAL
        assert point.address and point.phone and point.office_hours and point.region_id


def test_recruitment_exam_has_positions_and_review_points_for_its_sites(seeded):
    programme = _programme(demo.RECRUITMENT_EXAM)
    batch = _open_batch(programme)

    positions = list(batch.positions.all())
    assert len(positions) >= 3
    for position in positions:
        assert position.code and position.name and position.unit and position.requirements
        assert position.posts >= 1
    points = Organisation.objects.filter(kind=OrganisationKind.REVIEW_POINT, parent=programme.owner)
    assert set(batch.sites.values_list("name", flat=True)) == set(points.values_list("name", flat=True))
    assert all(p.address and p.phone and p.office_hours for p in points)
    assert programme.subjects.count() == 1  # the written exam's fee, paid on site


def test_ccaa_exam_subjects_cost_80_yuan_one_per_sitting_with_refund_and_change_site(seeded):
    programme = _programme(demo.CCAA_EXAM)
    batch = _open_batch(programme)

    assert programme.subjects.get(name="服务认证基础").fee_fen == 8000
    assert set(programme.subjects.values_list("fee_fen", flat=True)) == {8000}
    assert {"认证通用基础", "管理体系认证基础", "产品认证基础"} <= set(
        programme.subjects.values_list("name", flat=True)
    )
    assert batch.sittings.count() >= 2
    term = "一" if batch.code.endswith("-1") else "二"
    assert batch.name == f"{batch.year}年第{term}期中国认证认可协会认证人员注册全国统一考试"
    assert batch_is_open(batch, WindowAction.REFUND)
    assert batch_is_open(batch, WindowAction.CHANGE_SITE)
    exam = batch.windows.get(action=WindowAction.EXAM)
    for action in (WindowAction.REFUND, WindowAction.CHANGE_SITE):
        assert batch.windows.get(action=action).closes_at <= exam.opens_at


@pytest.mark.parametrize("code", EXAM_PROGRAMMES)
def test_exam_programmes_publish_instructions_and_commitment(seeded, code):
    programme = _programme(code)
    for kind in (NoticeKind.EXAM_INSTRUCTIONS, NoticeKind.COMMITMENT_LETTER):
        notice = NoticeVersion.objects.get(programme=programme, kind=kind)
        assert notice.version == 1
        assert notice.title
        assert notice.body.count("\n\n") >= 3  # several paragraphs


def test_platform_notices_and_registration_instructions(seeded):
    for kind in (NoticeKind.USER_AGREEMENT, NoticeKind.REGISTRATION_NOTICE):
        assert NoticeVersion.objects.filter(programme=None, kind=kind).count() == 1
    registration = _programme(demo.AUCTIONEER_REGISTRATION)
    assert "45" in NoticeVersion.objects.get(programme=registration, kind=NoticeKind.EXAM_INSTRUCTIONS).body


def test_one_staff_account_per_role_with_the_printed_password(seeded):
    roles = StaffRole.objects.select_related("user", "organisation")

    assert set(roles.values_list("role", flat=True)) == set(RoleKind.values)
    for role in roles:
        assert role.user.is_staff and role.user.is_active and not role.user.is_superuser
        assert role.user.check_password(demo.STAFF_PASSWORD)
    assert roles.values("user").distinct().count() == roles.count()  # one role per demo staff account


def test_staff_scopes_cover_their_programmes(seeded):
    def user(username):
        return User.objects.get(username=username)

    def codes(queryset):
        return set(queryset.values_list("code", flat=True))

    assert codes(managed_programmes(user("caa_admin"))) == {demo.AUCTIONEER_EXAM, demo.AUCTIONEER_REGISTRATION}
    assert codes(managed_programmes(user("cpta_admin"))) == {demo.ECONOMIST_EXAM}
    assert codes(managed_programmes(user("js_exam_admin"))) == {demo.RECRUITMENT_EXAM}
    assert codes(managed_programmes(user("ccaa_admin"))) == {demo.CCAA_EXAM}
    assert codes(programmes_for(user("js_caa_province"))) == {demo.AUCTIONEER_EXAM, demo.AUCTIONEER_REGISTRATION}
    assert demo.AUCTIONEER_REGISTRATION in codes(programmes_for(user("js_caa_company")))
    assert codes(programmes_for(user("js_cpta_point"))) == {demo.ECONOMIST_EXAM}
    assert codes(programmes_for(user("js_exam_point"))) == {demo.RECRUITMENT_EXAM}
    assert codes(programmes_for(user("ccaa_finance"))) == {demo.CCAA_EXAM}
    assert codes(programmes_for(user("sysadmin"))) == set(EXPECTED)


def test_batches_are_published_through_the_service(seeded):
    batches = Batch.objects.all()
    assert batches and all(batch.is_published for batch in batches)
    published = AuditEntry.objects.filter(action="catalog.batch.published", actor=None)
    assert set(published.values_list("object_id", flat=True)) == {str(batch.pk) for batch in batches}


def test_output_lists_every_staff_login(seeded):
    assert demo.STAFF_PASSWORD in seeded
    for role in StaffRole.objects.select_related("user", "organisation"):
        line = next(line for line in seeded.splitlines() if line.split()[:1] == [role.user.username])
        assert str(role.get_role_display()) in line
        assert role.organisation.name in line
    assert "zhangwei" in seeded  # the candidate logins are still printed


def _snapshot() -> dict[str, list[dict]]:
    models = [
        *apps.get_app_config("catalog").get_models(include_auto_created=True),
        *apps.get_app_config("backoffice").get_models(include_auto_created=True),
        User,
        AuditEntry,
    ]
    return {m._meta.label: sorted(m.objects.values(), key=lambda row: str(row.get("id", row))) for m in models}


def test_second_run_creates_and_changes_nothing(seeded):
    before = _snapshot()
    assert len(before["catalog.Programme"]) == 5

    output = _seed()

    assert _snapshot() == before
    assert "caa_admin" in output


def test_loader_returns_the_logins_it_printed(seeded):
    logins = demo.load_demo_catalogue()

    assert [username for username, _role, _scope in logins] == [
        line.split()[0] for line in seeded.split("Staff logins", 1)[1].splitlines()[1:] if line.strip()
    ]
    assert Subject.objects.filter(programme__code=demo.CCAA_EXAM, name="服务认证基础").count() == 1


def test_demo_candidates_accepted_the_published_platform_notices(seeded):
    from kaowu.accounts.management.commands.seed_demo import DEMO_CANDIDATES
    from kaowu.accounts.models import User
    from kaowu.accounts.services import REGISTRATION_NOTICE_KINDS
    from kaowu.catalog.models import NoticeAcceptance

    for candidate in DEMO_CANDIDATES:
        user = User.objects.get(username=candidate.username)
        kinds = NoticeAcceptance.objects.filter(user=user).values_list("notice__kind", flat=True)
        assert sorted(kinds) == sorted(REGISTRATION_NOTICE_KINDS)
