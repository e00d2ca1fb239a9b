"""The candidate's step services (APP-2 … APP-8): good input marks the step and is audited; bad input is
refused with a clear code and changes nothing; editing is closed while under review and after approval."""

from __future__ import annotations

import pytest

from kaowu.applications import services
from kaowu.applications.models import Application, ApplicationKind
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.models import (
    FlowStep,
    Level,
    NoticeAcceptance,
    NoticeKind,
    Organisation,
    Region,
    Subject,
)
from kaowu.catalog.selectors import notice_current
from kaowu.core.errors import KaowuError
from kaowu.core.models import AuditEntry
from kaowu.results.services import subject_pass_record

from .conftest import fill, submitted

pytestmark = pytest.mark.django_db

# A valid GB 32100 code (the demo's company 江苏金陵拍卖有限公司).
USCC = demo._uscc("91320100MA1M00002")


def start(world, candidate, code: str, **kwargs) -> Application:
    return services.application_start(actor=candidate, batch=world.batch(code), **kwargs)


def state_of(application: Application) -> dict:
    """What a refused step must leave as it was."""
    application.refresh_from_db()
    return {
        "fields": {
            f.attname: getattr(application, f.attname)
            for f in Application._meta.concrete_fields
            if f.attname != "updated_at"
        },
        "subjects": sorted(application.subjects.values_list("subject__code", flat=True)),
        "notices": sorted(application.accepted_notices.values_list("pk", flat=True)),
        "audit": AuditEntry.objects.filter(object_id=str(application.pk)).count(),
    }


def refused(application: Application, code: str, call) -> KaowuError:
    before = state_of(application)
    with pytest.raises(KaowuError) as info:
        call()
    assert info.value.code == code
    assert str(info.value.message)
    assert state_of(application) == before
    return info.value


def last_audit(application: Application) -> AuditEntry:
    return AuditEntry.objects.filter(object_type="applications.application", object_id=str(application.pk)).latest("pk")


def region(code: str) -> Region:
    return Region.objects.get(code=code)


# --- 个人信息 / 审核点 -----------------------------------------------------------------------------------


def test_confirm_personal_marks_the_step_and_audits(world, cand_a):
    application = start(world, cand_a, demo.ECONOMIST_EXAM)
    services.application_confirm_personal(actor=cand_a, application=application, region=region("320100"))
    application.refresh_from_db()
    assert application.region_id == "320100" and FlowStep.PERSONAL in application.completed_steps
    entry = last_audit(application)
    assert (entry.action, entry.actor, entry.after) == ("applications.personal", cand_a, {"region": "320100"})


def test_confirm_personal_refuses_a_county(world, cand_a):
    application = start(world, cand_a, demo.ECONOMIST_EXAM)
    refused(
        application,
        "applications.bad_region",
        lambda: services.application_confirm_personal(actor=cand_a, application=application, region=region("320102")),
    )


def test_moving_to_another_province_clears_the_review_point(world, cand_a):
    application = fill(start(world, cand_a, demo.ECONOMIST_EXAM), cand_a)
    assert application.review_point is not None
    services.application_confirm_personal(actor=cand_a, application=application, region=region("110000"))
    application.refresh_from_db()
    assert application.review_point is None and FlowStep.REVIEW_POINT not in application.completed_steps


def test_review_point_must_be_of_the_programme_and_the_province(world, cand_a):
    application = start(world, cand_a, demo.ECONOMIST_EXAM)
    nanjing_point = Organisation.objects.get(name="南京市人事考试中心审核点")
    refused(
        application,
        "applications.region_first",
        lambda: services.application_choose_review_point(
            actor=cand_a, application=application, review_point=nanjing_point
        ),
    )
    services.application_confirm_personal(actor=cand_a, application=application, region=region("320100"))
    beijing_point = Organisation.objects.get(name="北京市人事考试中心审核点")
    recruitment_point = Organisation.objects.get(name="南京报考点（南京市人事考试中心）")  # another programme's
    province = Organisation.objects.get(name="江苏省人事考试中心")  # not a review point
    for point in (beijing_point, recruitment_point, province):
        refused(
            application,
            "applications.bad_review_point",
            lambda point=point: services.application_choose_review_point(
                actor=cand_a, application=application, review_point=point
            ),
        )
    services.application_choose_review_point(actor=cand_a, application=application, review_point=nanjing_point)
    application.refresh_from_db()
    assert application.review_point == nanjing_point and FlowStep.REVIEW_POINT in application.completed_steps
    assert last_audit(application).after == {"review_point": nanjing_point.pk}


