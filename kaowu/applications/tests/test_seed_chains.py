"""Each seed's chain end to end through the services (the workflow, not the pages)."""

from __future__ import annotations

import pytest
from django.test import TestCase

from kaowu.accounts import services as account_services
from kaowu.accounts.models import ScanKind
from kaowu.applications import services
from kaowu.applications.models import Application, ReviewStep, SeatHold, StepStatus
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.models import (
    EligibilityRule,
    FlowStep,
    Level,
    Organisation,
    PaymentStage,
    Programme,
    ResubmissionRestart,
    ReviewLevel,
    ReviewStage,
    SiteCapacity,
    VerificationMode,
    WindowAction,
)
from kaowu.catalog.selectors import subjects_for
from kaowu.catalog.services import batch_create, batch_publish
from kaowu.core.errors import KaowuError

from .conftest import PHOTO, fill, submitted

pytestmark = pytest.mark.django_db


def test_seed_004_no_review_goes_to_payment_and_holds_seats(world, cand_a):
    application = submitted(world, demo.CCAA_EXAM, cand_a)
    assert application.status == Status.AWAITING_PAYMENT
    holds = application.seat_holds.count()
    assert holds == application.subjects.count() >= 1
    assert sum(SiteCapacity.objects.filter(site=application.site).values_list("held", flat=True)) == holds


def test_seed_000_province_then_nation_and_national_return_goes_back_to_province(world, cand_a):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    assert application.status == Status.UNDER_REVIEW
    assert application.current_stage.level == ReviewLevel.PROVINCE
    province, nation = world.staff("js_caa_province"), world.staff("caa_nation")
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.review_approve(actor=province, application=application)
    application.refresh_from_db()
    assert application.current_stage.level == ReviewLevel.NATION
    services.review_return(actor=nation, application=application, reason="工作年限证明不清晰")
    application.refresh_from_db()
    assert application.status == Status.RETURNED
    services.application_submit(actor=cand_a, application=application)
    application.refresh_from_db()
    assert application.status == Status.UNDER_REVIEW
    assert application.current_stage.level == ReviewLevel.PROVINCE  # REV-3
    services.review_approve(actor=province, application=application)
    services.review_approve(actor=nation, application=application)
    application.refresh_from_db()
    assert application.status == Status.AWAITING_PAYMENT


def test_seed_002_auto_verification_passes_straight_to_payment(world, cand_a):
    application = submitted(world, demo.ECONOMIST_EXAM, cand_a)
    step = ReviewStep.objects.get(application=application)
    assert step.status == StepStatus.APPROVED and step.reviewer is None
    assert application.status == Status.AWAITING_PAYMENT


def test_seed_003_waits_for_on_site_review_at_the_chosen_point(world, cand_a):
    application = submitted(world, demo.RECRUITMENT_EXAM, cand_a)
    assert application.status == Status.UNDER_REVIEW
    step = ReviewStep.objects.get(application=application)
    assert step.mode == "on_site" and step.organisation == application.site.review_point
    point = world.staff("js_exam_point")
    services.review_approve(actor=point, application=application, on_site=True)
    application.refresh_from_db()
    assert application.status == Status.APPROVED


# --- Seed 000: more of the chain -------------------------------------------------------------------


def _resubmit(candidate, application):
    services.application_submit(actor=candidate, application=application)
    application.refresh_from_db()
    return application


def test_seed_000_province_return_goes_back_to_the_province(world, cand_a):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    province = world.staff("js_caa_province")
    services.review_return(actor=province, application=application, reason="请补充在校证明")
    application.refresh_from_db()
    assert application.status == Status.RETURNED
    returned = ReviewStep.objects.get(application=application, round=1)
    assert (returned.status, returned.reviewer, returned.reason) == (StepStatus.RETURNED, province, "请补充在校证明")
    application = _resubmit(cand_a, application)
    assert (application.status, application.round) == (Status.UNDER_REVIEW, 2)
    assert application.current_stage.level == ReviewLevel.PROVINCE
    assert ReviewStep.objects.get(application=application, round=2).status == StepStatus.PENDING


def test_seed_000_national_return_with_rejecting_level_restart_goes_back_to_the_nation(world, cand_a):
    """REV-3 the other way: a programme configured to restart at the level that returned it."""
    Programme.objects.filter(code=demo.AUCTIONEER_EXAM).update(resubmission_restart=ResubmissionRestart.REJECTING_LEVEL)
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    services.review_approve(actor=world.staff("js_caa_province"), application=application)
    services.review_return(actor=world.staff("caa_nation"), application=application, reason="照片不清晰")
    application = _resubmit(cand_a, application)
    assert application.status == Status.UNDER_REVIEW
    assert application.current_stage.level == ReviewLevel.NATION
    # Round 2 has only the nation's step: the province's approval of round 1 stands.
    assert list(ReviewStep.objects.filter(application=application, round=2).values_list("stage__level", flat=True)) == [
        ReviewLevel.NATION
    ]
    services.review_approve(actor=world.staff("caa_nation"), application=application)
    application.refresh_from_db()
    assert application.status == Status.AWAITING_PAYMENT


