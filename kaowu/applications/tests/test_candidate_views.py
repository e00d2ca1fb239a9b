"""The candidate's application pages (APP-1 … APP-9) through the test client: every page renders for its
owner in every demo flow, full walks by posting the forms, bad input on every step form, closed windows,
full sites, recall / withdraw / restart, the 失信 confirmation and the list's status and next action."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kaowu.applications import services
from kaowu.applications.models import Application, ApplicationKind, InvoiceKind
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.models import FlowStep, Organisation, OrganisationKind, Site, SiteCapacity, Subject, WindowAction
from kaowu.catalog.services import WindowSpec, batch_set_windows
from kaowu.results.services import subject_pass_record

from .conftest import NANJING, fill, submitted

pytestmark = pytest.mark.django_db

PROGRAMMES = [demo.CCAA_EXAM, demo.AUCTIONEER_EXAM, demo.ECONOMIST_EXAM, demo.RECRUITMENT_EXAM]
CONTENT = "content"


def url(name: str, application: Application, *args) -> str:
    return reverse(f"applications:{name}", args=[application.pk, *args])


def step_url(application: Application, step: str) -> str:
    return url("step", application, step)


def text(response) -> str:
    return response.content.decode()


def start(world, code: str, actor, kind: str = ApplicationKind.NEW) -> Application:
    return services.application_start(actor=actor, batch=world.batch(code), kind=kind)


def snapshot(application: Application) -> dict:
    application.refresh_from_db()
    return {
        "completed_steps": list(application.completed_steps),
        "region": application.region_id,
        "review_point": application.review_point_id,
        "level": application.level_id,
        "site": application.site_id,
        "position": application.position_id,
        "invoice": (application.invoice_kind, application.invoice_title, application.invoice_uscc),
        "subjects": sorted(application.subjects.values_list("subject_id", flat=True)),
        "status": application.status,
    }


def subject(world, code: str, subject_code: str) -> Subject:
    return world.programmes[code].subjects.get(code=subject_code)


@pytest.fixture
def client_a(client, cand_a):
    client.force_login(cand_a)
    return client


# --- Every page renders for its owner ---------------------------------------------------------------


@pytest.mark.parametrize("code", PROGRAMMES)
def test_every_page_renders_for_its_owner_in_every_flow(world, cand_a, client_a, code):
    application = start(world, code, cand_a)
    assert client_a.get(reverse("applications:list")).status_code == 200
    for step in application.programme.flow:
        if step != FlowStep.CONFIRM:
            response = client_a.get(step_url(application, step))
            assert response.status_code == 200, step
            assert str(FlowStep(step).label) in text(response)
    for name in ("confirm", "detail", "record", "withdraw", "restart"):
        assert client_a.get(url(name, application)).status_code == 200, name

    fill(application, cand_a)
    services.application_submit(actor=cand_a, application=application)
    for name in ("detail", "record", "withdraw"):
        assert client_a.get(url(name, application)).status_code == 200, name
    # Steps of a submitted application are not editable: back to the status page with the reason.
    response = client_a.get(step_url(application, application.programme.flow[0]))
    assert response.status_code == 302 and response.url == url("detail", application)


def test_a_step_outside_the_flow_is_not_found(world, cand_a, client_a):
    application = start(world, demo.RECRUITMENT_EXAM, cand_a)  # no subject step
    assert client_a.get(step_url(application, FlowStep.SUBJECTS)).status_code == 404
    assert client_a.get(step_url(application, "nonsense")).status_code == 404


def test_progress_marks_finished_steps_and_the_current_one(world, cand_a, client_a):
    application = start(world, demo.CCAA_EXAM, cand_a)
    services.application_accept_commitment(actor=cand_a, application=application)
    page = text(client_a.get(step_url(application, FlowStep.PERSONAL)))
    progress = page[page.index('class="steps') : page.index("</ol>")]
    assert progress.count('class="position-relative done"') == 1
    assert "1. 阅读须知与承诺" in progress and "（已完成）" in progress
    current = progress[progress.index('aria-current="step"') - 80 : progress.index('aria-current="step"') + 80]
    assert 'position-relative"' in current  # the current step, not yet done
    assert reverse("applications:step", args=[application.pk, FlowStep.COMMITMENT]) in progress


# --- Full walks by posting the forms ----------------------------------------------------------------


def test_seed_004_walk_through_the_forms_ends_awaiting_payment(
    world, cand_a, client_a, django_capture_on_commit_callbacks
):
    application = start(world, demo.CCAA_EXAM, cand_a)
    batch = application.batch
    response = client_a.post(step_url(application, FlowStep.COMMITMENT), {"agree": "on"})
    assert response.status_code == 302 and response.url == step_url(application, FlowStep.PERSONAL)
    response = client_a.post(step_url(application, FlowStep.PERSONAL), {"province": "320000", "city": NANJING})
    assert response.url == step_url(application, FlowStep.INVOICE)
    title = "南京某某认证咨询有限公司"
    response = client_a.post(
        step_url(application, FlowStep.INVOICE),
        {"kind": "company", "title": title, "uscc": demo._uscc("91320100MA1M00009").lower()},
    )
    assert response.url == step_url(application, FlowStep.SUBJECTS)
    page = text(client_a.get(response.url))
    assert "第二场" in page and "80.00 元" in page
    chosen = [subject(world, demo.CCAA_EXAM, c).pk for c in ("101", "202", "301")]
    response = client_a.post(step_url(application, FlowStep.SUBJECTS), {"subjects": chosen})
    assert response.url == step_url(application, FlowStep.SITE)
    page = text(client_a.get(response.url))
    assert "余 200 个座位" in page
    nanjing = Site.objects.get(batch=batch, name="南京市")
    response = client_a.post(step_url(application, FlowStep.SITE), {"site": nanjing.pk})
    assert response.url == url("confirm", application)

    page = text(client_a.get(response.url))
    assert "240.00" in page and title in page and "南京市" in page
    assert "认证人员注册全国统一考试考生须知" in page  # the accepted notice version
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(url("submit", application), {"confirm": "on"})
    assert response.status_code == 302 and response.url == url("detail", application)
    application.refresh_from_db()
    assert application.status == Status.AWAITING_PAYMENT
    assert (application.invoice_kind, application.invoice_title) == (InvoiceKind.COMPANY, title)
    assert sorted(application.subjects.values_list("subject_id", flat=True)) == sorted(chosen)
    page = text(client_a.get(response.url))
    assert "待缴费" in page and "缴费时间" in page


def test_seed_003_walk_through_the_forms_ends_waiting_for_on_site_review(world, cand_a, client_a):
    application = start(world, demo.RECRUITMENT_EXAM, cand_a)
    batch = application.batch
    response = client_a.post(step_url(application, FlowStep.PERSONAL), {"province": "320000"})
    assert response.url == step_url(application, FlowStep.SITE)
    page = text(client_a.get(response.url))
    assert "余 1200 个座位" in page and "南京报考点" in page
    site = Site.objects.get(batch=batch, name__startswith="南京报考点")
    assert client_a.post(step_url(application, FlowStep.SITE), {"site": site.pk}).url == step_url(
        application, FlowStep.POSITION
    )
    page = text(client_a.get(step_url(application, FlowStep.POSITION)))
    assert "江苏省档案馆" in page and "档案学" in page
    position = batch.positions.get(code="02001")
    assert client_a.post(step_url(application, FlowStep.POSITION), {"position": position.pk}).url == url(
        "confirm", application
    )
    page = text(client_a.get(url("confirm", application)))
    assert "02001 档案管理岗" in page and "南京报考点" in page
    response = client_a.post(url("submit", application), {"confirm": "on"})
    assert response.url == url("detail", application)
    application.refresh_from_db()
    assert application.status == Status.UNDER_REVIEW
    page = text(client_a.get(url("detail", application)))
    assert "待现场审核（审核点审核）" in page
    assert "现场审核" in page and site.review_point.address in page and site.review_point.phone in page
    assert site.review_point.office_hours in page and "截止时间" in page


def test_submit_needs_the_confirmation_tick(world, cand_a, client_a):
    application = fill(start(world, demo.RECRUITMENT_EXAM, cand_a), cand_a)
    response = client_a.post(url("submit", application), {})
    assert response.status_code == 200
    assert "请核对报考信息，并勾选“我确认以上报考信息无误”。" in text(response)
    assert snapshot(application)["status"] == Status.DRAFT


def test_confirm_lists_missing_steps_with_links_and_submit_refuses(world, cand_a, client_a):
    application = start(world, demo.CCAA_EXAM, cand_a)
    page = text(client_a.get(url("confirm", application)))
    assert "以下步骤尚未完成" in page and step_url(application, FlowStep.SITE) in page
    response = client_a.post(url("submit", application), {"confirm": "on"})
    assert response.status_code == 409
    assert "请先完成以下步骤" in text(response)
    assert snapshot(application)["status"] == Status.DRAFT


def test_an_updated_notice_sends_the_candidate_back_to_read_it(world, cand_a, client_a):
    from kaowu.catalog.models import NoticeKind
    from kaowu.catalog.services import notice_publish

    application = fill(start(world, demo.CCAA_EXAM, cand_a), cand_a)
    notice_publish(
        actor=None,
        programme=application.programme,
        kind=NoticeKind.EXAM_INSTRUCTIONS,
        title="考生须知（修订）",
        body="新版",
    )
    response = client_a.post(url("submit", application), {"confirm": "on"})
    assert response.status_code == 409
    assert "《考生须知（修订）》已更新，请重新阅读并确认后再提交。" in text(response)
    missing = text(response)[text(response).index("以下步骤尚未完成") :]
    assert step_url(application, FlowStep.COMMITMENT) in missing[: missing.index("</ul>")]
    state = snapshot(application)
    assert state["status"] == Status.DRAFT and FlowStep.COMMITMENT not in state["completed_steps"]


# --- Bad input on every step form -----------------------------------------------------------------


def _other_batch_site(world):
    return Site.objects.filter(batch=world.batch(demo.RECRUITMENT_EXAM)).first().pk


BAD_INPUT = [
    # (programme, step, steps done first through the services, data, message)
    (demo.CCAA_EXAM, FlowStep.PERSONAL, [], {}, "请选择报考省份。"),
    (demo.CCAA_EXAM, FlowStep.PERSONAL, [], {"province": "999999"}, "请选择列表中的省份。"),
    (demo.CCAA_EXAM, FlowStep.PERSONAL, [], {"province": "320000", "city": "440100"}, "所选地市不属于该省份"),
    (demo.ECONOMIST_EXAM, FlowStep.REVIEW_POINT, ["personal"], {}, "请选择审核点。"),
    (demo.CCAA_EXAM, FlowStep.COMMITMENT, [], {}, "请阅读报考须知和承诺书，并勾选“我已阅读并同意”。"),
    (demo.CCAA_EXAM, FlowStep.SUBJECTS, [], {}, "请至少选择一个报考科目。"),
    (demo.CCAA_EXAM, FlowStep.SUBJECTS, [], {"subjects": ["999999"]}, "所选科目不属于本考试"),
    (demo.CCAA_EXAM, FlowStep.SITE, [], {}, "请选择考区/考点。"),
    (demo.RECRUITMENT_EXAM, FlowStep.POSITION, [], {}, "请选择报考岗位。"),
    (demo.CCAA_EXAM, FlowStep.INVOICE, [], {}, "请选择是否需要发票及发票类型。"),
    (demo.CCAA_EXAM, FlowStep.INVOICE, [], {"kind": "bogus"}, "请选择是否需要发票及发票类型。"),
    (demo.CCAA_EXAM, FlowStep.INVOICE, [], {"kind": "company", "uscc": "91320100MA1M00009X"}, "请填写发票抬头"),
    (
        demo.CCAA_EXAM,
        FlowStep.INVOICE,
        [],
        {"kind": "company", "title": "某公司", "uscc": "91320100MA1M000090"},
        "统一社会信用代码",
    ),
    (demo.ECONOMIST_EXAM, FlowStep.SUBJECTS, [], {"work_years": "abc"}, "专业工作年限请填写整数。"),
]


@pytest.mark.parametrize(("code", "step", "before", "data", "message"), BAD_INPUT)
def test_bad_input_on_a_step_shows_the_chinese_error_and_changes_nothing(
    world, cand_a, client_a, code, step, before, data, message
):
    application = start(world, code, cand_a)
    if "personal" in before:
        services.application_confirm_personal(
            actor=cand_a, application=application, region=application.region or _region(NANJING)
        )
    if step == FlowStep.SITE:
        fill_subjects(world, application, cand_a)
    before_state = snapshot(application)
    response = client_a.post(step_url(application, step), data)
    assert response.status_code == 200
    assert message in text(response)
    assert snapshot(application) == before_state


def _region(code: str):
    from kaowu.catalog.models import Region

    return Region.objects.get(code=code)


def fill_subjects(world, application: Application, actor) -> None:
    general = subject(world, application.programme.code, "101")
    services.application_choose_subjects(
        actor=actor, application=application, level=None, specialty=None, subjects=[general]
    )


def test_a_review_point_of_another_province_is_refused(world, cand_a, client_a):
    application = start(world, demo.ECONOMIST_EXAM, cand_a)
    services.application_confirm_personal(actor=cand_a, application=application, region=_region(NANJING))
    beijing = Organisation.objects.get(name="北京市人事考试中心审核点", kind=OrganisationKind.REVIEW_POINT)
    nanjing = Organisation.objects.get(name="南京市人事考试中心审核点")
    page = text(client_a.get(step_url(application, FlowStep.REVIEW_POINT)))
    assert nanjing.address in page and nanjing.office_hours in page and beijing.name not in page
    before = snapshot(application)
    response = client_a.post(step_url(application, FlowStep.REVIEW_POINT), {"review_point": beijing.pk})
    assert response.status_code == 200 and "请选择所在省份的审核点。" in text(response)
    assert snapshot(application) == before
    response = client_a.post(step_url(application, FlowStep.REVIEW_POINT), {"review_point": nanjing.pk})
    assert response.status_code == 302
    assert snapshot(application)["review_point"] == nanjing.pk


def test_another_batchs_site_and_position_are_refused(world, cand_a, client_a):
    ccaa = start(world, demo.CCAA_EXAM, cand_a)
    fill_subjects(world, ccaa, cand_a)
    before = snapshot(ccaa)
    response = client_a.post(step_url(ccaa, FlowStep.SITE), {"site": _other_batch_site(world)})
    assert response.status_code == 200 and "请选择本批次的考区/考点。" in text(response)
    assert snapshot(ccaa) == before

    recruitment = start(world, demo.RECRUITMENT_EXAM, cand_a)
    other = world.batch(demo.CCAA_EXAM)
    assert not other.positions.exists()
    before = snapshot(recruitment)
    response = client_a.post(step_url(recruitment, FlowStep.POSITION), {"position": "999999"})
    assert response.status_code == 200 and "请选择本批次的招聘岗位。" in text(response)
    assert snapshot(recruitment) == before


def test_two_subjects_in_one_sitting_are_refused(world, cand_a, client_a):
    application = start(world, demo.CCAA_EXAM, cand_a)
    chosen = [subject(world, demo.CCAA_EXAM, c).pk for c in ("201", "202")]
    before = snapshot(application)
    response = client_a.post(step_url(application, FlowStep.SUBJECTS), {"subjects": chosen})
    assert response.status_code == 200
    assert "“管理体系认证基础”与“产品认证基础”在同一场次考试，每场只能选报一科。" in text(response)
    assert snapshot(application) == before


def test_subjects_follow_the_chosen_level_and_specialty(world, cand_a, client_a):
    application = start(world, demo.ECONOMIST_EXAM, cand_a)
    programme = application.programme
    junior = programme.levels.get(code="junior")
    finance = junior.specialties.get(code="finance")
    page = text(client_a.get(step_url(application, FlowStep.SUBJECTS)))
    assert "请先选择报考级别" in page
    page = text(client_a.get(step_url(application, FlowStep.SUBJECTS), {"level": junior.pk, "specialty": finance.pk}))
    assert "金融专业知识和实务（初级）" in page and "工商管理专业知识和实务（初级）" not in page
    assert "60.00 元" in page
    # A subject of another level is refused by the service, shown on the form.
    middle = subject(world, demo.ECONOMIST_EXAM, "201")
    data = {"level": junior.pk, "specialty": finance.pk, "subjects": [middle.pk], "work_years": "3"}
    before = snapshot(application)
    response = client_a.post(step_url(application, FlowStep.SUBJECTS), data)
    assert response.status_code == 200 and "所选科目不在该级别可报科目范围内。" in text(response)
    assert snapshot(application) == before
    # A level with specialties needs one.
    data = {"level": junior.pk, "subjects": [subject(world, demo.ECONOMIST_EXAM, "101").pk]}
    response = client_a.post(step_url(application, FlowStep.SUBJECTS), data)
    assert response.status_code == 200 and "请选择报考专业。" in text(response)
    data = {
        "level": junior.pk,
        "specialty": finance.pk,
        "subjects": [subject(world, demo.ECONOMIST_EXAM, c).pk for c in ("101", "112")],
        "work_years": "3",
    }
    response = client_a.post(step_url(application, FlowStep.SUBJECTS), data)
    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.level, application.specialty, application.work_years) == (junior, finance, 3)


def test_an_unmet_eligibility_rule_is_flagged_after_saving(world, cand_a, client_a):
    application = start(world, demo.ECONOMIST_EXAM, cand_a)
    senior = application.programme.levels.get(code="senior")
    data = {
        "level": senior.pk,
        "specialty": senior.specialties.get(code="business").pk,
        "subjects": [subject(world, demo.ECONOMIST_EXAM, "301").pk],
        "work_years": "2",
    }
    response = client_a.post(step_url(application, FlowStep.SUBJECTS), data, follow=True)
    page = text(response)
    assert "请考生根据实际情况确定报考资格。" in page
    assert "10 年及以上专业工作年限" in page


def test_a_retake_candidate_cannot_register_a_passed_subject(world, cand_a, client_a):
    programme = world.programmes[demo.AUCTIONEER_EXAM]
    batch = world.batch(demo.AUCTIONEER_EXAM)
    general = subject(world, demo.AUCTIONEER_EXAM, "A01")
    subject_pass_record(actor=None, candidate=cand_a, subject=general, year=batch.year - 1)
    response = client_a.post(reverse("applications:start", args=[batch.pk]), {"kind": ApplicationKind.RETAKE})
    application = Application.objects.get(candidate=cand_a, batch=batch)
    assert application.kind == ApplicationKind.RETAKE
    assert response.url == step_url(application, FlowStep.COMMITMENT)
    page = text(client_a.get(step_url(application, FlowStep.CANDIDATE_TYPE)))
    assert "补考生" in page and "拍卖通论" in page and "重新报名" in page
    page = text(client_a.get(step_url(application, FlowStep.SUBJECTS)))
    assert "已通过，成绩保留" in page and f'value="{general.pk}" id="subject-{general.pk}" disabled' in page
    level = programme.levels.get()
    before = snapshot(application)
    response = client_a.post(step_url(application, FlowStep.SUBJECTS), {"level": level.pk, "subjects": [general.pk]})
    assert response.status_code == 200
    assert "已通过的科目无需再报考，请只选择未通过的科目。" in text(response)
    assert snapshot(application) == before
    law = subject(world, demo.AUCTIONEER_EXAM, "A02")
    response = client_a.post(step_url(application, FlowStep.SUBJECTS), {"level": level.pk, "subjects": [law.pk]})
    assert response.status_code == 302
    assert snapshot(application)["subjects"] == [law.pk]
    page = text(client_a.get(url("confirm", application)))
    assert "已通过、成绩保留" in page and "200.00" in page


def test_proofs_are_attached_and_required_when_eligibility_asks(world, cand_a, client_a):
    from kaowu.accounts import services as account_services

    application = start(world, demo.AUCTIONEER_EXAM, cand_a)
    level = application.programme.levels.get()
    services.application_choose_subjects(
        actor=cand_a,
        application=application,
        level=level,
        specialty=None,
        subjects=[subject(world, demo.AUCTIONEER_EXAM, "A01")],
        is_full_time_student=True,
    )
    page = text(client_a.get(step_url(application, FlowStep.PROOFS)))
    assert "全日制在校生须上传学校出具的在校证明。" in page and reverse("accounts:scans") in page
    before = snapshot(application)
    response = client_a.post(step_url(application, FlowStep.PROOFS), {})
    assert response.status_code == 200 and "请先上传报考条件要求的证明材料。" in text(response)
    assert snapshot(application) == before

    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    scan = account_services.scan_upload(
        actor=cand_a, user=cand_a, kind="other", name="在校证明.pdf", data=pdf, size=len(pdf), description=""
    )
    response = client_a.post(url("proof_attach", application), {"scan": scan.pk})
    assert response.url == step_url(application, FlowStep.PROOFS)
    assert application.proofs.filter(scan=scan).exists()
    assert "在校证明.pdf" in text(client_a.get(step_url(application, FlowStep.PROOFS)))
    response = client_a.post(step_url(application, FlowStep.PROOFS), {})
    assert response.status_code == 302
    assert FlowStep.PROOFS in snapshot(application)["completed_steps"]
    client_a.post(url("proof_detach", application), {"scan": scan.pk})
    assert not application.proofs.exists()


# --- Windows and seats ------------------------------------------------------------------------------


def close_registration(batch) -> None:
    """Move the batch's 报名 and 修改 windows into the past (the others stay as the demo set them)."""
    now = timezone.now()
    windows = []
    for window in batch.windows.all():
        opens, closes = window.opens_at, window.closes_at
        if window.action in (WindowAction.REGISTER, WindowAction.MODIFY):
            opens, closes = now - timedelta(days=10), now - timedelta(days=1)
        windows.append(WindowSpec(window.action, opens, closes))
    batch_set_windows(actor=None, batch=batch, windows=windows)


