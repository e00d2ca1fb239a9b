"""CAT-6 eligibility rules (pure evaluation) and CAT-3 subject sets per level / specialty."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kaowu.accounts.models import Degree, EducationLevel, StudyMode
from kaowu.catalog.models import (
    EligibilityRule,
    Level,
    Organisation,
    OrganisationKind,
    PaymentStage,
    Programme,
    ProgrammeKind,
    Specialty,
    Subject,
)
from kaowu.catalog.selectors import eligibility_rules_for, subjects_for
from kaowu.catalog.services import EligibilityFacts, EligibilityResult, EligibilityStatus, eligibility_evaluate

E, D = EducationLevel, Degree
PASS, FAIL, NEEDS_PROOF = EligibilityStatus.PASS, EligibilityStatus.FAIL, EligibilityStatus.NEEDS_PROOF


@dataclass(frozen=True)
class Record:
    level: str = E.BACHELOR
    degree: str = D.BACHELOR
    major: str = "法学"
    study_mode: str = StudyMode.FULL_TIME


def facts(*records: Record, work_years: int | None = None, student: bool = False) -> EligibilityFacts:
    return EligibilityFacts(education=records, work_years=work_years, is_full_time_student=student)


def evaluate(facts: EligibilityFacts, **rule_fields) -> EligibilityResult:
    return eligibility_evaluate(rules=[EligibilityRule(**rule_fields)], facts=facts)


# --- Each requirement on its own -------------------------------------------------------------------


def test_no_rules_and_empty_rules_pass():
    assert eligibility_evaluate(rules=[], facts=facts()) == EligibilityResult(PASS, ())
    assert evaluate(facts(Record())) == EligibilityResult(PASS, ())


@pytest.mark.parametrize("level", [E.BACHELOR, E.MASTER, E.DOCTORATE])
def test_min_education_met_by_that_level_or_higher(level):
    assert evaluate(facts(Record(level=level)), min_education=E.BACHELOR).status == PASS


def test_min_education_not_met_names_required_and_highest():
    result = evaluate(
        facts(Record(level=E.HIGH_SCHOOL), Record(level=E.JUNIOR_COLLEGE)),
        min_education=E.BACHELOR,
    )
    assert result == EligibilityResult(FAIL, ("报考该级别须具备大学本科及以上学历，您填写的最高学历为大学专科。",))


def test_min_education_without_any_record():
    result = evaluate(facts(), min_education=E.JUNIOR_COLLEGE)
    assert result == EligibilityResult(FAIL, ("报考该级别须具备大学专科及以上学历，请先填写学历信息。",))


def test_min_degree_met_by_any_record():
    result = evaluate(
        facts(Record(degree=D.NONE), Record(level=E.MASTER, degree=D.MASTER)),
        min_degree=D.BACHELOR,
    )
    assert result.status == PASS


def test_min_degree_not_met():
    result = evaluate(facts(Record(level=E.MASTER, degree=D.BACHELOR)), min_degree=D.MASTER)
    assert result == EligibilityResult(FAIL, ("报考该级别须具备硕士及以上学位，您填写的最高学位为学士。",))


def test_min_degree_without_a_degree():
    result = evaluate(facts(Record(level=E.JUNIOR_COLLEGE, degree=D.NONE)), min_degree=D.BACHELOR)
    assert result == EligibilityResult(FAIL, ("报考该级别须具备学士及以上学位，您填写的学历均无学位。",))


@pytest.mark.parametrize("major", ["法学", "国际经济法学", "经济学", " 法学（双学位） "])
def test_allowed_majors_match_by_keyword_in_any_record(major):
    result = evaluate(facts(Record(major="计算机科学与技术"), Record(major=major)), allowed_majors=["法学", "经济"])
    assert result.status == PASS


def test_allowed_majors_not_matched():
    result = evaluate(facts(Record(major="计算机科学与技术")), allowed_majors=["法学", "经济"])
    assert result == EligibilityResult(
        FAIL, ("报考条件限定所学专业为法学、经济相关专业，您填写的所学专业为计算机科学与技术。",)
    )


def test_allowed_majors_empty_list_is_no_requirement():
    assert evaluate(facts(Record(major="计算机")), allowed_majors=[]).status == PASS


@pytest.mark.parametrize(("years", "status"), [(3, PASS), (10, PASS), (2, FAIL)])
def test_min_work_years(years, status):
    assert evaluate(facts(Record(), work_years=years), min_work_years=3).status == status


def test_min_work_years_short_says_how_many():
    result = evaluate(facts(Record(), work_years=1), min_work_years=3)
    assert result.reasons == ("报考该级别须具备 3 年及以上专业工作年限，您填写的为 1 年。",)


def test_min_work_years_unknown_asks_to_fill_it_in():
    result = evaluate(facts(Record(), work_years=None), min_work_years=3)
    assert result.status == FAIL
    assert "请填写专业工作年限" in result.reasons[0]


def test_full_time_students_need_a_certificate():
    # Seed 000: 普通全日制高等院校在校三年以上的在校生需出具在校证明。
    result = evaluate(facts(Record(), student=True), full_time_students_need_certificate=True)
    assert result == EligibilityResult(NEEDS_PROOF, ("全日制在校生须上传学校出具的在校证明。",))


def test_the_certificate_is_not_asked_of_non_students_or_without_the_rule():
    assert evaluate(facts(Record(), student=False), full_time_students_need_certificate=True).status == PASS
    assert evaluate(facts(Record(), student=True), full_time_students_need_certificate=False).status == PASS


# --- Combinations ----------------------------------------------------------------------------------


def test_every_failed_requirement_gives_its_reason():
    result = evaluate(
        facts(Record(level=E.JUNIOR_COLLEGE, degree=D.NONE, major="会计"), work_years=None),
        min_education=E.BACHELOR,
        min_degree=D.BACHELOR,
        allowed_majors=["法学"],
        min_work_years=2,
    )
    assert result.status == FAIL
    assert len(result.reasons) == 4
    assert all(reason.startswith("报考") for reason in result.reasons)


def test_fail_beats_needs_proof():
    result = evaluate(
        facts(Record(level=E.JUNIOR_COLLEGE), student=True),
        min_education=E.BACHELOR,
        full_time_students_need_certificate=True,
    )
    assert result.status == FAIL
    assert result.reasons == ("报考该级别须具备大学本科及以上学历，您填写的最高学历为大学专科。",)


def test_needs_proof_beats_pass_across_rules():
    rules = [EligibilityRule(min_education=E.BACHELOR), EligibilityRule(full_time_students_need_certificate=True)]
    result = eligibility_evaluate(rules=rules, facts=facts(Record(), student=True))
    assert result.status == NEEDS_PROOF


def test_all_rules_must_be_met_and_reasons_are_not_repeated():
    rules = [
        EligibilityRule(min_education=E.BACHELOR),
        EligibilityRule(min_education=E.BACHELOR, min_work_years=2),
    ]
    result = eligibility_evaluate(rules=rules, facts=facts(Record(level=E.JUNIOR_COLLEGE), work_years=5))
    assert result.status == FAIL
    assert result.reasons == ("报考该级别须具备大学本科及以上学历，您填写的最高学历为大学专科。",)
    passing = eligibility_evaluate(rules=rules, facts=facts(Record(), work_years=5))
    assert passing == EligibilityResult(PASS, ())


# --- With the database: real education records, rules and subjects per level/specialty -------------


@pytest.fixture
def programme(db) -> Programme:
    owner = Organisation.objects.create(name="人力资源和社会保障部人事考试中心", kind=OrganisationKind.NATIONAL)
    return Programme.objects.create(
        owner=owner,
        code="economist",
        name="经济专业技术资格考试",
        kind=ProgrammeKind.EXAM,
        payment_stage=PaymentStage.BEFORE_REVIEW,
    )


@pytest.fixture
def level(programme) -> Level:
    return Level.objects.create(programme=programme, code="mid", name="中级")


def test_rules_for_a_level_and_specialty_with_real_records(level, candidate_a):
    finance = Specialty.objects.create(level=level, code="fin", name="金融")
    tax = Specialty.objects.create(level=level, code="tax", name="财政税收")
    EligibilityRule.objects.create(level=level, min_education=E.JUNIOR_COLLEGE)
    EligibilityRule.objects.create(level=level, specialty=finance, allowed_majors=["金融", "经济"])
    EligibilityRule.objects.create(level=level, specialty=tax, allowed_majors=["法学", "税"])

    # candidate_a holds a bachelor's degree in 法学 (kaowu/conftest.py).
    records = list(candidate_a.education_records.all())
    assert len(eligibility_rules_for(level)) == 1
    assert len(eligibility_rules_for(level, finance)) == 2
    assert eligibility_evaluate(rules=eligibility_rules_for(level, tax), facts=facts(*records)).status == PASS
    assert eligibility_evaluate(rules=eligibility_rules_for(level, finance), facts=facts(*records)).status == FAIL


def test_subjects_for_level_unless_the_specialty_has_its_own(programme, level):
    basics, practice, finance_practice = (
        Subject.objects.create(programme=programme, code=code, name=name, fee_fen=6800, position=position)
        for position, (code, name) in enumerate([("01", "经济基础知识"), ("02", "专业知识和实务"), ("03", "金融实务")])
    )
    level.subjects.set([basics, practice])
    general = Specialty.objects.create(level=level, code="gen", name="工商管理")
    finance = Specialty.objects.create(level=level, code="fin", name="金融")
    finance.subjects.set([basics, finance_practice])

    assert list(subjects_for(level)) == [basics, practice]
    assert list(subjects_for(level, general)) == [basics, practice]
    assert list(subjects_for(level, finance)) == [basics, finance_practice]
    assert finance_practice.fee_fen == 6800  # money is integer fen


def test_subjects_for_refuses_a_specialty_of_another_level(programme, level):
    senior = Level.objects.create(programme=programme, code="senior", name="高级")
    other = Specialty.objects.create(level=senior, code="fin", name="金融")
    with pytest.raises(ValueError):
        subjects_for(level, other)
