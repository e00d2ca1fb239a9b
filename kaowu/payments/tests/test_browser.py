"""End to end in headless Chromium (issue 5): candidates pay at a phone-sized viewport through Kaowu's pages
and the sandbox gateway's page, as seeds 004 (sections 9–13) and 000 (section 5) describe, and each test
checks what the candidate sees and what the database holds at the end.

Seed 004: 网上缴费 with the sandbox, 更换考区/考点, 退考退费 (once only). Seed 000: after province and nation
approve, one line per subject, paid through 网银 with a bank chosen, 我的订单 and the 收据 in capitals. The
sandbox paths: a failed payment, a payment left pending and one whose notification and return are lost
(settled by 支付完毕), and a cancelled order.

Tests run with eager Celery: the gateway's notification and the sandbox refund happen inside the request
that queues them. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from kaowu.accounts.models import User
from kaowu.applications import services as application_services
from kaowu.applications.models import Application
from kaowu.applications.tests import test_browser as applying
from kaowu.applications.tests.conftest import fill
from kaowu.applications.tests.test_browser import (
    auctioneer_steps,
    candidate,
    commitment,
    expect_status,
    on_step,
    personal,
    sign_in,
    start,
    submit,
)
from kaowu.catalog import demo
from kaowu.catalog.models import Batch, Site, SiteCapacity
from kaowu.conftest import PASSWORD, screenshot
from kaowu.payments.models import NotificationLog, Order, Payment, Refund, SandboxTrade

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The applications browser tests' demo catalogue fixture, shared (pytest finds fixtures by module attribute).
batches = applying.batches

GATEWAY_URL = re.compile(r"/payments/sandbox/[^/]+/$")


# --- Helpers --------------------------------------------------------------------------------------------


def fee_rows(scope: Page | Locator) -> list[tuple[str, str, str, str]]:
    """The lines of the 缴费明细 table in ``scope``: (项目, 单价, 数量, 金额) as shown."""
    table = scope.get_by_role("table", name="缴费明细")
    rows = table.locator("tbody").get_by_role("row")
    return [tuple(row.get_by_role("cell").all_inner_texts()) for row in rows.all()]


def expect_fee_lines(scope: Page | Locator, subjects: list[str], application: Application) -> None:
    """``scope`` lists one line per subject with the subject's fee as 单价 and 金额, the count as 购买数量,
    and a 总价 that is the sum of the lines."""
    fees = dict(application.subjects.values_list("subject__name", "subject__fee_fen"))
    rows = fee_rows(scope)
    assert [row[0] for row in rows] == subjects
    for name, unit, quantity, amount in rows:
        assert (unit, quantity, amount) == (f"{fees[name] / 100:.2f}", "1", f"{fees[name] / 100:.2f}")
    total = sum(Decimal(row[3]) for row in rows)
    expect(scope.get_by_test_id("quantity")).to_have_text(str(len(subjects)))
    expect(scope.get_by_test_id("total")).to_have_text(f"{total:.2f}")
    assert total * 100 == sum(fees.values())


def make_order(page: Page, email: str | None = None) -> Order:
    """On 网上缴费: keep the prefilled buyer (or change the e-mail), 确认缴费，生成订单; the order page follows."""
    if email:
        page.get_by_label("邮箱").fill(email)
    page.get_by_role("button", name="确认缴费，生成订单").click()
    expect(page.get_by_role("status").first).to_contain_text("订单已生成")
    expect(page.get_by_test_id("order-status")).to_have_text("待支付")
    number = page.get_by_role("heading", level=1).inner_text().removeprefix("订单").strip()
    return Order.objects.get(number=number)


def to_gateway(page: Page, provider: str, gateway_name: str, order: Order) -> None:
    """On the order page: choose ``provider`` and 支付; the gateway's page shows the order's amount."""
    page.get_by_label(provider).check()
    page.get_by_role("button", name="支付", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(gateway_name)
    expect(page.locator("#sandbox-amount")).to_have_text(f"¥{order.amount_fen / 100:.2f}")


def gateway_pays(page: Page, notify: str = "正常通知") -> None:
    """On the gateway's page: choose how the gateway notifies Kaowu and 确认支付."""
    page.get_by_label(notify).check()
    page.get_by_role("button", name="确认支付").click()