def test_a_closed_window_is_refused_with_its_dates(world, cand_a, client_a):
    application = start(world, demo.CCAA_EXAM, cand_a)
    batch = application.batch
    close_registration(batch)
    before = snapshot(application)
    response = client_a.post(step_url(application, FlowStep.COMMITMENT), {"agree": "on"})
    assert response.status_code == 200
    assert "报名时间为" in text(response) and "当前不在办理时间内" in text(response)
    assert snapshot(application) == before
    other = world.batch(demo.RECRUITMENT_EXAM)
    close_registration(other)
    response = client_a.post(reverse("applications:start", args=[other.pk]), follow=True)
    assert "当前不在办理时间内" in text(response)
    assert not Application.objects.filter(batch=other).exists()


def test_a_full_site_is_refused_with_the_alternatives(world, cand_a, client_a):
    application = start(world, demo.CCAA_EXAM, cand_a)
    fill_subjects(world, application, cand_a)
    beijing = Site.objects.get(batch=application.batch, name="北京市")
    SiteCapacity.objects.filter(site=beijing).update(capacity=0)
    page = text(client_a.get(step_url(application, FlowStep.SITE)))
    assert "已满" in page
    before = snapshot(application)
    response = client_a.post(step_url(application, FlowStep.SITE), {"site": beijing.pk})
    assert response.status_code == 200
    assert "此考点已满，请选择其他考点。尚有空余座位的考点：" in text(response) and "南京市" in text(response)
    assert snapshot(application) == before


