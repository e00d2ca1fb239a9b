"""The candidate's payment pages through the test client (PAY-1, PAY-3 … PAY-6): 网上缴费 with its fee
preview and buyer form, the order with 支付 / 支付完毕 / 取消订单, the sandbox gateway round trip, the
WeChat QR code, the printable receipt and its amount in capital numerals, 退考退费 once only, 更换考区/考点,
the member waiver, 我的订单 and the links from the application's status page. Bad input on every form."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from kaowu.applications import services as application_services
from kaowu.applications.tests.conftest import fill
from kaowu.applications.workflow import Status
from kaowu.catalog import demo
from kaowu.catalog.models import Batch, Programme, Site, SiteCapacity, WindowAction
from kaowu.catalog.services import WindowSpec, batch_copy, batch_publish, batch_set_windows
from kaowu.payments import services
from kaowu.payments.models import Membership, Order, OrderKind, Payment, Refund, SandboxTrade
from kaowu.payments.providers.base import PaymentResult, PaymentStart, PaymentStatus
from kaowu.payments.views import amount_in_words
from kaowu.payments.workflow import OrderStatus

from .conftest import BUYER, awaiting, gateway_pays, order_for, paid, start

pytestmark = pytest.mark.django_db

PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
DESKTOP_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def text(response) -> str:
    return response.content.decode()


def url(name: str, *args) -> str:
    return reverse(f"payments:{name}", args=args)


def buyer_data(**overrides) -> dict[str, str]:
    return {"buyer_name": BUYER.name, "buyer_phone": BUYER.phone, "buyer_email": BUYER.email, **overrides}


def page_messages(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def set_fees(code: str, **fees: int) -> Programme:
    """Programme fees, set as the back office's programme form would."""
    Programme.objects.filter(code=code).update(**fees)
    return Programme.objects.get(code=code)


def close_windows(batch: Batch, *actions: str) -> None:
    """Close the batch's windows for ``actions`` a minute ago, as the back office would."""
    closed = timezone.now() - timedelta(minutes=1)
    windows = [
        WindowSpec(w.action, w.opens_at, closed)
        if w.action in actions
        else WindowSpec(w.action, w.opens_at, w.closes_at)
        for w in batch.windows.all()
    ]
    batch_set_windows(actor=None, batch=batch, windows=windows)


@pytest.fixture
def client_a(client, cand_a):
    client.force_login(cand_a)
    return client


# --- 大写金额 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (0, "零元整"),
        (5, "伍分"),
        (50, "伍角"),
        (1000, "壹拾元整"),
        (8000, "捌拾元整"),
        (24000, "贰佰肆拾元整"),
        (100000, "壹仟元整"),
        (100006, "壹仟元零陆分"),
        (100400, "壹仟零肆元整"),
        (123456, "壹仟贰佰叁拾肆元伍角陆分"),
        (140950, "壹仟肆佰零玖元伍角"),  # the examples of 《支付结算办法》
        (600714, "陆仟零柒元壹角肆分"),
        (168032, "壹仟陆佰捌拾元叁角贰分"),
        (1640902, "壹万陆仟肆佰零玖元零贰分"),
        (10700053, "壹拾万柒仟元伍角叁分"),
        (10050000, "壹拾万零伍佰元整"),
        (1000100000, "壹仟万壹仟元整"),
        (10001000000, "壹亿零壹万元整"),
        (10000000100, "壹亿零壹元整"),
        (2147483647, "贰仟壹佰肆拾柒万肆仟捌佰叁拾陆元肆角柒分"),
    ],
)
def test_amount_in_capital_numerals(fen, words):
    assert amount_in_words(fen) == words


@pytest.mark.parametrize("fen", [-1, 10**18])
def test_amounts_out_of_range_are_refused(fen):
    with pytest.raises(ValueError):
        amount_in_words(fen)


# --- 网上缴费: the order is made (PAY-1, PAY-6) -----------------------------------------------------------