def expect_paid(page: Page, order: Order) -> None:
    """Back on the order page after paying: 缴费成功 and 已支付; the order is paid in the database."""
    expect(page.get_by_role("status").first).to_have_text("缴费成功。")
    expect(page.get_by_test_id("order-status")).to_have_text("已支付")
    expect(page.get_by_role("link", name="查看/打印收据")).to_be_visible()
    order.refresh_from_db()
    assert order.status == "paid"


def answer_lost(route: Route) -> None:
    """The gateway's page is posted and processed, but its answer (the redirect back to Kaowu) never reaches
    the phone: the connection drops, as when a payer leaves the gateway before it sends them back."""
    if route.request.method != "POST":
        route.continue_()
        return
    route.fetch(max_redirects=0)
    route.abort("internetdisconnected")


def awaiting_payment(user: User, batch: Batch) -> Application:
    """An application of ``batch`` submitted through the services; seed 004 takes payment straight away."""
    application = application_services.application_start(actor=user, batch=batch)
    fill(application, user)
    application_services.application_submit(actor=user, application=application)
    application.refresh_from_db()
    assert application.status == "awaiting_payment", application.status
    return application


def open_payment(page: Page, application: Application) -> None:
    """From the status page, 网上缴费."""
    expect_status(page, application, "待缴费")
    page.get_by_role("link", name="网上缴费").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("网上缴费")


def held(site: Site) -> dict[str, int]:
    return dict(SiteCapacity.objects.filter(site=site).values_list("sitting__name", "held"))


# --- Seed 004: pay, change the site, withdraw with a refund ----------------------------------------------


