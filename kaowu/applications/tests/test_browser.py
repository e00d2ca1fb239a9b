"""End to end in headless Chromium (issue 4): candidates apply at a phone-sized viewport, step by step, as
each seed describes; reviewers decide at a desktop-sized one in the review workbench; each test checks
what the candidate then sees on the status page.

Seed 004 (no review, pay at once), seed 000 (province → nation, a return and resubmission, a retake
candidate), seed 002 (automatic verification; a candidate on the 失信 list reviewed online) and seed 003
(on-site review at the chosen 报考点). Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from kaowu.accounts.models import User
from kaowu.accounts.selectors import document_number_hash
from kaowu.applications.models import Application
from kaowu.applications.services import dishonest_entry_add
from kaowu.catalog import demo
from kaowu.catalog.management.commands.import_regions import FIXTURE as REGIONS
from kaowu.catalog.management.commands.import_regions import load_rows
from kaowu.catalog.models import Batch, Organisation, SiteCapacity
from kaowu.conftest import PASSWORD, make_id_number, register_candidate, screenshot
from kaowu.results.services import subject_pass_record

from .conftest import with_photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def batches() -> dict[str, Batch]:
    """The demo catalogue, on a database the transactional test has flushed (regions reloaded first)."""
    load_rows(json.loads(REGIONS.read_text(encoding="utf-8")))
    demo.load_demo_catalogue()
    return {b.programme.code: b for b in Batch.objects.select_related("programme")}


@pytest.fixture
def desktop_page(chromium, live_server) -> Callable[[], Page]:
    """Opens pages in desktop-sized contexts of their own (one per reviewer, each with its own session)."""
    contexts = []

    def open_page() -> Page:
        context = chromium.new_context(
            viewport={"width": 1280, "height": 900}, locale="zh-CN", base_url=live_server.url
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


# --- People ----------------------------------------------------------------------------------------------


def candidate(real_name: str, doc_number: str | None = None) -> User:
    """A registered candidate with an accepted photo, through the services."""
    return with_photo(register_candidate(real_name=real_name, doc_number=doc_number or make_id_number()))


def sign_in(page: Page, username: str, password: str, path: str = "/accounts/login/") -> None:
    """Open ``path`` (a login-protected page leads to the login form) and log in with captcha test mode."""
    page.goto(path)
    page.get_by_label("用户名或证件号码").fill(username)
    page.get_by_label("密码").fill(password)
    page.locator("#id_captcha_1").fill("PASSED")
    page.get_by_role("button", name="登录", exact=True).click()


def sign_out_on_phone(page: Page) -> None:
    page.get_by_role("button", name="展开菜单").click()
    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("link", name="考生登录")).to_be_visible()


def reviewer(desktop_page: Callable[[], Page], username: str) -> Page:
    page = desktop_page()
    sign_in(page, username, demo.STAFF_PASSWORD, "/review/")
    expect(page.get_by_role("heading", name="审核队列")).to_be_visible()
    return page


# --- Candidate pages -----------------------------------------------------------------------------------


def start(page: Page, batch: Batch, kind: str | None = None) -> str:
    """From the candidate centre to 我的报名, then 报名 on ``batch`` (as 新考生/补考生 if asked); returns
    the 报名号 shown on the first step."""
    page.get_by_role("link", name="我的报名 · 可报考试").click()
    card = page.get_by_role("region", name=batch.name)
    expect(card.get_by_test_id("status")).to_have_text("未报考")
    if kind:
        card.get_by_label(kind).check()
    card.get_by_role("button", name="报名", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("已开始报名")
    return re.search(r"报名号 (\d+)", page.get_by_role("status").first.inner_text()).group(1)


def on_step(page: Page, label: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(label)
    expect(page.get_by_role("list", name="报名步骤").locator("[aria-current=step]")).to_contain_text(label)


def expect_done(page: Page, *labels: str) -> None:
    """The progress list marks each of ``labels`` as finished."""
    progress = page.get_by_role("list", name="报名步骤")
    for label in labels:
        expect(progress.get_by_role("listitem").filter(has_text=label)).to_contain_text("（已完成）")


def after_htmx(page: Page, action: Callable[[], None]) -> None:
    """Run ``action`` and wait until the htmx request it triggers has been swapped in and settled."""
    page.evaluate(
        "() => { window.__kaowuSettled = new Promise(resolve =>"
        " document.body.addEventListener('htmx:afterSettle', resolve, {once: true})); }"
    )
    action()
    # evaluate() itself has no timeout: fail after the context's default wait rather than hang.
    page.evaluate(
        "() => Promise.race([window.__kaowuSettled, new Promise((_, reject) =>"
        " setTimeout(() => reject(new Error('htmx did not swap the page in 10 s')), 10000))])"
    )


def commitment(page: Page) -> None:
    on_step(page, "阅读须知与承诺")
    page.get_by_role("button", name="同意，下一步").click()
    expect(page.locator("#error-summary")).to_contain_text("请阅读报考须知和承诺书")
    page.get_by_label("我已阅读并同意").check()
    page.get_by_role("button", name="同意，下一步").click()


def personal(page: Page, province: str, city: str | None = None) -> None:
    on_step(page, "确认个人信息")
    after_htmx(page, lambda: page.get_by_label("报考省份").select_option(label=province))
    if city:
        page.get_by_label("报考地市").select_option(label=city)
    page.get_by_role("button", name="确认个人信息，下一步").click()


def submit(page: Page, button: str = "提交报名") -> None:
    """Tick the confirmation on the 报名表 and submit; the status page follows."""
    expect(page.get_by_role("heading", level=1)).to_have_text("报名表 · 确认并提交")
    page.get_by_label("我确认以上报考信息无误").check()
    page.get_by_role("button", name=button).click()
    expect(page.get_by_role("status").first).to_contain_text("报名已提交")


def expect_status(page: Page, application: Application, label: str) -> None:
    """The status page of ``application``, reloaded, shows ``label``."""
    page.goto(f"/applications/{application.pk}/")
    expect(page.get_by_test_id("status")).to_have_text(label)


# --- Reviewer pages -------------------------------------------------------------------------------------


def decide_online(page: Page, number: str, button: str, reason: str = "") -> None:
    """Open the application from the queue, write ``reason`` if given, press ``button`` (审核通过 / 驳回修改)."""
    page.goto("/review/")
    page.get_by_role("link", name=number, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"报名 {number}")
    if reason:
        page.get_by_label("审核意见").fill(reason)
    page.get_by_role("button", name=button).click()
    expect(page.get_by_role("status").first).to_contain_text(f"报名号 {number}：已{button}。")


# --- Seed 004 -------------------------------------------------------------------------------------------


def test_seed_004_ccaa_candidate_applies_with_company_invoice_and_holds_seats(phone_page, batches):
    page, batch = phone_page, batches[demo.CCAA_EXAM]
    wang = candidate("王芳")
    company = Organisation.objects.get(name="北京京华拍卖有限公司")  # a demo company with a valid USCC
    wrong_check_char = company.uscc[:17] + ("1" if company.uscc[17] != "1" else "2")

    sign_in(page, wang.username, PASSWORD)
    start(page, batch)
    commitment(page)

    personal(page, "北京市")

    on_step(page, "发票信息")
    page.get_by_label("企业", exact=True).check()
    page.get_by_label("企业发票抬头").fill(company.name)
    page.get_by_label("统一社会信用代码（税号）").fill(wrong_check_char)
    page.get_by_role("button", name="保存，下一步").click()
    expect(page.locator("#error-summary")).to_contain_text("统一社会信用代码校验位不正确，请核对后重新输入。")
    screenshot(page, "apply-004-invoice-error")
    page.get_by_label("统一社会信用代码（税号）").fill(company.uscc.lower())  # typed in lower case
    page.get_by_role("button", name="保存，下一步").click()

    on_step(page, "选择级别、专业与科目")
    # Two subjects of the same sitting are refused with the reason.
    page.get_by_label("管理体系认证基础").check()
    page.get_by_label("产品认证基础").check()
    page.get_by_role("button", name="保存，下一步").click()
    expect(page.locator("#error-summary")).to_contain_text("每场只能选报一科")
    page.get_by_label("产品认证基础").uncheck()
    page.get_by_label("认证通用基础").check()
    page.get_by_label("质量管理体系").check()
    page.get_by_role("button", name="保存，下一步").click()

    on_step(page, "选择考区/考点")
    for sitting in ("第一场", "第二场", "第三场"):
        expect(page.get_by_text(f"{sitting}：余 400 个座位")).to_be_visible()
    screenshot(page, "apply-004-site")
    page.get_by_label("北京市").check()
    page.get_by_role("button", name="保存，下一步").click()

    expect_done(page, "阅读须知与承诺", "确认个人信息", "发票信息", "选择级别、专业与科目", "选择考区/考点")
    summary = page.get_by_role("region", name="报考信息")
    expect(summary).to_contain_text(f"企业 · 北京京华拍卖有限公司 · {company.uscc}")
    expect(summary).to_contain_text("北京市")
    expect(page.get_by_role("region", name="报考科目与费用")).to_contain_text("240.00")
    page.get_by_role("button", name="提交报名").click()
    expect(page.locator("#error-summary")).to_contain_text("我确认以上报考信息无误")
    screenshot(page, "apply-004-confirm")
    submit(page)

    expect(page.get_by_test_id("status")).to_have_text("待缴费")
    screenshot(page, "apply-004-status")
    application = Application.objects.get(candidate=wang, batch=batch)
    held = SiteCapacity.objects.filter(site=application.site).values_list("sitting__name", "held")
    assert application.site.name == "北京市"
    assert dict(held) == {"第一场": 1, "第二场": 1, "第三场": 1}


# --- Seed 000 -------------------------------------------------------------------------------------------


def auctioneer_steps(page: Page, subjects: list[str], work_years: str) -> None:
    """Seed 000 after 报名: commitment, 江苏/南京, the subjects given, no proofs; ends on the 报名表."""
    commitment(page)
    personal(page, "江苏省", "南京市")
    on_step(page, "选择级别、专业与科目")
    for name in subjects:
        page.get_by_label(name).check()
    page.get_by_label("专业工作年限（年）").fill(work_years)
    page.get_by_role("button", name="保存，下一步").click()
    on_step(page, "上传证明材料")
    page.get_by_role("button", name=re.compile("下一步")).click()


def test_seed_000_province_and_nation_review_with_a_return_and_a_retake_candidate(phone_page, desktop_page, batches):
    page, batch = phone_page, batches[demo.AUCTIONEER_EXAM]
    li = candidate("李娜")

    # (a) A new candidate applies; it waits for the province.
    sign_in(page, li.username, PASSWORD)
    number = start(page, batch, "新考生（报考全部科目）")
    auctioneer_steps(page, ["拍卖通论", "拍卖法律法规", "拍卖实务"], "3")
    submit(page)
    expect(page.get_by_test_id("status")).to_have_text("待审核（省级审核）")
    application = Application.objects.get(number=number)

    province = reviewer(desktop_page, "js_caa_province")
    decide_online(province, number, "审核通过")
    nation = reviewer(desktop_page, "caa_nation")
    nation.goto("/review/")
    nation.get_by_role("link", name=number, exact=True).click()
    nation.get_by_role("button", name="驳回修改").click()
    expect(nation.locator("#error-summary")).to_contain_text("请填写驳回或不通过的原因")
    decide_online(nation, number, "驳回修改", "专业工作年限填写有误，请按实际年限填写。")
    screenshot(nation, "review-000-returned")

    # The candidate reads the reason, corrects the subjects step and resubmits: the province again (REV-3).
    expect_status(page, application, "已驳回")
    expect(page.get_by_text("驳回原因：专业工作年限填写有误，请按实际年限填写。")).to_be_visible()
    screenshot(page, "apply-000-returned")
    page.get_by_role("link", name="修改报名信息").click()
    page.get_by_role("list", name="报名步骤").get_by_role("link", name="选择级别、专业与科目").click()
    on_step(page, "选择级别、专业与科目")
    expect(page.get_by_text("报名已被驳回")).to_be_visible()
    page.get_by_label("专业工作年限（年）").fill("5")
    page.get_by_role("button", name="保存，下一步").click()
    expect(page.get_by_role("region", name="报考信息")).to_contain_text("5 年")
    submit(page, "重新提交")
    expect(page.get_by_test_id("status")).to_have_text("待审核（省级审核）")

    decide_online(province, number, "审核通过")
    decide_online(nation, number, "审核通过", "材料齐全，符合报考条件。")
    expect_status(page, application, "待缴费")
    screenshot(page, "apply-000-awaiting-payment")
    sign_out_on_phone(page)

    # (b) A retake candidate carries the subject passed last year and registers the rest.
    zhao = candidate("赵磊")
    general = batch.programme.subjects.get(name="拍卖通论")
    subject_pass_record(
        actor=User.objects.get(username="caa_admin"), candidate=zhao, subject=general, year=batch.year - 1
    )
    sign_in(page, zhao.username, PASSWORD)
    number = start(page, batch, "补考生（只报未通过的科目）")
    commitment(page)
    page.get_by_role("list", name="报名步骤").get_by_role("link", name="新考生/补考生").click()
    on_step(page, "新考生/补考生")
    expect(page.get_by_text("考生类型：补考生")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="拍卖通论（A01）")).to_be_visible()
    page.get_by_role("link", name="下一步", exact=True).click()
    personal(page, "江苏省", "南京市")
    on_step(page, "选择级别、专业与科目")
    expect(page.get_by_text("已通过、成绩保留的科目（无需报考）")).to_be_visible()
    expect(page.get_by_label("拍卖通论")).to_be_disabled()
    screenshot(page, "apply-000-retake-subjects")
    page.get_by_label("拍卖法律法规").check()
    page.get_by_label("拍卖实务").check()
    page.get_by_label("专业工作年限（年）").fill("6")
    page.get_by_role("button", name="保存，下一步").click()
    page.get_by_role("button", name=re.compile("下一步")).click()
    expect(page.get_by_role("region", name="报考科目与费用")).to_contain_text("已通过、成绩保留：拍卖通论")
    submit(page)
    expect(page.get_by_test_id("status")).to_have_text("待审核（省级审核）")
    retake = Application.objects.get(number=number)
    assert sorted(retake.subjects.values_list("subject__name", flat=True)) == ["拍卖实务", "拍卖法律法规"]

    decide_online(province, number, "审核通过")
    decide_online(nation, number, "审核通过")
    expect_status(page, retake, "待缴费")


# --- Seed 002 -------------------------------------------------------------------------------------------


def economist_steps(page: Page) -> None:
    """Seed 002 after 报名: 江苏/南京, the Nanjing review point, the notices, 初级 工商管理 with both of its
    subjects, no proofs; ends on the 报名表."""
    personal(page, "江苏省", "南京市")
    on_step(page, "选择审核点")
    page.get_by_label("南京市人事考试中心审核点").check()
    page.get_by_role("button", name="保存，下一步").click()
    commitment(page)
    on_step(page, "选择级别、专业与科目")
    after_htmx(page, lambda: page.get_by_label("报考级别").select_option(label="初级"))
    after_htmx(page, lambda: page.get_by_label("报考专业").select_option(label="工商管理"))
    page.get_by_label("经济基础知识（初级）").check()
    page.get_by_label("工商管理专业知识和实务（初级）").check()
    page.get_by_label("专业工作年限（年）").fill("4")
    page.get_by_role("button", name="保存，下一步").click()
    on_step(page, "上传证明材料")
    page.get_by_role("button", name=re.compile("下一步")).click()
    expect_done(page, "确认个人信息", "选择审核点", "阅读须知与承诺", "选择级别、专业与科目", "上传证明材料")


def test_seed_002_auto_verification_and_a_dishonest_candidate_reviewed_online(phone_page, desktop_page, batches):
    page, batch = phone_page, batches[demo.ECONOMIST_EXAM]

    # Clean data: the automatic verification passes at submission.
    chen = candidate("陈静")
    sign_in(page, chen.username, PASSWORD)
    start(page, batch)
    economist_steps(page)
    summary = page.get_by_role("region", name="报考信息")
    expect(summary).to_contain_text("南京市人事考试中心审核点")
    expect(summary).to_contain_text("初级")
    submit(page)
    expect(page.get_by_test_id("status")).to_have_text("待缴费")
    expect(page.get_by_role("region", name="资格核验")).to_contain_text("身份、学历信息自动核验通过。")
    screenshot(page, "apply-002-auto")
    sign_out_on_phone(page)

    # On the 失信 list: the confirmation is required, then the review point decides online.
    doc_number = make_id_number()
    sun = candidate("孙强", doc_number)
    dishonest_entry_add(
        actor=None,
        programme=batch.programme,
        document_hash=document_number_hash(doc_number),
        document_masked=sun.candidate_profile.doc_number_masked,
        name=sun.real_name,
        reason="考试违纪，记入诚信档案",
    )
    sign_in(page, sun.username, PASSWORD)
    number = start(page, batch)
    economist_steps(page)
    expect(page.get_by_label("我确认以上报考信息无误")).to_have_count(0)
    page.get_by_role("link", name="阅读并确认告知").click()
    expect(page.get_by_role("heading", name="失信人员报考告知")).to_be_visible()
    expect(page.get_by_text("失信情形：考试违纪，记入诚信档案")).to_be_visible()
    screenshot(page, "apply-002-dishonest-notice")
    page.get_by_label("我已阅读上述告知，确认继续报名").check()
    page.get_by_role("button", name="确认", exact=True).click()
    expect(page.get_by_text("失信人员报考告知已确认")).to_be_visible()
    submit(page)
    expect(page.get_by_test_id("status")).to_have_text("待审核（审核点审核）")
    expect(page.get_by_role("region", name="资格核验")).to_contain_text("线上审核")

    point = reviewer(desktop_page, "js_cpta_point")
    point.goto("/review/")
    point.get_by_role("link", name=number, exact=True).click()
    expect(point.get_by_role("alert").filter(has_text="失信人员")).to_contain_text("确认失信人员报考告知")
    screenshot(point, "review-002-dishonest")
    decide_online(point, number, "审核通过", "已人工核验身份和学历信息。")
    expect_status(page, Application.objects.get(number=number), "待缴费")


# --- Seed 003 -------------------------------------------------------------------------------------------


def test_seed_003_candidate_chooses_site_and_position_and_is_approved_on_site(phone_page, desktop_page, batches):
    page, batch = phone_page, batches[demo.RECRUITMENT_EXAM]
    zhou = candidate("周敏")
    sign_in(page, zhou.username, PASSWORD)
    number = start(page, batch)

    personal(page, "江苏省", "南京市")
    on_step(page, "选择考区/考点")
    page.get_by_label("南京报考点（南京市人事考试中心）").check()
    page.get_by_role("button", name="保存，下一步").click()
    on_step(page, "选择岗位")
    expect(page.get_by_text("江苏省档案馆")).to_be_visible()
    page.get_by_label("02001 档案管理岗").check()
    page.get_by_role("button", name="确认选择，下一步").click()
    expect(page.get_by_role("region", name="报考信息")).to_contain_text("02001 档案管理岗（江苏省档案馆）")
    submit(page)

    expect(page.get_by_test_id("status")).to_have_text("待现场审核（审核点审核）")
    next_step = page.get_by_role("region", name="下一步")
    expect(next_step).to_contain_text("到南京报考点（南京市人事考试中心）现场审核")
    expect(next_step).to_contain_text("南京市秦淮区中山南路 4 号（演示地址）")
    screenshot(page, "apply-003-on-site")

    point = reviewer(desktop_page, "js_exam_point")
    point.get_by_role("link", name="现场审核").click()
    point.get_by_label("报名号或证件号码").fill(number)
    point.get_by_role("button", name="查找考生").click()
    case = point.get_by_role("region", name=batch.name)
    expect(case).to_contain_text(zhou.real_name)
    for original in ("身份证原件", "学历证书原件", "报名表"):
        case.get_by_label(original).check()
    screenshot(point, "review-003-on-site")
    case.get_by_role("button", name="审核通过").click()
    expect(point.get_by_role("status").first).to_contain_text(f"报名号 {number}：已审核通过。")

    expect_status(page, Application.objects.get(number=number), "审核通过")
    expect(page.get_by_text("恭喜您，报名成功")).to_be_visible()
    expect(page.get_by_role("region", name="审核进度")).to_contain_text("已核验：身份证原件、学历证书原件、报名表。")
    screenshot(page, "apply-003-approved")