def test_losing_the_last_seat_at_submission_shows_the_alternatives(world, cand_a, client_a):
    application = fill(start(world, demo.CCAA_EXAM, cand_a), cand_a)
    SiteCapacity.objects.filter(site=application.site).update(capacity=0)
    response = client_a.post(url("submit", application), {"confirm": "on"})
    assert response.status_code == 409
    assert "此考点已满" in text(response) and step_url(application, FlowStep.SITE) in text(response)
    assert snapshot(application)["status"] == Status.DRAFT


# --- Recall, withdraw, restart -----------------------------------------------------------------------


def test_recall_returns_a_submitted_application_to_editing(world, cand_a, client_a):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    page = text(client_a.get(url("detail", application)))
    assert "待审核（省级审核）" in page and url("recall", application) in page and "江苏省拍卖行业协会" in page
    response = client_a.post(url("recall", application))
    assert response.url == url("confirm", application)
    application.refresh_from_db()
    assert application.status == Status.DRAFT
    assert "已撤回" in text(client_a.get(url("record", application)))
    # Recalling again is refused with the reason, not a 500.
    response = client_a.post(url("recall", application), follow=True)
    assert "不能撤回修改" in text(response)


def test_withdraw_asks_for_confirmation_then_releases_the_seats(world, cand_a, client_a):
    application = submitted(world, demo.CCAA_EXAM, cand_a)
    assert application.seat_holds.exists()
    page = text(client_a.get(url("withdraw", application)))
    assert "确认放弃报名" in page
    response = client_a.post(url("withdraw", application), {"reason": "时间冲突"})
    assert response.status_code == 200 and "请勾选“我确认放弃本次报名”。" in text(response)
    assert snapshot(application)["status"] == Status.AWAITING_PAYMENT
    response = client_a.post(url("withdraw", application), {"reason": "时间冲突", "confirm": "on"})
    assert response.url == url("detail", application)
    application.refresh_from_db()
    assert application.status == Status.WITHDRAWN and not application.seat_holds.exists()
    assert sum(SiteCapacity.objects.filter(site=application.site).values_list("held", flat=True)) == 0
    assert "时间冲突" in text(client_a.get(url("record", application)))
    # Withdrawn is final: the page says so and a second POST changes nothing.
    assert "不能放弃报名" in text(client_a.get(url("withdraw", application)))
    response = client_a.post(url("withdraw", application), {"confirm": "on"})
    assert response.status_code == 200 and "不能放弃报名" in text(response)