def test_the_pay_page_shows_the_site_the_fees_and_the_buyer_prefilled(world, cand_a, client_a, ccaa_app):
    response = client_a.get(url("pay", ccaa_app.pk))
    assert response.status_code == 200
    page = text(response)
    assert ccaa_app.site.name in page
    chosen = list(ccaa_app.subjects.select_related("subject"))
    assert len(chosen) == 3
    for line in chosen:
        assert line.subject.name in page
    assert re.search(r'data-testid="quantity">3<', page)
    assert re.search(r'data-testid="total">240\.00<', page)
    assert "订单一旦生成，不能修改所选考区/考点及科目。" in page
    form = response.context["form"]
    assert form["buyer_name"].value() == cand_a.real_name
    assert form["buyer_phone"].value() == cand_a.phone
    assert form["buyer_email"].value() == cand_a.email
    assert "fee" not in form.fields


def test_seed_000_shows_unit_price_quantity_and_total(world, cand_a, client_a, auction_app):
    page = text(client_a.get(url("pay", auction_app.pk)))
    fees = [line.subject.fee_fen for line in auction_app.subjects.select_related("subject")]
    assert len(fees) == auction_app.programme.subjects.count()  # a new candidate sits every subject
    for fee in set(fees):
        assert f">{services.yuan(fee)}<" in page  # 单价
    assert "单价（元）" in page and "购买数量" in page and "总价（元）" in page
    assert re.search(rf'data-testid="quantity">{len(fees)}<', page)
    assert re.search(rf'data-testid="total">{services.yuan(sum(fees))}<', page)