def test_seed_000_rejection_is_final(world, cand_a):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    services.review_approve(actor=world.staff("js_caa_province"), application=application)
    services.review_reject(actor=world.staff("caa_nation"), application=application, reason="不符合报名条件")
    application.refresh_from_db()
    assert (application.status, application.current_stage) == (Status.REJECTED, None)
    for action in (services.application_submit, services.application_recall, services.application_withdraw):
        with pytest.raises(KaowuError) as info:
            action(actor=cand_a, application=application)
        assert info.value.code == "applications.transition_not_allowed"


def test_seed_003_rejection_releases_the_seat(world, cand_a):
    application = submitted(world, demo.RECRUITMENT_EXAM, cand_a)
    capacity = SiteCapacity.objects.get(site=application.site)
    assert capacity.held == 1 and application.seat_holds.count() == 1
    services.review_reject(actor=world.staff("js_exam_point"), application=application, reason="学历不符", on_site=True)
    capacity.refresh_from_db()
    assert capacity.held == 0 and not SeatHold.objects.filter(application=application).exists()


# --- Seed 002: the three verification outcomes ------------------------------------------------------


def _economist_draft(world, candidate, *, level="junior", specialty="business", work_years=5, student=False):
    """A seed 002 application with every step done for ``level``/``specialty`` (one subject per sitting)."""
    application = services.application_start(actor=candidate, batch=world.batch(demo.ECONOMIST_EXAM))
    fill(application, candidate)
    level = Level.objects.get(programme=application.programme, code=level)
    specialty = level.specialties.get(code=specialty)
    subjects = list(subjects_for(level, specialty).order_by("position"))
    services.application_choose_subjects(
        actor=candidate,
        application=application,
        level=level,
        specialty=specialty,
        subjects=subjects,
        work_years=work_years,
        is_full_time_student=student,
    )
    application.refresh_from_db()
    return application


def test_seed_002_eligibility_failure_is_verified_on_site_and_decided_on_site(world, cand_a):
    # 中级 needs four years of work; the candidate declares one.
    application = _economist_draft(world, cand_a, level="intermediate", work_years=1)
    assert application.eligibility_status == "fail"
    services.application_confirm_proofs(actor=cand_a, application=application)
    services.application_submit(actor=cand_a, application=application)
    application.refresh_from_db()
    step = ReviewStep.objects.get(application=application)
    assert (application.status, step.mode, application.verification_mode) == (
        Status.UNDER_REVIEW,
        VerificationMode.ON_SITE,
        VerificationMode.ON_SITE,
    )
    assert step.organisation == application.review_point
    point = world.staff("js_cpta_point")
    with pytest.raises(KaowuError) as info:
        services.review_approve(actor=point, application=application)
    assert info.value.code == "applications.needs_on_site"
    services.review_approve(actor=point, application=application, on_site=True, reason="原件核验通过")
    application.refresh_from_db()
    assert application.status == Status.AWAITING_PAYMENT


def test_seed_002_needs_proof_goes_to_online_review(world, cand_a):
    junior = Level.objects.get(programme=world.programmes[demo.ECONOMIST_EXAM], code="junior")
    # Eligibility rules are catalogue configuration without a service yet: one asking students for a proof.
    EligibilityRule.objects.create(
        level=junior, description="在校生须上传在校证明", full_time_students_need_certificate=True
    )
    application = _economist_draft(world, cand_a, student=True)
    assert application.eligibility_status == "needs_proof"
    with pytest.raises(KaowuError) as info:
        services.application_confirm_proofs(actor=cand_a, application=application)
    assert info.value.code == "applications.proof_missing"
    scan = account_services.scan_upload(
        actor=cand_a, user=cand_a, kind=ScanKind.OTHER, name="在校证明.jpg", data=PHOTO.read_bytes()
    )
    services.application_attach_proof(actor=cand_a, application=application, scan=scan)
    services.application_confirm_proofs(actor=cand_a, application=application)
    services.application_submit(actor=cand_a, application=application)
    application.refresh_from_db()
    step = ReviewStep.objects.get(application=application)
    assert (application.status, step.mode) == (Status.UNDER_REVIEW, VerificationMode.ONLINE)
    assert any("证明" in reason for reason in application.verification_reasons)
    services.review_approve(actor=world.staff("js_cpta_point"), application=application)
    application.refresh_from_db()
    assert application.status == Status.AWAITING_PAYMENT