def test_restart_as_new_after_confirmation_clears_the_subjects(world, cand_a, client_a):
    batch = world.batch(demo.AUCTIONEER_EXAM)
    subject_pass_record(
        actor=None, candidate=cand_a, subject=subject(world, demo.AUCTIONEER_EXAM, "A01"), year=batch.year - 1
    )
    application = start(world, demo.AUCTIONEER_EXAM, cand_a, kind=ApplicationKind.RETAKE)
    fill(application, cand_a)
    page = text(client_a.get(url("detail", application)))
    assert url("restart", application) in page
    page = text(client_a.get(url("restart", application)))
    assert "拍卖通论" in page and "确认重新报名" in page
    response = client_a.post(url("restart", application), {})
    assert response.status_code == 200 and "请勾选确认后再重新报名。" in text(response)
    assert snapshot(application)["subjects"]
    response = client_a.post(url("restart", application), {"confirm": "on"})
    assert response.url == step_url(application, FlowStep.SUBJECTS)
    application.refresh_from_db()
    assert application.kind == ApplicationKind.NEW and not application.subjects.exists()
    response = client_a.post(url("restart", application), {"confirm": "on"})
    assert response.status_code == 200 and "您已是新考生身份" in text(response)


def test_a_returned_application_shows_the_reason_and_can_be_resubmitted(world, cand_a, client_a):
    application = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    services.review_return(actor=world.staff("js_caa_province"), application=application, reason="工作年限证明不清晰")
    page = text(client_a.get(url("detail", application)))
    assert "已驳回" in page and "工作年限证明不清晰" in page and "修改报名信息" in page
    assert client_a.get(step_url(application, FlowStep.SUBJECTS)).status_code == 200
    response = client_a.post(url("submit", application), {"confirm": "on"})
    assert response.url == url("detail", application)
    assert snapshot(application)["status"] == Status.UNDER_REVIEW