def test_seed_004_candidate_pays_changes_site_and_withdraws_with_a_refund(phone_page, batches):
    page, batch = phone_page, batches[demo.CCAA_EXAM]
    wang = candidate("王芳")

    sign_in(page, wang.username, PASSWORD)
    start(page, batch)
    commitment(page)
    personal(page, "北京市")
    on_step(page, "发票信息")
    page.get_by_label("个人", exact=True).check()
    page.get_by_role("button", name="保存，下一步").click()
    on_step(page, "选择级别、专业与科目")
    page.get_by_label("认证通用基础").check()
    page.get_by_label("质量管理体系").check()
    page.get_by_role("button", name="保存，下一步").click()
    on_step(page, "选择考区/考点")
    page.get_by_label("北京市").check()
    page.get_by_role("button", name="保存，下一步").click()
    submit(page)
    expect(page.get_by_test_id("status")).to_have_text("待缴费")
    application = Application.objects.get(candidate=wang, batch=batch)
    beijing, shanghai = Site.objects.get(batch=batch, name="北京市"), Site.objects.get(batch=batch, name="上海市")

    # 网上缴费: the site, one line per subject, the buyer prefilled; the e-mail is required.
    page.get_by_role("link", name="网上缴费").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("网上缴费")
    expect(page.get_by_test_id("site")).to_have_text("北京市")
    expect_fee_lines(page, ["认证通用基础", "质量管理体系"], application)
    expect(page.get_by_label("购买人姓名")).to_have_value("王芳")
    expect(page.get_by_label("手机号")).to_have_value(wang.phone)
    expect(page.get_by_label("邮箱")).to_have_value(wang.email)
    page.get_by_label("邮箱").fill("")
    page.get_by_role("button", name="确认缴费，生成订单").click()
    expect(page.locator("#error-summary")).to_contain_text("请填写接收收据的邮箱。")
    assert not Order.objects.filter(application=application).exists()
    screenshot(page, "pay-004-buyer-error")
    order = make_order(page, email="wangfang@example.com")
    expect(page.get_by_test_id("order-amount")).to_have_text("160.00")
    screenshot(page, "pay-004-order")

    # 模拟支付 → the gateway's page → 正常通知, 确认支付 → back at Kaowu, paid.
    to_gateway(page, "模拟支付（测试）", "模拟支付网关", order)
    screenshot(page, "pay-004-gateway")
    gateway_pays(page, "正常通知")
    expect_paid(page, order)
    screenshot(page, "pay-004-paid")
    page.get_by_role("link", name="返回报名状态").click()
    expect(page.get_by_test_id("status")).to_have_text("已缴费")
    expect(page.get_by_test_id("paid-order")).to_contain_text("已缴费")
    assert order.buyer_email == "wangfang@example.com"
    # Eager Celery: the gateway's notification arrived inside its POST and settled the order before the return.
    settled = Payment.objects.get(order=order, status="succeeded")
    assert list(NotificationLog.objects.filter(out_trade_no=settled.number).values_list("outcome", flat=True)) == [
        "settled"
    ]
    assert held(beijing) == {"第一场": 1, "第二场": 0, "第三场": 1}

    # 更换考区/考点: another city with room; the seats move, the fee stays.
    page.get_by_role("link", name="更换考区/考点").click()
    expect(page.get_by_test_id("current-site")).to_have_text("北京市")
    page.get_by_label("新的考区/考点").select_option(label="上海市（余 300 个座位）")
    screenshot(page, "pay-004-change-site")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status").first).to_have_text("考区/考点已更换为“上海市”，费用不变。")
    expect(page.get_by_test_id("status")).to_have_text("已缴费")
    application.refresh_from_db()
    assert application.site == shanghai
    assert held(beijing) == {"第一场": 0, "第二场": 0, "第三场": 0}
    assert held(shanghai) == {"第一场": 1, "第二场": 0, "第三场": 1}

    # 退考退费: the paid lines, the confirmation box, 申请退款 → refunded at once by the sandbox.
    page.get_by_role("link", name="退考退费").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("退考退费")
    expect_fee_lines(page, ["认证通用基础", "质量管理体系"], application)
    page.get_by_role("button", name="申请退款").click()
    expect(page.locator("#error-summary")).to_contain_text("我已知晓退考后报名作废且每人仅有一次退费机会")
    page.get_by_label("我已知晓退考后报名作废且每人仅有一次退费机会").check()
    screenshot(page, "pay-004-refund")
    page.get_by_role("button", name="申请退款").click()
    expect(page.get_by_role("status").first).to_contain_text("退费申请已提交，报名已作废")
    expect(page.get_by_test_id("order-status")).to_have_text("已退款")
    expect(page.get_by_test_id("application-status")).to_have_text("已放弃")
    expect(page.get_by_test_id("refund-row")).to_contain_text("已退款")
    screenshot(page, "pay-004-refunded")
    expect_status(page, application, "已放弃")
    expect(page.get_by_role("link", name="退考退费")).to_have_count(0)

    # The refund chance is used: the page says so and offers no button.
    page.goto(f"/payments/applications/{application.pk}/refund/")
    expect(page.get_by_test_id("refund-used")).to_contain_text("每人只有一次退费机会，不能再次申请。")
    expect(page.get_by_role("button", name="申请退款")).to_have_count(0)
    screenshot(page, "pay-004-refund-used")

    application.refresh_from_db()
    order.refresh_from_db()
    refund = Refund.objects.get(order=order)
    assert (application.status, order.status) == ("withdrawn", "refunded")
    assert (refund.kind, refund.status, refund.amount_fen) == ("candidate", "succeeded", order.amount_fen)
    assert held(shanghai) == {"第一场": 0, "第二场": 0, "第三场": 0}
    assert Payment.objects.filter(order=order, status="succeeded").count() == 1


# --- Seed 000: pay per subject through 网银 after both reviews --------------------------------------------