def test_seed_002_dishonest_candidate_goes_to_online_review(world, cand_a):
    programme = world.programmes[demo.ECONOMIST_EXAM]
    services.dishonest_entry_add(
        actor=world.staff("cpta_admin"),
        programme=programme,
        document_hash=cand_a.candidate_profile.doc_number_hash,
        document_masked=cand_a.candidate_profile.doc_number_masked,
        name=cand_a.real_name,
        reason="以不正当手段取得资格证书",
    )
    application = _economist_draft(world, cand_a)
    services.application_confirm_proofs(actor=cand_a, application=application)
    services.application_confirm_dishonest(actor=cand_a, application=application)
    services.application_submit(actor=cand_a, application=application)
    application.refresh_from_db()
    step = ReviewStep.objects.get(application=application)
    assert (application.is_dishonest, step.mode) == (True, VerificationMode.ONLINE)


# --- Practising registration (seed 001's chain): company → province → nation -----------------------


def _registration_programme(world, restart: str) -> Programme:
    """Like the demo's caa-auctioneer-registration, but without the ``practice`` step (not built yet) and
    paid after review, so its whole review chain can be walked."""
    demo_programme = world.programmes[demo.AUCTIONEER_REGISTRATION]
    programme = Programme.objects.create(
        owner=demo_programme.owner,
        code="caa-registration-test",
        name="拍卖师执业注册（测试）",
        kind=demo_programme.kind,
        flow=[FlowStep.PERSONAL, FlowStep.PROOFS, FlowStep.CONFIRM],
        payment_stage=PaymentStage.AFTER_REVIEW,
        resubmission_restart=restart,
    )
    for position, level in enumerate((ReviewLevel.COMPANY, ReviewLevel.PROVINCE, ReviewLevel.NATION), start=1):
        ReviewStage.objects.create(programme=programme, position=position, level=level, mode=VerificationMode.ONLINE)
    schedule = demo.Schedule.from_now()
    batch = batch_create(
        actor=None,
        programme=programme,
        code="test",
        name="执业注册（测试）",
        year=schedule.today.year + 1,
        windows=[schedule.window(a) for a in (WindowAction.REGISTER, WindowAction.MODIFY, WindowAction.REVIEW)],
    )
    batch_publish(actor=None, batch=batch)
    return programme


def _registration_submitted(world, candidate, programme):
    application = services.application_start(actor=candidate, batch=programme.batches.get())
    fill(application, candidate)
    # There is no service for choosing one's company yet (it arrives with the practising-registration
    # steps): set the field directly.
    Application.objects.filter(pk=application.pk).update(company=Organisation.objects.get(name="江苏金陵拍卖有限公司"))
    services.application_submit(actor=candidate, application=application)
    application.refresh_from_db()
    return application


@pytest.mark.parametrize(
    ("restart", "restart_level"),
    [(ResubmissionRestart.FIRST_LEVEL, ReviewLevel.COMPANY), (ResubmissionRestart.REJECTING_LEVEL, ReviewLevel.NATION)],
)
def test_practising_registration_company_province_nation(world, cand_a, restart, restart_level):
    programme = _registration_programme(world, restart)
    application = _registration_submitted(world, cand_a, programme)
    company, province, nation = (world.staff(u) for u in ("js_caa_company", "js_caa_province", "caa_nation"))
    chain = [(company, ReviewLevel.COMPANY), (province, ReviewLevel.PROVINCE), (nation, ReviewLevel.NATION)]
    for reviewer, level in chain:
        assert (application.status, application.current_stage.level) == (Status.UNDER_REVIEW, level)
        step = ReviewStep.objects.get(application=application, round=1, stage__level=level)
        assert (
            step.organisation.name
            == {
                ReviewLevel.COMPANY: "江苏金陵拍卖有限公司",
                ReviewLevel.PROVINCE: "江苏省拍卖行业协会",
                ReviewLevel.NATION: "中国拍卖行业协会",
            }[level]
        )
        # Only the reviewer of this level may decide it.
        for other, _level in chain:
            if other != reviewer:
                with pytest.raises(KaowuError):
                    services.review_approve(actor=other, application=application)
        if level == ReviewLevel.NATION:
            break
        services.review_approve(actor=reviewer, application=application)
        application.refresh_from_db()
    services.review_return(actor=nation, application=application, reason="执业记录不完整")
    application = _resubmit(cand_a, application)
    assert (application.status, application.current_stage.level) == (Status.UNDER_REVIEW, restart_level)
    for reviewer, level in chain:
        if ReviewStep.objects.filter(application=application, round=2, stage__level=level).exists():
            services.review_approve(actor=reviewer, application=application)
    application.refresh_from_db()
    assert application.status == Status.AWAITING_PAYMENT
    assert [t.to_status for t in application.transitions.all()][-1] == Status.AWAITING_PAYMENT
