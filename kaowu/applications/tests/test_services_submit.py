"""Starting an application (APP-1, APP-2), what submission checks (notices, 失信 list, photo, steps), and
how the verifier decides auto / online / on-site (APP-4), including a plugged-in verifier."""

from __future__ import annotations

from datetime import date

import pytest

from kaowu.accounts.models import Photo
from kaowu.applications import services
from kaowu.applications.models import ApplicationKind, ReviewStep
from kaowu.applications.selectors import QueueFilters, get_application_for_reviewer, review_queue
from kaowu.applications.verification import RuleBasedVerifier, VerificationOutcome
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.models import FlowStep, NoticeKind, Subject, VerificationMode
from kaowu.catalog.services import EligibilityResult, EligibilityStatus, batch_unpublish, notice_publish
from kaowu.conftest import register_candidate
from kaowu.core.errors import KaowuError
from kaowu.results.services import subject_pass_record

from .conftest import fill, submitted, with_photo

pytestmark = pytest.mark.django_db


def start_refused(actor, batch, code: str, **kwargs) -> None:
    before = batch.applications.count()
    with pytest.raises(KaowuError) as info:
        services.application_start(actor=actor, batch=batch, **kwargs)
    assert info.value.code == code
    assert batch.applications.count() == before


# --- application_start -----------------------------------------------------------------------------------


def test_start_gives_a_number_and_marks_the_candidate_type(world, cand_a):
    batch = world.batch(demo.AUCTIONEER_EXAM)
    application = services.application_start(actor=cand_a, batch=batch)
    assert application.number == f"{batch.year}{batch.pk:04d}{application.pk:08d}"
    assert (application.status, application.kind) == (Status.DRAFT, ApplicationKind.NEW)
    assert application.completed_steps == [FlowStep.CANDIDATE_TYPE]


def test_start_refusals(world, cand_a):
    batch = world.batch(demo.CCAA_EXAM)
    batch_unpublish(actor=None, batch=batch)
    start_refused(cand_a, batch, "applications.batch_unavailable")
    # The demo's practising registration has a 执业记录 step that is not built yet.
    start_refused(cand_a, world.batch(demo.AUCTIONEER_REGISTRATION), "applications.flow_unsupported")
    start_refused(cand_a, world.batch(demo.CCAA_EXAM), "applications.batch_unavailable")
    # Retakes: only where the programme has them, and only with passes to carry.
    start_refused(cand_a, world.batch(demo.ECONOMIST_EXAM), "applications.no_retake", kind=ApplicationKind.RETAKE)
    start_refused(
        cand_a, world.batch(demo.AUCTIONEER_EXAM), "applications.nothing_to_carry", kind=ApplicationKind.RETAKE
    )
    start_refused(cand_a, world.batch(demo.AUCTIONEER_EXAM), "applications.bad_kind", kind="vip")
    start_refused(world.staff("caa_nation"), world.batch(demo.AUCTIONEER_EXAM), "applications.not_candidate")


def test_retake_with_a_pass_to_carry(world, cand_a):
    batch = world.batch(demo.AUCTIONEER_EXAM)
    subject = Subject.objects.get(programme=batch.programme, code="A01")
    subject_pass_record(actor=world.staff("caa_admin"), candidate=cand_a, subject=subject, year=batch.year - 1)
    application = services.application_start(actor=cand_a, batch=batch, kind=ApplicationKind.RETAKE)
    assert application.kind == ApplicationKind.RETAKE


def test_one_live_application_per_batch_and_a_new_one_after_withdrawal(world, cand_a):
    batch = world.batch(demo.AUCTIONEER_EXAM)
    first = services.application_start(actor=cand_a, batch=batch)
    start_refused(cand_a, batch, "applications.already_applied")
    services.application_withdraw(actor=cand_a, application=first)
    second = services.application_start(actor=cand_a, batch=batch)
    assert second.pk != first.pk and second.number != first.number
    assert batch.applications.filter(candidate=cand_a, status=Status.WITHDRAWN).get() == first


# --- What submission checks ----------------------------------------------------------------------------


def test_submit_needs_every_step_and_a_photo(world, cand_a, candidate_b):
    application = services.application_start(actor=cand_a, batch=world.batch(demo.ECONOMIST_EXAM))
    with pytest.raises(KaowuError) as info:
        services.application_submit(actor=cand_a, application=application)
    assert info.value.code == "applications.incomplete" and "确认个人信息" in info.value.message
    no_photo = services.application_start(actor=candidate_b, batch=world.batch(demo.ECONOMIST_EXAM))
    fill(no_photo, candidate_b)
    assert not Photo.objects.filter(user=candidate_b).exists()
    with pytest.raises(KaowuError) as info:
        services.application_submit(actor=candidate_b, application=no_photo)
    assert info.value.code == "applications.photo_missing"
    no_photo.refresh_from_db()
    assert (no_photo.status, no_photo.round) == (Status.DRAFT, 0)


def test_an_updated_notice_must_be_accepted_again(world, cand_a):
    application = fill(services.application_start(actor=cand_a, batch=world.batch(demo.ECONOMIST_EXAM)), cand_a)
    notice_publish(
        actor=world.staff("cpta_admin"),
        programme=application.programme,
        kind=NoticeKind.EXAM_INSTRUCTIONS,
        title="经济专业技术资格考试报考须知（修订）",
        body="修订后的报考须知。",
    )
    with pytest.raises(KaowuError) as info:
        services.application_submit(actor=cand_a, application=application)
    assert info.value.code == "applications.notice_outdated" and "修订" in info.value.message
    application.refresh_from_db()
    assert application.status == Status.DRAFT
    # The step is open again, so the candidate is led back to it.
    assert FlowStep.COMMITMENT not in application.completed_steps
    services.application_accept_commitment(actor=cand_a, application=application)
    services.application_submit(actor=cand_a, application=application)
    application.refresh_from_db()
    assert application.status == Status.AWAITING_PAYMENT