# --- 须知与承诺 ------------------------------------------------------------------------------------------


def test_commitment_records_the_current_versions(world, cand_a):
    application = start(world, cand_a, demo.ECONOMIST_EXAM)
    services.application_accept_commitment(actor=cand_a, application=application)
    application.refresh_from_db()
    programme = application.programme
    current = {notice_current(programme, k).pk for k in (NoticeKind.EXAM_INSTRUCTIONS, NoticeKind.COMMITMENT_LETTER)}
    assert set(application.accepted_notices.values_list("notice_id", flat=True)) == current
    assert NoticeAcceptance.objects.filter(user=cand_a, notice_id__in=current).count() == 2
    assert FlowStep.COMMITMENT in application.completed_steps
    assert last_audit(application).action == "applications.commitment"


# --- 级别、专业与科目 ------------------------------------------------------------------------------------


def _economist(world):
    programme = world.programmes[demo.ECONOMIST_EXAM]
    junior = Level.objects.get(programme=programme, code="junior")
    intermediate = Level.objects.get(programme=programme, code="intermediate")
    return programme, junior, intermediate


def test_subjects_good_choice_marks_and_audits(world, cand_a):
    application = start(world, cand_a, demo.ECONOMIST_EXAM)
    programme, junior, _ = _economist(world)
    business = junior.specialties.get(code="business")
    chosen = list(Subject.objects.filter(programme=programme, code__in=["101", "111"]))
    services.application_choose_subjects(
        actor=cand_a, application=application, level=junior, specialty=business, subjects=chosen, work_years=3
    )
    application.refresh_from_db()
    assert (application.level, application.specialty, application.work_years) == (junior, business, 3)
    assert sorted(application.subjects.values_list("subject__code", flat=True)) == ["101", "111"]
    assert all(line.sitting_id for line in application.subjects.all())
    assert FlowStep.SUBJECTS in application.completed_steps
    assert application.eligibility_status == "pass"
    entry = last_audit(application)
    assert entry.action == "applications.subjects" and entry.after["subjects"] == ["101", "111"]


def test_subjects_bad_choices_are_refused(world, cand_a):
    application = start(world, cand_a, demo.ECONOMIST_EXAM)
    programme, junior, intermediate = _economist(world)
    business = junior.specialties.get(code="business")
    subject = Subject.objects.get(programme=programme, code="101")
    other_level = Level.objects.get(programme=world.programmes[demo.AUCTIONEER_EXAM])
    other_subject = Subject.objects.get(programme=world.programmes[demo.AUCTIONEER_EXAM], code="A01")
    cases = [
        ("applications.level_required", dict(level=None, specialty=None, subjects=[subject])),
        ("applications.bad_level", dict(level=other_level, specialty=None, subjects=[subject])),
        (
            "applications.bad_specialty",
            dict(level=junior, specialty=intermediate.specialties.get(code="business"), subjects=[subject]),
        ),
        ("applications.specialty_required", dict(level=junior, specialty=None, subjects=[subject])),
        ("applications.no_subjects", dict(level=junior, specialty=business, subjects=[])),
        (
            "applications.subject_not_allowed",  # the intermediate level's subject at the junior level
            dict(level=junior, specialty=business, subjects=[Subject.objects.get(programme=programme, code="201")]),
        ),
        ("applications.subject_not_allowed", dict(level=junior, specialty=business, subjects=[other_subject])),
        (
            "applications.subject_not_allowed",  # another specialty's subject
            dict(level=junior, specialty=business, subjects=[Subject.objects.get(programme=programme, code="112")]),
        ),
        ("applications.bad_work_years", dict(level=junior, specialty=business, subjects=[subject], work_years=61)),
    ]
    for code, kwargs in cases:
        refused(
            application,
            code,
            lambda kwargs=kwargs: services.application_choose_subjects(actor=cand_a, application=application, **kwargs),
        )


def test_two_subjects_in_one_sitting_are_refused(world, cand_a):
    application = start(world, cand_a, demo.CCAA_EXAM)
    programme = application.programme
    # 管理体系认证基础 and 产品认证基础 are both in 第二场.
    same_sitting = list(Subject.objects.filter(programme=programme, code__in=["201", "202"]))
    error = refused(
        application,
        "applications.sitting_clash",
        lambda: services.application_choose_subjects(
            actor=cand_a, application=application, level=None, specialty=None, subjects=same_sitting
        ),
    )
    assert "同一场次" in error.message