def test_seed_000_candidate_pays_per_subject_by_online_banking_after_review(phone_page, batches):
    page, batch = phone_page, batches[demo.AUCTIONEER_EXAM]
    li = candidate("李娜")
    subjects = ["拍卖通论", "拍卖法律法规", "拍卖实务"]

    sign_in(page, li.username, PASSWORD)
    number = start(page, batch, "新考生（报考全部科目）")
    auctioneer_steps(page, subjects, "3")
    submit(page)
    expect(page.get_by_test_id("status")).to_have_text("待审核（省级审核）")
    application = Application.objects.get(number=number)
    # The review workbench is driven click by click in kaowu/applications/tests/test_browser.py.
    for username in ("js_caa_province", "caa_nation"):
        application_services.review_approve(actor=User.objects.get(username=username), application=application)

    # 网上缴费: 单价, 购买数量 (the number of subjects) and 总价.
    open_payment(page, application)
    expect_fee_lines(page, subjects, application)
    screenshot(page, "pay-000-fees")
    order = make_order(page)
    assert (order.buyer_name, order.buyer_email) == ("李娜", li.email)

    # 网银: the bank must be chosen first.
    to_gateway(page, "网银支付", "网银支付", order)
    page.get_by_role("button", name="确认支付").click()
    expect(page.locator("#error-summary")).to_contain_text("请先选择付款银行，再确认支付。")
    expect(page.locator("#bank-error")).to_have_text("请先选择付款银行，再确认支付。")
    screenshot(page, "pay-000-bank-required")
    page.get_by_label("中国工商银行", exact=True).check()
    gateway_pays(page)
    expect_paid(page, order)

    # 我的订单 (from the phone menu) lists the order as paid; its 收据 gives the amount in capitals.
    page.get_by_role("button", name="展开菜单").click()
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="我的订单").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("我的订单")
    row = page.get_by_test_id("order-row").filter(has_text=order.number)
    expect(row).to_contain_text("已支付")
    expect(row).to_contain_text("¥600.00")
    screenshot(page, "pay-000-orders")
    row.get_by_role("link", name="收据").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("缴费收据")
    expect_fee_lines(page, subjects, application)
    expect(page.get_by_test_id("amount-words")).to_have_text("人民币陆佰元整")
    expect(page.get_by_role("article", name="缴费收据")).to_contain_text("网银支付")
    screenshot(page, "pay-000-receipt")

    expect_status(page, application, "已缴费")
    trade = SandboxTrade.objects.get(out_trade_no=Payment.objects.get(order=order, status="succeeded").number)
    assert (trade.provider, trade.bank) == ("bank", "中国工商银行")
    application.refresh_from_db()
    order.refresh_from_db()
    assert (application.status, order.status, order.amount_fen) == ("paid", "paid", 60000)


# --- Sandbox paths ---------------------------------------------------------------------------------------


def test_failed_payment_leaves_the_order_unpaid_and_paying_again_succeeds(phone_page, batches):
    page = phone_page
    zhou = candidate("周敏")
    application = awaiting_payment(zhou, batches[demo.CCAA_EXAM])
    sign_in(page, zhou.username, PASSWORD)
    open_payment(page, application)
    order = make_order(page)

    to_gateway(page, "模拟支付（测试）", "模拟支付网关", order)
    page.get_by_role("button", name="模拟支付失败").click()
    expect(page.get_by_role("alert")).to_contain_text("支付失败")
    expect(page.get_by_role("alert")).to_contain_text("没有扣款")
    screenshot(page, "pay-sandbox-failed")
    page.get_by_role("link", name="返回商户").click()
    expect(page.get_by_role("status").first).to_contain_text("本次支付未成功，没有扣款，可重新支付")
    expect(page.get_by_test_id("order-status")).to_have_text("待支付")
    expect(page.get_by_test_id("payment-row")).to_contain_text("支付失败")
    screenshot(page, "pay-sandbox-failed-back")
    order.refresh_from_db()
    assert order.status == "unpaid"

    to_gateway(page, "模拟支付（测试）", "模拟支付网关", order)
    gateway_pays(page)
    expect_paid(page, order)
    expect_status(page, application, "已缴费")
    statuses = sorted(Payment.objects.filter(order=order).values_list("status", flat=True))
    assert statuses == ["failed", "succeeded"]