def test_posting_the_buyer_makes_the_order_and_shows_it(world, cand_a, client_a, ccaa_app):
    response = client_a.post(url("pay", ccaa_app.pk), buyer_data(buyer_phone="139 1234 5678"))
    order = Order.objects.get(application=ccaa_app)
    assert response.status_code == 302 and response.url == url("order", order.number)
    assert (order.status, order.kind, order.amount_fen) == (OrderStatus.UNPAID, OrderKind.SUBJECTS, 24000)
    assert (order.buyer_name, order.buyer_phone, order.buyer_email) == (BUYER.name, "13912345678", BUYER.email)
    # With a live order the pay page leads to it: an order is never made twice.
    again = client_a.get(url("pay", ccaa_app.pk))
    assert again.status_code == 302 and again.url == url("order", order.number)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"buyer_name": ""}, "buyer_name", "请填写购买人姓名。"),
        ({"buyer_name": "   "}, "buyer_name", "请填写购买人姓名。"),
        ({"buyer_phone": ""}, "buyer_phone", "请填写接收收据的手机号。"),
        ({"buyer_phone": "12345"}, "buyer_phone", "手机号"),
        ({"buyer_phone": "23912345678"}, "buyer_phone", "手机号"),
        ({"buyer_email": ""}, "buyer_email", "请填写接收收据的邮箱。"),
        ({"buyer_email": "not-an-email"}, "buyer_email", "请填写正确的邮箱地址。"),
    ],
)
def test_bad_buyer_input_is_refused_on_its_field(world, cand_a, client_a, ccaa_app, overrides, field, message):
    response = client_a.post(url("pay", ccaa_app.pk), buyer_data(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field], errors
    assert message in errors[field][0]
    assert not Order.objects.exists()


def test_an_application_not_awaiting_payment_has_nothing_to_pay(world, cand_a, client_a):
    draft = application_services.application_start(actor=cand_a, batch=world.batch(demo.CCAA_EXAM))
    response = client_a.get(url("pay", draft.pk))
    assert response.status_code == 302 and response.url == reverse("applications:detail", args=[draft.pk])
    assert page_messages(response) == ["报名当前状态为“填写中”，无需缴费。"]
    assert client_a.post(url("pay", draft.pk), buyer_data()).status_code == 302
    assert not Order.objects.exists()


def test_a_refusal_of_the_service_is_shown_on_the_form(world, cand_a, client_a, ccaa_app):
    close_windows(ccaa_app.batch, WindowAction.PAY)
    response = client_a.post(url("pay", ccaa_app.pk), buyer_data())
    assert response.status_code == 200
    assert "当前不在办理时间内" in " ".join(response.context["form"].non_field_errors())
    assert not Order.objects.exists()


# --- Registration fee or membership (PAY-5) --------------------------------------------------------------


def test_the_payer_chooses_the_registration_fee_or_the_membership(world, cand_a, client_a, ccaa_app):
    set_fees(demo.CCAA_EXAM, registration_fee_fen=30000, membership_fee_fen=100000)
    page = text(client_a.get(url("pay", ccaa_app.pk)))
    assert "缴纳注册费 300.00 元" in page
    assert "入会缴纳个人会员费 1000.00 元（免缴本年度注册费）" in page
    assert 'name="fee"' in page

    for fee, error in (("", "请选择缴纳注册费或入会缴纳个人会员费。"), ("gold", "请选择列表中的缴费项目。")):
        response = client_a.post(url("pay", ccaa_app.pk), buyer_data(fee=fee))
        assert response.context["form"].errors["fee"] == [error]
    assert not Order.objects.exists()

    response = client_a.post(url("pay", ccaa_app.pk), buyer_data(fee="membership"))
    order = Order.objects.get()
    assert response.url == url("order", order.number)
    assert (order.kind, order.amount_fen) == (OrderKind.MEMBERSHIP, 100000)


def test_the_registration_fee_is_charged_when_chosen(world, cand_a, client_a, ccaa_app):
    set_fees(demo.CCAA_EXAM, registration_fee_fen=30000, membership_fee_fen=100000)
    client_a.post(url("pay", ccaa_app.pk), buyer_data(fee="registration"))
    assert Order.objects.values_list("kind", "amount_fen").get() == (OrderKind.REGISTRATION, 30000)


def same_year_batch(world, code: str) -> Batch:
    source = world.batch(code)
    copy = batch_copy(
        actor=None, source=source, code=f"{source.code}-b", name=f"{source.name}（加考）", year=source.year
    )
    batch_publish(actor=None, batch=copy)
    return copy


def test_a_member_of_the_year_sees_the_waiver_and_pays_nothing(world, cand_a, client_a, ccaa_app):
    set_fees(demo.CCAA_EXAM, registration_fee_fen=30000, membership_fee_fen=100000)
    paid(ccaa_app, cand_a, join_membership=True)
    assert Membership.objects.filter(candidate=cand_a).exists()
    second = application_services.application_start(actor=cand_a, batch=same_year_batch(world, demo.CCAA_EXAM))
    fill(second, cand_a)
    with TestCase.captureOnCommitCallbacks(execute=True):
        application_services.application_submit(actor=cand_a, application=second)

    response = client_a.get(url("pay", second.pk))
    page = text(response)
    assert "会员免缴本年度注册费" in page and "确认会员免缴" in page
    assert 'name="fee"' not in page
    assert re.search(r'data-testid="total">0\.00<', page)

    response = client_a.post(url("pay", second.pk), buyer_data())
    order = Order.objects.get(application=second)
    assert response.url == url("order", order.number)
    assert (order.status, order.amount_fen) == (OrderStatus.WAIVED, 0)
    assert page_messages(response) == ["您是本年度个人会员，本次注册费免缴，无需支付。"]
    order_page = text(client_a.get(url("order", order.number)))
    assert "会员免缴，无需支付。" in order_page and 'id="pay-button"' not in order_page
    receipt = text(client_a.get(url("receipt", order.number)))
    assert "人民币零元整" in receipt and "会员免缴" in receipt


# --- The order: 支付, 支付完毕, 取消订单 (PAY-2) ------------------------------------------------------------


def test_the_unpaid_order_page_offers_every_enabled_provider_and_the_buttons(
    world, cand_a, client_a, ccaa_app, settings
):
    settings.PAYMENT_PROVIDERS = ["sandbox", "bank"]
    order = order_for(ccaa_app, cand_a)
    response = client_a.get(url("order", order.number))
    page = text(response)
    assert response.status_code == 200
    assert re.findall(r'name="provider" value="(\w+)"', page) == ["sandbox", "bank"]
    assert "模拟支付（测试）" in page and "网银支付" in page
    for button in ('id="pay-button"', 'id="paid-button"', 'id="cancel-order"'):
        assert button in page
    assert "若已扣款请点“支付完毕”查询，切勿重复支付" in page
    assert ccaa_app.number in page and "待缴费" in page
    assert order.expires_at.astimezone().strftime("%Y-%m-%d %H:%M") in page
    assert "24000" not in page and "240.00" in page


@pytest.mark.parametrize(("agent", "channel"), [(PHONE_UA, "wap"), (DESKTOP_UA, "page")])
def test_paying_goes_to_the_sandbox_gateway(world, cand_a, client_a, ccaa_app, agent, channel):
    order = order_for(ccaa_app, cand_a)
    response = client_a.post(url("start", order.number), {"provider": "sandbox"}, headers={"User-Agent": agent})
    payment = Payment.objects.get(order=order)
    assert response.status_code == 302
    assert response.url == url("sandbox_gateway", payment.number)
    assert (payment.provider, payment.channel, payment.amount_fen) == ("sandbox", channel, 24000)
    trade = SandboxTrade.objects.get(out_trade_no=payment.number)
    assert trade.notify_url == "http://testserver/payments/notify/sandbox/"
    assert trade.return_url == f"http://testserver/payments/orders/{order.number}/return/"
    assert client_a.get(response.url).status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "请选择支付方式。"),
        ({"provider": "paypal"}, "该支付方式暂不可用"),
        ({"provider": "alipay"}, "该支付方式暂不可用"),
    ],
)
def test_an_unknown_or_disabled_provider_is_refused(world, cand_a, client_a, ccaa_app, settings, data, message):
    settings.PAYMENT_PROVIDERS = ["sandbox", "bank"]
    order = order_for(ccaa_app, cand_a)
    response = client_a.post(url("start", order.number), data)
    assert response.status_code == 400
    assert message in response.context["provider_form"].errors["provider"][0]
    assert message in text(response)
    assert not Payment.objects.exists()