# --- 失信 confirmation (APP-5) ------------------------------------------------------------------------


def test_a_dishonest_candidate_must_confirm_the_notice_before_submitting(world, cand_a, client_a):
    programme = world.programmes[demo.ECONOMIST_EXAM]
    profile = cand_a.candidate_profile
    services.dishonest_entry_add(
        actor=None,
        programme=programme,
        document_hash=profile.doc_number_hash,
        document_masked=profile.doc_number_masked,
        name=cand_a.real_name,
        reason="考试违纪",
    )
    application = fill(start(world, demo.ECONOMIST_EXAM, cand_a), cand_a)
    assert application.is_dishonest
    page = text(client_a.get(url("confirm", application)))
    assert url("dishonest", application) in page and url("submit", application) not in page
    response = client_a.post(url("submit", application), {"confirm": "on"})
    assert response.status_code == 409 and "失信人员报考告知" in text(response)
    assert snapshot(application)["status"] == Status.DRAFT

    page = text(client_a.get(url("dishonest", application)))
    assert "考试违纪" in page and profile.doc_number_masked in page
    response = client_a.post(url("dishonest", application), {})
    assert response.status_code == 200 and "请阅读失信人员报考告知，并勾选确认。" in text(response)
    response = client_a.post(url("dishonest", application), {"confirm": "on"})
    assert response.url == url("confirm", application)
    response = client_a.post(url("submit", application), {"confirm": "on"})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == Status.UNDER_REVIEW and application.dishonest_confirmed_at is not None
    page = text(client_a.get(url("detail", application)))
    assert "线上审核" in page and "失信人员名单" in page


