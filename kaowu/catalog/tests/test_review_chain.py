"""CAT-7: a programme's review chain, walked in order, and where a resubmission restarts."""

from __future__ import annotations

import pytest

from kaowu.catalog.models import (
    Organisation,
    OrganisationKind,
    PaymentStage,
    Programme,
    ProgrammeKind,
    ResubmissionRestart,
    ReviewLevel,
    ReviewStage,
    VerificationMode,
)
from kaowu.catalog.selectors import next_review_stage, restart_stage_after_rejection, review_chain


def make_programme(code: str, restart: str = ResubmissionRestart.REJECTING_LEVEL) -> Programme:
    owner = Organisation.objects.create(name=f"主办 {code}", kind=OrganisationKind.NATIONAL)
    return Programme.objects.create(
        owner=owner,
        code=code,
        name=code,
        kind=ProgrammeKind.EXAM,
        payment_stage=PaymentStage.AFTER_REVIEW,
        resubmission_restart=restart,
    )


@pytest.fixture
def auctioneer(db) -> Programme:
    """Seed 000: province (省拍协) then nation (中拍协); a national rejection goes back through the province."""
    programme = make_programme("auctioneer", ResubmissionRestart.FIRST_LEVEL)
    # Created out of order on purpose: the chain is ordered by position, not by insertion.
    ReviewStage.objects.create(programme=programme, position=2, level=ReviewLevel.NATION, mode=VerificationMode.ONLINE)
    ReviewStage.objects.create(
        programme=programme, position=1, level=ReviewLevel.PROVINCE, mode=VerificationMode.ONLINE
    )
    return programme


@pytest.fixture
def three_levels(db) -> Programme:
    programme = make_programme("practising", ResubmissionRestart.REJECTING_LEVEL)
    for position, level, mode in [
        (1, ReviewLevel.COMPANY, VerificationMode.ONLINE),
        (2, ReviewLevel.REVIEW_POINT, VerificationMode.ON_SITE),
        (3, ReviewLevel.PROVINCE, VerificationMode.AUTO),
    ]:
        ReviewStage.objects.create(programme=programme, position=position, level=level, mode=mode)
    return programme


def levels(stages) -> list[str]:
    return [stage.level for stage in stages]


def test_review_chain_is_in_position_order(auctioneer, three_levels):
    assert levels(review_chain(auctioneer)) == [ReviewLevel.PROVINCE, ReviewLevel.NATION]
    assert [(s.level, s.mode) for s in review_chain(three_levels)] == [
        (ReviewLevel.COMPANY, VerificationMode.ONLINE),
        (ReviewLevel.REVIEW_POINT, VerificationMode.ON_SITE),
        (ReviewLevel.PROVINCE, VerificationMode.AUTO),
    ]


def test_first_next_and_last_stage(three_levels):
    first = next_review_stage(three_levels, None)
    second = next_review_stage(three_levels, first)
    third = next_review_stage(three_levels, second)
    assert levels([first, second, third]) == [ReviewLevel.COMPANY, ReviewLevel.REVIEW_POINT, ReviewLevel.PROVINCE]
    assert next_review_stage(three_levels, third) is None


def test_a_programme_without_review(db):
    programme = make_programme("ccaa")
    assert review_chain(programme) == []
    assert next_review_stage(programme, None) is None


def test_first_level_restart_sends_a_national_rejection_back_to_the_province(auctioneer):
    province, nation = review_chain(auctioneer)
    assert restart_stage_after_rejection(auctioneer, nation) == province
    assert restart_stage_after_rejection(auctioneer, province) == province


def test_rejecting_level_restart_resumes_at_the_rejecting_stage(three_levels):
    company, review_point, province = review_chain(three_levels)
    assert restart_stage_after_rejection(three_levels, review_point) == review_point
    assert restart_stage_after_rejection(three_levels, province) == province
    assert restart_stage_after_rejection(three_levels, company) == company


def test_stages_of_another_programme_are_refused(auctioneer, three_levels):
    foreign = review_chain(three_levels)[0]
    with pytest.raises(ValueError):
        next_review_stage(auctioneer, foreign)
    with pytest.raises(ValueError):
        restart_stage_after_rejection(auctioneer, foreign)