def test_a_retake_candidate_cannot_register_a_passed_subject(world, cand_a):
    programme = world.programmes[demo.AUCTIONEER_EXAM]
    batch = world.batch(demo.AUCTIONEER_EXAM)
    passed = Subject.objects.get(programme=programme, code="A01")
    subject_pass_record(actor=world.staff("caa_admin"), candidate=cand_a, subject=passed, year=batch.year - 1)
    application = start(world, cand_a, demo.AUCTIONEER_EXAM, kind=ApplicationKind.RETAKE)
    level = programme.levels.get()
    refused(
        application,
        "applications.subject_passed",
        lambda: services.application_choose_subjects(
            actor=cand_a, application=application, level=level, specialty=None, subjects=[passed]
        ),
    )
    others = list(Subject.objects.filter(programme=programme, code__in=["A02", "A03"]))
    services.application_choose_subjects(
        actor=cand_a, application=application, level=level, specialty=None, subjects=others
    )
    # 重新报名: as a new candidate the subjects are cleared and chosen again, the passed one included.
    services.application_restart_as_new(actor=cand_a, application=application)
    application.refresh_from_db()
    assert application.kind == ApplicationKind.NEW and not application.subjects.exists()
    assert FlowStep.SUBJECTS not in application.completed_steps
    services.application_choose_subjects(
        actor=cand_a, application=application, level=level, specialty=None, subjects=[passed, *others]
    )
    refused(
        application,
        "applications.already_new",
        lambda: services.application_restart_as_new(actor=cand_a, application=application),
    )


def test_changing_subjects_to_a_sitting_the_site_lacks_clears_the_site(world, cand_a):
    application = fill(start(world, cand_a, demo.CCAA_EXAM), cand_a, subjects=["101"])
    assert FlowStep.SITE in application.completed_steps
    both = list(Subject.objects.filter(programme=application.programme, code__in=["101", "301"]))
    # The site holds no 第三场 (seat numbers are configuration without a service yet).
    application.site.capacities.filter(sitting__subjects__code="301").delete()
    services.application_choose_subjects(
        actor=cand_a, application=application, level=None, specialty=None, subjects=both
    )
    application.refresh_from_db()
    assert application.site is None and FlowStep.SITE not in application.completed_steps


# --- 考点 / 岗位 / 发票 ------------------------------------------------------------------------------------


def test_site_must_be_of_the_batch_and_follow_the_subjects(world, cand_a):
    application = start(world, cand_a, demo.CCAA_EXAM)
    own_site = application.batch.sites.order_by("pk").first()
    refused(
        application,
        "applications.subjects_first",
        lambda: services.application_choose_site(actor=cand_a, application=application, site=own_site),
    )
    choose = list(Subject.objects.filter(programme=application.programme, code="101"))
    services.application_choose_subjects(
        actor=cand_a, application=application, level=None, specialty=None, subjects=choose
    )
    other_site = world.batch(demo.RECRUITMENT_EXAM).sites.first()
    refused(
        application,
        "applications.bad_site",
        lambda: services.application_choose_site(actor=cand_a, application=application, site=other_site),
    )
    services.application_choose_site(actor=cand_a, application=application, site=own_site)
    application.refresh_from_db()
    assert application.site == own_site and FlowStep.SITE in application.completed_steps
    assert last_audit(application).after == {"site": own_site.pk}


def test_a_full_site_is_refused_with_the_alternatives(world, cand_a):
    application = start(world, cand_a, demo.CCAA_EXAM)
    choose = list(Subject.objects.filter(programme=application.programme, code="101"))
    services.application_choose_subjects(
        actor=cand_a, application=application, level=None, specialty=None, subjects=choose
    )
    full = application.batch.sites.order_by("pk").first()
    # Capacity is catalogue configuration without a service yet.
    full.capacities.update(capacity=0)
    error = refused(
        application,
        "applications.site_full",
        lambda: services.application_choose_site(actor=cand_a, application=application, site=full),
    )
    assert "上海市" in error.message  # an alternative with free seats