def test_a_closed_order_cannot_be_paid(world, cand_a, client_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    services.order_cancel(actor=cand_a, order=order)
    response = client_a.post(url("start", order.number), {"provider": "sandbox"})
    assert response.status_code == 302 and response.url == url("order", order.number)
    assert page_messages(response) == ["订单已关闭，请返回缴费页面重新下单。"]
    assert not Payment.objects.exists()
    page = text(client_a.get(url("order", order.number)))
    assert "已取消" in page and 'id="pay-button"' not in page


def test_coming_back_after_a_failed_payment_says_nothing_was_charged(world, cand_a, client_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    payment = start(order, cand_a)
    SandboxTrade.objects.filter(out_trade_no=payment.number).update(status="failed")  # the gateway's side
    response = client_a.get(url("returned", order.number), follow=True)
    assert "本次支付未成功，没有扣款，可重新支付。" in text(response)
    assert Payment.objects.get(pk=payment.pk).status == "failed"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.UNPAID


def test_paid_button_settles_a_payment_made_at_the_gateway(world, cand_a, client_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    client_a.post(url("start", order.number), {"provider": "sandbox"})
    response = client_a.post(url("check", order.number), follow=True)
    assert response.redirect_chain == [(url("order", order.number), 302)]
    assert "暂未查询到支付成功的记录" in text(response)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.UNPAID

    gateway_pays(Payment.objects.get(order=order))
    response = client_a.post(url("check", order.number))
    assert response.url == url("order", order.number)
    assert page_messages(response) == ["缴费成功。"]
    order.refresh_from_db()
    ccaa_app.refresh_from_db()
    assert (order.status, ccaa_app.status) == (OrderStatus.PAID, Status.PAID)
    page = text(client_a.get(url("order", order.number)))
    assert 'id="receipt-link"' in page and 'id="pay-button"' not in page and "支付成功" in page


def test_the_paid_button_is_post_only(world, cand_a, client_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    assert client_a.get(url("check", order.number)).status_code == 405


def test_paying_again_after_a_lost_notification_charges_nothing(world, cand_a, client_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    gateway_pays(start(order, cand_a))
    response = client_a.post(url("start", order.number), {"provider": "bank"})
    assert response.url == url("order", order.number)
    assert page_messages(response) == ["该订单已支付成功，无需再次支付。"]
    assert Payment.objects.filter(order=order).count() == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_wechat_on_a_desktop_shows_a_qr_code_with_the_paid_button(
    world, cand_a, client_a, ccaa_app, settings, monkeypatch
):
    settings.PAYMENT_PROVIDERS = ["sandbox", "wechat"]
    # Offered once its keys are set; the stand-in gateway below never uses them.
    keys = ("APP_ID", "MCH_ID", "PRIVATE_KEY", "APIV3_KEY", "PUBLIC_KEY")
    settings.PAYMENT_WECHAT = {**settings.PAYMENT_WECHAT, **{key: "set" for key in keys}}
    code = "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"

    class NativeGateway:
        """WeChat Pay's answer to a Native order: a code to show as a QR code."""

        def create_payment(self, request):
            assert request.channel == "native"
            return PaymentStart(qr_code=code)

        def query_payment(self, out_trade_no):
            return PaymentResult(out_trade_no=out_trade_no, status=PaymentStatus.PENDING)

    real = services.get_provider
    monkeypatch.setattr(services, "get_provider", lambda c, **kw: NativeGateway() if c == "wechat" else real(c, **kw))
    order = order_for(ccaa_app, cand_a)
    response = client_a.post(url("start", order.number), {"provider": "wechat"}, headers={"User-Agent": DESKTOP_UA})
    assert response.status_code == 200
    page = text(response)
    assert "请使用微信支付扫码支付" in page
    assert re.search(r'<svg [^>]*class="segno"', page) and "<path" in page
    assert code not in page  # drawn, not printed
    assert 'id="paid-button"' in page and url("check", order.number) in page
    assert Payment.objects.get(order=order).channel == "native"


def test_cancelling_asks_first_then_cancels(world, cand_a, client_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    response = client_a.post(url("cancel", order.number))
    assert response.status_code == 200
    assert 'id="confirm-cancel"' in text(response) and "确认取消订单" in text(response)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.UNPAID

    response = client_a.post(url("cancel", order.number), {"confirm": "1"})
    assert response.url == reverse("applications:detail", args=[ccaa_app.pk])
    assert "订单已取消" in page_messages(response)[0]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    ccaa_app.refresh_from_db()
    assert ccaa_app.status == Status.AWAITING_PAYMENT
    # A new order can be made after cancelling.
    assert client_a.get(url("pay", ccaa_app.pk)).status_code == 200


def test_a_paid_order_cannot_be_cancelled(world, cand_a, client_a, ccaa_app):
    order = paid(ccaa_app, cand_a)
    for data in ({}, {"confirm": "1"}):
        response = client_a.post(url("cancel", order.number), data)
        assert response.url == url("order", order.number)
        assert page_messages(response)[0].startswith("订单当前状态为“已支付”")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


# --- 收据 (PAY-6) -----------------------------------------------------------------------------------------


def test_the_receipt_of_a_paid_order(world, cand_a, client_a, ccaa_app):
    order = paid(ccaa_app, cand_a)  # the demo fill asked for a personal invoice
    payment = Payment.objects.get(order=order)
    response = client_a.get(url("receipt", order.number))
    assert response.status_code == 200
    page = text(response)
    for expected in (
        order.number,
        BUYER.name,
        "139****5678",
        cand_a.real_name,
        ccaa_app.number,
        ccaa_app.batch.name,
        "240.00",
        "人民币贰佰肆拾元整",
        "模拟支付（测试）",
        payment.provider_trade_no,
        "个人",
        order.invoice_title,
        ccaa_app.programme.owner.name,
        'onclick="window.print()"',
        "@media print",
    ):
        assert expected and expected in page, expected
    assert 'data-testid="refund-mark"' not in page


def test_an_unpaid_order_has_no_receipt(world, cand_a, client_a, ccaa_app):
    order = order_for(ccaa_app, cand_a)
    response = client_a.get(url("receipt", order.number))
    assert response.url == url("order", order.number)
    assert page_messages(response) == ["订单尚未支付成功，支付成功后才能查看收据。"]


def test_the_settlement_message_links_to_the_receipt(world, cand_a, client_a, ccaa_app):
    from kaowu.notifications.sms import locmem

    order = paid(ccaa_app, cand_a)
    sent = [m for m in locmem.outbox if m.event == "order_paid"]
    assert sent and url("receipt", order.number) in sent[-1].params.get("receipt", "")
    assert client_a.get(url("receipt", order.number)).status_code == 200


# --- 退考退费 (PAY-3) ---------------------------------------------------------------------------------------


def test_the_refund_page_shows_the_paid_subjects_the_window_and_the_rule(world, cand_a, client_a, ccaa_app):
    order = paid(ccaa_app, cand_a)
    page = text(client_a.get(url("refund", ccaa_app.pk)))
    for line in order.lines.all():
        assert line.description in page
    assert re.search(r'data-testid="total">240\.00<', page)
    assert "每人只有一次申请退款机会" in page
    assert 'data-testid="refund-window"' in page
    assert "我已知晓退考后报名作废且每人仅有一次退费机会" in page
    assert 'id="refund-button"' in page


def test_a_refund_needs_the_checkbox(world, cand_a, client_a, ccaa_app):
    paid(ccaa_app, cand_a)
    response = client_a.post(url("refund", ccaa_app.pk), {"reason": "时间冲突"})
    assert response.status_code == 200
    assert response.context["form"].errors["confirm"] == ["请先勾选“我已知晓退考后报名作废且每人仅有一次退费机会”。"]
    assert not Refund.objects.exists()
    ccaa_app.refresh_from_db()
    assert ccaa_app.status == Status.PAID


def test_a_refund_withdraws_the_application_and_is_once_only(world, cand_a, client_a, ccaa_app):
    order = paid(ccaa_app, cand_a)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client_a.post(url("refund", ccaa_app.pk), {"confirm": "on", "reason": "时间冲突"})
    assert response.url == url("order", order.number)
    assert "退费申请已提交" in page_messages(response)[0]
    refund = Refund.objects.get()
    assert (refund.order, refund.amount_fen, refund.reason, refund.kind) == (order, 24000, "时间冲突", "candidate")
    ccaa_app.refresh_from_db()
    assert ccaa_app.status == Status.WITHDRAWN
    assert not ccaa_app.seat_holds.exists()
    order.refresh_from_db()
    refund.refresh_from_db()
    order_page = text(client_a.get(url("order", order.number)))
    assert refund.number in order_page and refund.get_status_display() in order_page

    page = text(client_a.get(url("refund", ccaa_app.pk)))
    assert 'data-testid="refund-used"' in page and "不能再次申请" in page
    assert refund.get_status_display() in page
    assert 'id="refund-button"' not in page
    response = client_a.post(url("refund", ccaa_app.pk), {"confirm": "on"})
    assert response.status_code == 200
    assert Refund.objects.count() == 1

    receipt = text(client_a.get(url("receipt", order.number)))
    assert 'data-testid="refund-mark"' in receipt
    assert ("已退款" if order.status == OrderStatus.REFUNDED else "退款中") in receipt


def test_the_once_only_rule_holds_for_a_new_application_in_the_batch(world, cand_a, client_a, ccaa_app):
    first = paid(ccaa_app, cand_a)
    services.refund_request(actor=cand_a, order=first)
    again = awaiting(world, demo.CCAA_EXAM, cand_a)
    paid(again, cand_a)
    page = text(client_a.get(url("refund", again.pk)))
    assert 'data-testid="refund-used"' in page and 'id="refund-button"' not in page
    response = client_a.post(url("refund", again.pk), {"confirm": "on"})
    assert "每人每批次只有一次退费机会" in " ".join(response.context["form"].non_field_errors())
    assert "每人每批次只有一次退费机会" in text(response)
    again.refresh_from_db()
    assert again.status == Status.PAID


def test_nothing_to_refund_before_payment(world, cand_a, client_a, ccaa_app):
    page = text(client_a.get(url("refund", ccaa_app.pk)))
    assert "没有已缴费的订单" in page and 'id="refund-button"' not in page
    response = client_a.post(url("refund", ccaa_app.pk), {"confirm": "on"})
    assert response.context["form"].non_field_errors() == ["该报名没有已缴费的订单，无需退费。"]
    assert not Refund.objects.exists()


def test_no_refund_outside_its_window(world, cand_a, client_a, ccaa_app):
    paid(ccaa_app, cand_a)
    close_windows(ccaa_app.batch, WindowAction.REFUND)
    page = text(client_a.get(url("refund", ccaa_app.pk)))
    assert "当前不在退费时间内" in page and 'id="refund-button"' not in page
    response = client_a.post(url("refund", ccaa_app.pk), {"confirm": "on"})
    assert "当前不在办理时间内" in " ".join(response.context["form"].non_field_errors())
    assert "当前不在办理时间内" in text(response)
    assert not Refund.objects.exists()


# --- 更换考区/考点 (PAY-4) ------------------------------------------------------------------------------------


def other_site(application) -> Site:
    return Site.objects.filter(batch=application.batch).exclude(pk=application.site_id).order_by("pk").first()


def test_the_change_site_page_lists_the_other_sites_with_free_seats(world, cand_a, client_a, ccaa_app):
    paid(ccaa_app, cand_a)
    response = client_a.get(url("change_site", ccaa_app.pk))
    field = response.context["form"].fields["site"]
    assert ccaa_app.site not in field.queryset
    assert set(field.queryset) == set(Site.objects.filter(batch=ccaa_app.batch).exclude(pk=ccaa_app.site_id))
    target = other_site(ccaa_app)
    free = min(c.free for c in target.capacities.all())
    page = text(response)
    assert f"{target.name}（余 {free} 个座位）" in page
    assert 'data-testid="current-site"' in page and ccaa_app.site.name in page
    assert 'id="change-site-button"' in page


def test_changing_the_site_moves_the_seats(world, cand_a, client_a, ccaa_app):
    paid(ccaa_app, cand_a)
    old, target = ccaa_app.site, other_site(ccaa_app)
    response = client_a.post(url("change_site", ccaa_app.pk), {"site": target.pk})
    assert response.url == reverse("applications:detail", args=[ccaa_app.pk])
    assert page_messages(response) == [f"考区/考点已更换为“{target.name}”，费用不变。"]
    ccaa_app.refresh_from_db()
    assert ccaa_app.site == target
    assert {h.capacity.site_id for h in ccaa_app.seat_holds.select_related("capacity")} == {target.pk}
    assert all(c.held == 0 for c in SiteCapacity.objects.filter(site=old))


def test_a_full_site_is_refused_with_the_alternatives(world, cand_a, client_a, ccaa_app):
    paid(ccaa_app, cand_a)
    target = other_site(ccaa_app)
    SiteCapacity.objects.filter(site=target).update(capacity=F("held"))  # 名额调整: no seat left
    page = text(client_a.get(url("change_site", ccaa_app.pk)))
    assert f"{target.name}（已满）" in page
    response = client_a.post(url("change_site", ccaa_app.pk), {"site": target.pk})
    assert response.status_code == 200
    error = response.context["form"].errors["site"][0]
    assert error.startswith("此考点已满，请选择其他考点。尚有空余座位的考点：")
    ccaa_app.refresh_from_db()
    assert ccaa_app.site != target


@pytest.mark.parametrize("choice", ["another batch", "current", "", "nonsense"])
def test_bad_site_choices_are_refused(world, cand_a, client_a, ccaa_app, choice):
    paid(ccaa_app, cand_a)
    foreign = Site.objects.exclude(batch=ccaa_app.batch).first()
    value = {"another batch": foreign.pk, "current": ccaa_app.site_id, "": "", "nonsense": "x"}[choice]
    response = client_a.post(url("change_site", ccaa_app.pk), {"site": value})
    assert response.status_code == 200
    assert response.context["form"].errors["site"]
    site = ccaa_app.site
    ccaa_app.refresh_from_db()
    assert ccaa_app.site == site


def test_the_site_changes_only_after_payment(world, cand_a, client_a, ccaa_app):
    page = text(client_a.get(url("change_site", ccaa_app.pk)))
    assert "缴费成功后才能更换考区/考点" in page and 'id="change-site-button"' not in page
    response = client_a.post(url("change_site", ccaa_app.pk), {"site": other_site(ccaa_app).pk})
    assert "缴费成功后才能更换考区/考点" in " ".join(response.context["form"].non_field_errors())


# --- 我的订单 and the application's status page --------------------------------------------------------------


def test_my_orders_lists_every_order(world, cand_a, client_a, ccaa_app, auction_app):
    cancelled = order_for(ccaa_app, cand_a)
    services.order_cancel(actor=cand_a, order=cancelled)
    settled = paid(ccaa_app, cand_a)
    unpaid = order_for(auction_app, cand_a)
    page = text(client_a.get(url("orders")))
    assert page.count('data-testid="order-row"') == 3
    for order in (cancelled, settled, unpaid):
        assert order.number in page and url("order", order.number) in page
    assert "已取消" in page and "已支付" in page and "待支付" in page
    assert url("receipt", settled.number) in page and url("receipt", unpaid.number) not in page
    assert "240.00" in page and services.yuan(unpaid.amount_fen) in page
    assert 'href="/payments/orders/"' in page and "我的订单" in page  # the navigation item


def test_the_status_page_links_the_payment_pages(world, cand_a, client_a, ccaa_app):
    detail = reverse("applications:detail", args=[ccaa_app.pk])
    page = text(client_a.get(detail))
    assert f'href="{url("pay", ccaa_app.pk)}"' in page and "网上缴费" in page

    order = order_for(ccaa_app, cand_a)
    page = text(client_a.get(detail))
    assert 'data-testid="live-order"' in page and order.number in page
    assert f'href="{url("order", order.number)}"' in page and "继续支付" in page

    services.order_cancel(actor=cand_a, order=order)
    order = paid(ccaa_app, cand_a)
    page = text(client_a.get(detail))
    assert 'data-testid="paid-order"' in page and "已缴费" in page
    assert url("receipt", order.number) in page
    assert f'href="{url("change_site", ccaa_app.pk)}"' in page
    assert f'href="{url("refund", ccaa_app.pk)}"' in page

    close_windows(ccaa_app.batch, WindowAction.REFUND, WindowAction.CHANGE_SITE)
    page = text(client_a.get(detail))
    assert url("change_site", ccaa_app.pk) not in page and url("refund", ccaa_app.pk) not in page
    assert url("receipt", order.number) in page