def test_a_candidate_listed_after_starting_is_led_to_the_confirmation(world, cand_a, client_a):
    application = fill(start(world, demo.ECONOMIST_EXAM, cand_a), cand_a)
    assert not application.is_dishonest
    profile = cand_a.candidate_profile
    services.dishonest_entry_add(
        actor=None,
        programme=application.programme,
        document_hash=profile.doc_number_hash,
        document_masked=profile.doc_number_masked,
        name=cand_a.real_name,
    )
    page = text(client_a.get(url("confirm", application)))
    assert url("dishonest", application) in page and url("submit", application) not in page
    assert client_a.get(url("dishonest", application)).status_code == 200
    response = client_a.post(url("dishonest", application), {"confirm": "on"})
    assert response.url == url("confirm", application)
    assert client_a.post(url("submit", application), {"confirm": "on"}).url == url("detail", application)
    assert snapshot(application)["status"] == Status.UNDER_REVIEW


def test_the_dishonest_page_sends_others_to_the_confirmation(world, cand_a, client_a):
    application = start(world, demo.CCAA_EXAM, cand_a)
    assert client_a.get(url("dishonest", application)).url == url("confirm", application)


# --- APP-1: the list ---------------------------------------------------------------------------------


def _card(page: str, batch) -> str:
    start_at = page.index(f'id="batch-{batch.pk}"')
    return page[start_at : page.index("</section>", start_at)]