def test_position_must_be_of_the_batch(world, cand_a):
    application = start(world, cand_a, demo.RECRUITMENT_EXAM)
    other_batch = world.batch(demo.CCAA_EXAM)
    foreign = world.batch(demo.RECRUITMENT_EXAM).positions.first()
    foreign.pk, foreign.batch, foreign.code = None, other_batch, "99999"
    foreign.save()  # a position of another batch (positions have no service yet)
    refused(
        application,
        "applications.bad_position",
        lambda: services.application_choose_position(actor=cand_a, application=application, position=foreign),
    )
    own = application.batch.positions.order_by("code").first()
    services.application_choose_position(actor=cand_a, application=application, position=own)
    application.refresh_from_db()
    assert application.position == own and FlowStep.POSITION in application.completed_steps
    assert last_audit(application).after == {"position": own.pk}


def test_invoice_kinds(world, cand_a):
    application = start(world, cand_a, demo.CCAA_EXAM)
    refused(
        application,
        "applications.invoice_title",
        lambda: services.application_set_invoice(actor=cand_a, application=application, kind="company", uscc=USCC),
    )
    bad_uscc = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    error = refused(
        application,
        "applications.invoice_uscc",
        lambda: services.application_set_invoice(
            actor=cand_a, application=application, kind="company", title="某某公司", uscc=bad_uscc
        ),
    )
    assert error.field == "uscc" and "校验位" in error.message
    refused(
        application,
        "applications.invoice_kind",
        lambda: services.application_set_invoice(actor=cand_a, application=application, kind="paper"),
    )
    services.application_set_invoice(
        actor=cand_a, application=application, kind="company", title=" 江苏金陵拍卖有限公司 ", uscc=USCC.lower()
    )
    application.refresh_from_db()
    assert (application.invoice_kind, application.invoice_title, application.invoice_uscc) == (
        "company",
        "江苏金陵拍卖有限公司",
        USCC,
    )
    assert FlowStep.INVOICE in application.completed_steps
    assert last_audit(application).after == {"invoice_kind": "company"}
    # A personal invoice is in the candidate's own name, whatever title is sent.
    services.application_set_invoice(actor=cand_a, application=application, kind="personal", title="别人")
    application.refresh_from_db()
    assert (application.invoice_title, application.invoice_uscc) == (cand_a.real_name, "")


# --- Who may edit, and when --------------------------------------------------------------------------------


def test_only_the_owner_edits(world, cand_a, cand_b):
    application = start(world, cand_a, demo.ECONOMIST_EXAM)
    refused(
        application,
        "applications.not_owner",
        lambda: services.application_confirm_personal(actor=cand_b, application=application, region=region("320100")),
    )


def test_editing_under_review_needs_a_recall_first(world, cand_a):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    error = refused(
        application,
        "applications.not_editable",
        lambda: services.application_confirm_personal(actor=cand_a, application=application, region=region("320100")),
    )
    assert "撤回修改" in error.message
    services.application_recall(actor=cand_a, application=application)
    services.application_confirm_personal(actor=cand_a, application=application, region=region("110000"))
    application.refresh_from_db()
    assert (application.status, application.region_id) == (Status.DRAFT, "110000")


def test_editing_after_approval_is_refused(world, cand_a):
    application = submitted(world, demo.RECRUITMENT_EXAM, cand_a)
    services.review_approve(actor=world.staff("js_exam_point"), application=application, on_site=True)
    application.refresh_from_db()
    assert application.status == Status.APPROVED
    for call in (
        lambda: services.application_choose_position(
            actor=cand_a, application=application, position=application.batch.positions.first()
        ),
        lambda: services.application_recall(actor=cand_a, application=application),
        lambda: services.application_withdraw(actor=cand_a, application=application),
    ):
        with pytest.raises(KaowuError) as info:
            call()
        assert info.value.code in ("applications.not_editable", "applications.transition_not_allowed")


def test_recall_is_refused_once_a_person_approved_a_level(world, cand_a):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    services.review_approve(actor=world.staff("js_caa_province"), application=application)
    error = refused(
        application,
        "applications.already_approved",
        lambda: services.application_recall(actor=cand_a, application=application),
    )
    assert "联系审核机构" in error.message


def test_resubmission_after_a_return(world, cand_a):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    services.review_return(actor=world.staff("js_caa_province"), application=application, reason="学历信息有误")
    application.refresh_from_db()
    assert application.status == Status.RETURNED
    services.application_confirm_personal(actor=cand_a, application=application, region=region("320500"))
    services.application_submit(actor=cand_a, application=application)
    application.refresh_from_db()
    assert (application.status, application.round, application.region_id) == (Status.UNDER_REVIEW, 2, "320500")
    assert application.review_steps.filter(round=2, status="pending").count() == 1