def _list_as_dishonest(world, candidate, code=demo.ECONOMIST_EXAM):
    profile = candidate.candidate_profile
    return services.dishonest_entry_add(
        actor=world.staff("cpta_admin"),
        programme=world.programmes[code],
        document_hash=profile.doc_number_hash,
        document_masked=profile.doc_number_masked,
        name=candidate.real_name,
        reason="考试作弊",
    )


def test_a_dishonest_candidate_confirms_first_and_the_reviewer_sees_the_flag(world, cand_a, cand_b):
    _list_as_dishonest(world, cand_a)
    application = fill(services.application_start(actor=cand_a, batch=world.batch(demo.ECONOMIST_EXAM)), cand_a)
    assert application.is_dishonest
    with pytest.raises(KaowuError) as info:
        services.application_submit(actor=cand_a, application=application)
    assert info.value.code == "applications.dishonest_unconfirmed"
    application.refresh_from_db()
    assert (application.status, application.dishonest_confirmed_at) == (Status.DRAFT, None)
    services.application_confirm_dishonest(actor=cand_a, application=application)
    services.application_submit(actor=cand_a, application=application)
    application.refresh_from_db()
    step = ReviewStep.objects.get(application=application)
    assert (application.status, step.mode) == (Status.UNDER_REVIEW, VerificationMode.ONLINE)
    assert any("失信" in reason for reason in application.verification_reasons)

    point = world.staff("js_cpta_point")
    assert list(review_queue(point, QueueFilters(dishonest=True))) == [step]
    assert get_application_for_reviewer(point, application.pk).is_dishonest

    # Someone not on the list has nothing to confirm.
    other = fill(services.application_start(actor=cand_b, batch=world.batch(demo.ECONOMIST_EXAM)), cand_b)
    with pytest.raises(KaowuError) as info:
        services.application_confirm_dishonest(actor=cand_b, application=other)
    assert info.value.code == "applications.not_dishonest"


def test_being_listed_after_starting_is_caught_at_submission(world, cand_a):
    application = fill(services.application_start(actor=cand_a, batch=world.batch(demo.ECONOMIST_EXAM)), cand_a)
    assert not application.is_dishonest
    _list_as_dishonest(world, cand_a)
    with pytest.raises(KaowuError) as info:
        services.application_submit(actor=cand_a, application=application)
    assert info.value.code == "applications.dishonest_unconfirmed"
    # … and the confirmation it asks for can be given.
    services.application_confirm_dishonest(actor=cand_a, application=application)
    services.application_submit(actor=cand_a, application=application)
    application.refresh_from_db()
    assert (application.is_dishonest, application.status) == (True, Status.UNDER_REVIEW)


# --- Verification (APP-4) --------------------------------------------------------------------------------


def test_rule_based_verifier_outcomes(world, cand_a):
    application = services.application_start(actor=cand_a, batch=world.batch(demo.ECONOMIST_EXAM))
    verifier = RuleBasedVerifier()
    passing = EligibilityResult(EligibilityStatus.PASS, ())
    assert verifier.verify(application, passing).mode == VerificationMode.AUTO
    needs_proof = EligibilityResult(EligibilityStatus.NEEDS_PROOF, ("请上传在校证明。",))
    outcome = verifier.verify(application, needs_proof)
    assert outcome.mode == VerificationMode.ONLINE and "请上传在校证明。" in outcome.reasons
    failing = EligibilityResult(EligibilityStatus.FAIL, ("工作年限不足。",))
    outcome = verifier.verify(application, failing)
    assert outcome.mode == VerificationMode.ON_SITE and "工作年限不足。" in outcome.reasons
    application.is_dishonest = True
    assert verifier.verify(application, passing).mode == VerificationMode.ONLINE
    # Failing eligibility outweighs the list: originals are checked on site.
    assert verifier.verify(application, failing).mode == VerificationMode.ON_SITE


def test_a_passport_holder_is_verified_on_site(world):
    candidate = with_photo(
        register_candidate(doc_type="passport", doc_number="E1234567", gender="M", birth_date=date(1988, 2, 3))
    )
    application = submitted(world, demo.ECONOMIST_EXAM, candidate)
    step = ReviewStep.objects.get(application=application)
    assert (application.status, step.mode) == (Status.UNDER_REVIEW, VerificationMode.ON_SITE)
    assert any("证件类型" in reason for reason in application.verification_reasons)


class OnlineVerifier:
    """A stand-in for a deployment's own verifier (e.g. one asking the national databases)."""

    def verify(self, application, eligibility):
        return VerificationOutcome(VerificationMode.ONLINE, ("学信网核验未返回结果，转线上核验。",))


def test_the_verifier_is_pluggable(world, cand_a, settings):
    settings.KAOWU_VERIFIER = f"{__name__}.OnlineVerifier"
    application = submitted(world, demo.ECONOMIST_EXAM, cand_a)
    step = ReviewStep.objects.get(application=application)
    assert (application.status, step.mode) == (Status.UNDER_REVIEW, VerificationMode.ONLINE)
    assert application.verification_reasons == ["学信网核验未返回结果，转线上核验。"]