def test_the_list_shows_each_batch_with_status_and_next_action(world, cand_a, client_a):
    draft = start(world, demo.CCAA_EXAM, cand_a)
    services.application_accept_commitment(actor=cand_a, application=draft)
    under_review = submitted(world, demo.AUCTIONEER_EXAM, cand_a)
    recruitment = submitted(world, demo.RECRUITMENT_EXAM, cand_a)
    services.application_withdraw(actor=cand_a, application=recruitment)
    page = text(client_a.get(reverse("applications:list")))

    card = _card(page, draft.batch)
    assert "填写中" in card and "继续填写" in card and step_url(draft, FlowStep.PERSONAL) in card
    card = _card(page, under_review.batch)
    assert "待审核（省级审核）" in card and "查看" in card and url("detail", under_review) in card
    assert reverse("applications:start", args=[under_review.batch.pk]) not in card
    card = _card(page, recruitment.batch)
    assert "已放弃" in card and reverse("applications:start", args=[recruitment.batch.pk]) in card
    card = _card(page, world.batch(demo.ECONOMIST_EXAM))
    assert "未报考" in card and ">报名</button>" in card
    card = _card(page, world.batch(demo.AUCTIONEER_REGISTRATION))
    assert "暂未开通网上报名" in card


def test_the_list_shows_awaiting_payment(world, cand_a, client_a):
    application = submitted(world, demo.CCAA_EXAM, cand_a)
    card = _card(text(client_a.get(reverse("applications:list"))), application.batch)
    assert "待缴费" in card and url("detail", application) in card