def test_payment_left_pending_then_settled_by_paid_button_when_notification_is_lost(phone_page, batches):
    page = phone_page
    sun = candidate("孙强")
    application = awaiting_payment(sun, batches[demo.CCAA_EXAM])
    sign_in(page, sun.username, PASSWORD)
    open_payment(page, application)
    order = make_order(page)
    order_url = page.url

    # 暂不支付，返回商户: nothing paid, the order waits.
    to_gateway(page, "模拟支付（测试）", "模拟支付网关", order)
    page.get_by_role("button", name="暂不支付，返回商户").click()
    expect(page.get_by_test_id("order-status")).to_have_text("待支付")
    expect(page.get_by_role("status").first).to_contain_text("暂未查询到支付成功的记录")
    order.refresh_from_db()
    assert order.status == "unpaid"

    # Paid with 不发送通知, and the phone loses the way back from the gateway: Kaowu hears nothing.
    to_gateway(page, "模拟支付（测试）", "模拟支付网关", order)
    page.route(GATEWAY_URL, answer_lost)
    with page.expect_event("requestfailed", lambda request: GATEWAY_URL.search(request.url) is not None):
        gateway_pays(page, "不发送通知")
    page.unroute(GATEWAY_URL)
    order.refresh_from_db()
    assert order.status == "unpaid"
    trades = SandboxTrade.objects.filter(out_trade_no__in=order.payments.values("number"))
    assert sorted(trades.values_list("status", flat=True)) == ["pending", "succeeded"]

    # Back on the order page, 支付完毕 asks the gateway and settles the order.
    page.goto(order_url)
    expect(page.get_by_test_id("order-status")).to_have_text("待支付")
    screenshot(page, "pay-sandbox-before-paid-button")
    page.get_by_role("button", name="支付完毕").click()
    expect_paid(page, order)
    screenshot(page, "pay-sandbox-paid-button")
    expect_status(page, application, "已缴费")
    assert Payment.objects.filter(order=order, status="succeeded").count() == 1
    assert Payment.objects.filter(order=order).count() == 2
    assert not NotificationLog.objects.filter(out_trade_no__in=order.payments.values("number")).exists()


def test_cancelled_order_is_closed_and_payment_can_be_started_again(phone_page, batches):
    page = phone_page
    wu = candidate("吴婷")
    application = awaiting_payment(wu, batches[demo.CCAA_EXAM])
    sign_in(page, wu.username, PASSWORD)
    open_payment(page, application)
    order = make_order(page)

    # 取消订单 asks first; 不取消 leaves the order as it was.
    page.get_by_role("button", name="取消订单").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("取消订单")
    screenshot(page, "pay-sandbox-cancel-confirm")
    page.get_by_role("link", name="不取消，返回订单").click()
    expect(page.get_by_test_id("order-status")).to_have_text("待支付")
    page.get_by_role("button", name="取消订单").click()
    page.get_by_role("button", name="确认取消订单").click()

    # The status page says what to do next and offers 网上缴费 again.
    expect(page.get_by_role("status").first).to_contain_text("订单已取消")
    expect(page.get_by_test_id("status")).to_have_text("待缴费")
    screenshot(page, "pay-sandbox-cancelled")
    order.refresh_from_db()
    assert order.status == "cancelled"
    page.goto("/payments/orders/")
    expect(page.get_by_test_id("order-row").filter(has_text=order.number)).to_contain_text("已取消")
    expect_status(page, application, "待缴费")
    page.get_by_role("link", name="网上缴费").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("网上缴费")
    application.refresh_from_db()
    assert application.status == "awaiting_payment"
    assert list(Order.objects.filter(application=application).values_list("status", flat=True)) == ["cancelled"]