def test_retake_programmes_ask_new_or_retake_when_starting(world, cand_a, client_a):
    batch = world.batch(demo.AUCTIONEER_EXAM)
    card = _card(text(client_a.get(reverse("applications:list"))), batch)
    assert 'value="new"' in card and 'value="retake"' in card
    response = client_a.post(reverse("applications:start", args=[batch.pk]), follow=True)
    assert "请选择新考生或补考生。" in text(response)
    response = client_a.post(reverse("applications:start", args=[batch.pk]), {"kind": "retake"}, follow=True)
    assert "没有查到您以往通过的科目" in text(response)
    assert not Application.objects.filter(batch=batch).exists()


def test_starting_twice_goes_to_the_existing_application(world, cand_a, client_a):
    batch = world.batch(demo.CCAA_EXAM)
    response = client_a.post(reverse("applications:start", args=[batch.pk]))
    application = Application.objects.get(candidate=cand_a, batch=batch)
    assert response.url == step_url(application, FlowStep.COMMITMENT)
    response = client_a.post(reverse("applications:start", args=[batch.pk]))
    assert response.url == step_url(application, FlowStep.COMMITMENT)
    assert Application.objects.filter(candidate=cand_a, batch=batch).count() == 1
    page = text(client_a.get(response.url))
    assert "您已报名本批次" in page


def test_staff_see_a_clear_message_on_the_list(world, client):
    client.force_login(world.staff("js_caa_province"))
    response = client.get(reverse("applications:list"))
    assert response.status_code == 403 and "此页面仅供考生使用。" in text(response)
