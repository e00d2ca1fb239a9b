"""The finance back office: who may see what (every page × role and scope), the order filters and their
totals, the Excel export, manual refunds, retrying a failed refund, and the reconciliation page.

``ccaa_finance`` is finance of seed 004 (CCAA), ``caa_finance`` of the auctioneer programmes; ``sysadmin``
sees everything; ``caa_nation`` (a reviewer) and candidates may not open any finance page.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from kaowu.applications.workflow import Status as ApplicationStatus
from kaowu.catalog import demo
from kaowu.core.masking import mask_phone
from kaowu.core.models import AuditEntry
from kaowu.payments.finance.selectors import OrderFilters, finance_orders, order_totals
from kaowu.payments.models import Order, Refund, RefundKind
from kaowu.payments.providers.base import ProviderError
from kaowu.payments.providers.sandbox import SandboxProvider
from kaowu.payments.workflow import OrderStatus, RefundStatus

from .conftest import (  # noqa: F401  (fixtures)
    auction_app,
    awaiting,
    cand_a,
    cand_b,
    ccaa_app,
    gateway_pays,
    order_for,
    paid,
    start,
    world,
)

pytestmark = pytest.mark.django_db

LIST_PAGES = ["finance:orders", "finance:export", "finance:payments", "finance:refunds", "finance:reconciliation"]


@pytest.fixture
def ccaa_paid(ccaa_app, cand_a) -> Order:  # noqa: F811
    return paid(ccaa_app, cand_a)


@pytest.fixture
def auction_unpaid(auction_app, cand_a) -> Order:  # noqa: F811
    return order_for(auction_app, cand_a)


def as_staff(client, world, username: str):  # noqa: F811
    client.force_login(world.staff(username))
    return client


def refund_post(client, order: Order, reason: str = "考生因病无法参考，经批准全额退款", confirm: bool = True):
    data = {"reason": reason} | ({"confirm": "on"} if confirm else {})
    return client.post(reverse("finance:refund", args=[order.number]), data)


def gateway_refuses(monkeypatch, message: str = "商户账户余额不足") -> None:
    """The sandbox gateway cannot be reached for refunds until the patch is undone."""

    def refuse(self, request):
        raise ProviderError(message)

    monkeypatch.setattr(SandboxProvider, "refund", refuse)


# --- Who may open what ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LIST_PAGES)
@pytest.mark.parametrize(("username", "status"), [("ccaa_finance", 200), ("sysadmin", 200), ("caa_nation", 403)])
def test_list_pages_by_staff_role(client, world, name, username, status):  # noqa: F811
    response = as_staff(client, world, username).get(reverse(name))
    assert response.status_code == status
    if status == 403:
        assert "此页面仅供财务人员使用" in response.content.decode()


@pytest.mark.parametrize("name", LIST_PAGES)
def test_candidates_get_403_and_visitors_the_login_page(client, cand_a, name):  # noqa: F811
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    client.force_login(cand_a)
    assert client.get(url).status_code == 403


def test_order_pages_by_role_and_scope(
    client,
    world,  # noqa: F811
    cand_a,  # noqa: F811
    ccaa_paid,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    detail = reverse("finance:order", args=[ccaa_paid.number])
    assert as_staff(client, world, "ccaa_finance").get(detail).status_code == 200
    assert as_staff(client, world, "sysadmin").get(detail).status_code == 200
    assert as_staff(client, world, "caa_nation").get(detail).status_code == 403
    client.force_login(cand_a)
    assert client.get(detail).status_code == 403
    assert refund_post(client, ccaa_paid).status_code == 403

    # Finance of another programme: the order does not exist for them, nor can they refund or retry it.
    gateway_refuses(monkeypatch)
    outsider = as_staff(client, world, "caa_finance")
    assert outsider.get(detail).status_code == 404
    assert refund_post(outsider, ccaa_paid).status_code == 404
    as_staff(client, world, "ccaa_finance")
    with django_capture_on_commit_callbacks(execute=True):
        refund_post(client, ccaa_paid)
    refund = Refund.objects.get(order=ccaa_paid)
    assert refund.status == RefundStatus.FAILED
    as_staff(client, world, "caa_finance")
    retry = reverse("finance:refund_retry", args=[ccaa_paid.number, refund.number])
    assert client.post(retry).status_code == 404
    refund.refresh_from_db()
    assert refund.attempts == 1


def test_lists_stay_within_the_finance_scope(client, world, ccaa_paid, auction_unpaid):  # noqa: F811
    ccaa_batch = world.batch(demo.CCAA_EXAM)
    as_staff(client, world, "caa_finance")
    page = client.get(reverse("finance:orders")).content.decode()
    assert auction_unpaid.number in page and ccaa_paid.number not in page
    # Asking for the other programme's batch is refused and changes nothing.
    response = client.get(reverse("finance:orders"), {"batch": ccaa_batch.pk})
    assert response.context["form"].errors["batch"]
    assert ccaa_paid.number not in response.content.decode()
    assert ccaa_paid.payments.get().number not in client.get(reverse("finance:payments")).content.decode()

    as_staff(client, world, "sysadmin")
    page = client.get(reverse("finance:orders")).content.decode()
    assert auction_unpaid.number in page and ccaa_paid.number in page


def test_main_navigation_offers_finance_to_finance_staff_only(client, world):  # noqa: F811
    home = reverse("home")
    assert "财务管理" in as_staff(client, world, "ccaa_finance").get(home).content.decode()
    assert "财务管理" in as_staff(client, world, "sysadmin").get(home).content.decode()
    assert "财务管理" not in as_staff(client, world, "caa_nation").get(home).content.decode()


# --- Orders: filters, totals, masking ------------------------------------------------------------------------


@pytest.fixture
def ccaa_orders(world, ccaa_paid, cand_b):  # noqa: F811
    """A paid CCAA order of 张伟 (cand_a) and an unpaid one of 李𠀀明 (cand_b)."""
    unpaid = order_for(awaiting(world, demo.CCAA_EXAM, cand_b), cand_b)
    return ccaa_paid, unpaid


def listed(client, **params) -> list[str]:
    response = client.get(reverse("finance:orders"), params)
    assert response.status_code == 200
    return [order.number for order in response.context["page"]]


def test_order_filters(client, world, ccaa_orders, cand_a, cand_b):  # noqa: F811
    paid_order, unpaid = ccaa_orders
    as_staff(client, world, "ccaa_finance")
    assert set(listed(client)) == {paid_order.number, unpaid.number}
    assert listed(client, status="paid") == [paid_order.number]
    assert listed(client, status="unpaid") == [unpaid.number]
    assert listed(client, provider="sandbox") == [paid_order.number]
    assert listed(client, provider="bank") == []
    assert listed(client, q=paid_order.application.number) == [paid_order.number]
    assert listed(client, q=unpaid.number) == [unpaid.number]
    assert listed(client, q="𠀀") == [unpaid.number]
    assert listed(client, q=cand_a.phone) == [paid_order.number]
    assert listed(client, q=paid_order.payments.get().provider_trade_no) == [paid_order.number]
    today, tomorrow = timezone.localdate(), timezone.localdate() + timedelta(days=1)
    assert set(listed(client, date_from=today, date_to=today)) == {paid_order.number, unpaid.number}
    assert listed(client, date_from=tomorrow) == []
    assert listed(client, date_field="paid", date_from=today, date_to=today) == [paid_order.number]
    # A reversed range is reported, and ignored rather than guessed at.
    response = client.get(reverse("finance:orders"), {"date_from": tomorrow, "date_to": today})
    assert "截止日期不能早于起始日期" in response.content.decode()


def test_order_list_masks_names_and_phones(client, world, ccaa_orders, cand_a):  # noqa: F811
    page = as_staff(client, world, "ccaa_finance").get(reverse("finance:orders")).content.decode()
    assert "张*" in page and "李**" in page
    assert cand_a.real_name not in page and cand_a.phone not in page
    assert mask_phone(cand_a.phone) in page


def test_totals_of_the_filtered_orders_in_one_query(client, world, ccaa_orders, django_assert_num_queries):  # noqa: F811
    paid_order, unpaid = ccaa_orders
    orders = finance_orders(world.staff("ccaa_finance"), OrderFilters())
    with django_assert_num_queries(1):
        totals = order_totals(orders)
    assert (totals.count, totals.paid_count) == (2, 1)
    assert (totals.paid_fen, totals.unpaid_fen, totals.refunded_fen) == (paid_order.amount_fen, unpaid.amount_fen, 0)

    response = as_staff(client, world, "ccaa_finance").get(reverse("finance:orders"), {"status": "paid"})
    assert response.context["totals"].count == 1
    assert response.context["totals"].unpaid_fen == 0
    assert f"¥{paid_order.amount_fen // 100}.{paid_order.amount_fen % 100:02d}" in response.content.decode()


def test_totals_follow_refunds(client, world, ccaa_orders, django_capture_on_commit_callbacks):  # noqa: F811
    paid_order, _unpaid = ccaa_orders
    as_staff(client, world, "ccaa_finance")
    with django_capture_on_commit_callbacks(execute=True):
        refund_post(client, paid_order)
    totals = client.get(reverse("finance:orders")).context["totals"]
    assert (totals.paid_fen, totals.refunded_fen, totals.paid_count) == (0, paid_order.amount_fen, 0)


# --- Excel export --------------------------------------------------------------------------------------------


def test_export_writes_the_filtered_orders_and_is_audited(client, world, ccaa_orders, cand_a):  # noqa: F811
    paid_order, _unpaid = ccaa_orders
    payment = paid_order.payments.get()
    as_staff(client, world, "ccaa_finance")
    response = client.get(reverse("finance:export"), {"status": "paid", "q": cand_a.phone})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    sheet = load_workbook(BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows())
    header = [cell.value for cell in rows[0]]
    assert header == [
        "订单号", "报名号", "考生姓名", "手机号码", "批次", "费用类型", "金额（元）", "状态",
        "下单时间", "支付时间", "支付方式", "支付平台交易号", "退款状态",
    ]  # fmt: skip
    assert len(rows) == 2
    row = dict(zip(header, rows[1], strict=True))
    assert row["订单号"].value == paid_order.number
    assert row["报名号"].value == paid_order.application.number
    assert row["考生姓名"].value == cand_a.real_name
    assert row["手机号码"].value == mask_phone(cand_a.phone)
    assert Decimal(str(row["金额（元）"].value)) == Decimal(paid_order.amount_fen) / 100
    assert row["金额（元）"].number_format == "0.00"
    assert row["状态"].value == "已支付"
    assert row["支付方式"].value == "模拟支付（测试）"
    assert row["支付平台交易号"].value == payment.provider_trade_no
    assert row["支付时间"].value == timezone.localtime(paid_order.paid_at).replace(tzinfo=None, microsecond=0)

    entry = AuditEntry.objects.get(action="payments.finance.export")
    assert entry.actor == world.staff("ccaa_finance")
    assert entry.after["rows"] == 1
    assert entry.after["filters"]["status"] == "paid"
    assert entry.after["filters"]["search"] == mask_phone(cand_a.phone)


def test_export_never_turns_text_into_formulas(client, world, ccaa_paid, cand_a):  # noqa: F811
    # A name is whatever was typed at registration; Excel must show it, never run it.
    type(cand_a).objects.filter(pk=cand_a.pk).update(real_name='=HYPERLINK("http://evil.example","张伟")')
    response = as_staff(client, world, "ccaa_finance").get(reverse("finance:export"))
    cell = load_workbook(BytesIO(b"".join(response.streaming_content))).active["C2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://evil.example","张伟")', "s")


def test_export_never_leaves_the_scope(client, world, ccaa_orders, auction_unpaid):  # noqa: F811
    response = as_staff(client, world, "caa_finance").get(reverse("finance:export"))
    numbers = [row[0] for row in load_workbook(BytesIO(b"".join(response.streaming_content))).active.values]
    assert numbers[1:] == [auction_unpaid.number]


def test_export_refuses_invalid_filters(client, world, ccaa_orders):  # noqa: F811
    batch = world.batch(demo.CCAA_EXAM)
    response = as_staff(client, world, "caa_finance").get(reverse("finance:export"), {"batch": batch.pk})
    assert response.status_code == 302
    assert response.url.startswith(reverse("finance:orders"))
    assert not AuditEntry.objects.filter(action="payments.finance.export").exists()


def test_the_export_button_keeps_the_filters(client, world, ccaa_orders):  # noqa: F811
    page = as_staff(client, world, "ccaa_finance").get(reverse("finance:orders"), {"status": "paid", "page": 1})
    assert f'href="{reverse("finance:export")}?status=paid"' in page.content.decode()


# --- Order detail and manual refund --------------------------------------------------------------------------


def test_order_detail_shows_its_whole_story(client, world, ccaa_paid):  # noqa: F811
    payment = ccaa_paid.payments.get()
    page = as_staff(client, world, "ccaa_finance").get(reverse("finance:order", args=[ccaa_paid.number]))
    html = page.content.decode()
    assert ccaa_paid.application.number in html
    assert payment.number in html and payment.provider_trade_no in html
    assert "主动查询" in html  # settled by the 支付完毕 query
    assert "待支付 → 已支付" in html and "待支付 → 支付成功" in html
    assert "人工退款" in html and page.context["form"] is not None


def test_manual_refund_needs_a_reason_and_a_confirmation(client, world, ccaa_paid):  # noqa: F811
    as_staff(client, world, "ccaa_finance")
    response = refund_post(client, ccaa_paid, reason="   ")
    assert response.status_code == 400
    assert "请填写退款原因" in response.content.decode()
    response = refund_post(client, ccaa_paid, confirm=False)
    assert response.status_code == 400
    assert "请勾选确认后再办理退款" in response.content.decode()
    ccaa_paid.refresh_from_db()
    assert ccaa_paid.status == OrderStatus.PAID
    assert not Refund.objects.exists()


def test_manual_refund(client, world, ccaa_paid, django_capture_on_commit_callbacks):  # noqa: F811
    finance = world.staff("ccaa_finance")
    client.force_login(finance)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = refund_post(client, ccaa_paid, reason="重复报名，考生申请退款")
    assert response.status_code == 302
    assert response.url == reverse("finance:order", args=[ccaa_paid.number])
    ccaa_paid.refresh_from_db()
    ccaa_paid.application.refresh_from_db()
    assert ccaa_paid.status == OrderStatus.REFUNDING
    assert ccaa_paid.application.status == ApplicationStatus.WITHDRAWN
    refund = Refund.objects.get(order=ccaa_paid)
    assert (refund.kind, refund.requested_by, refund.reason) == (RefundKind.MANUAL, finance, "重复报名，考生申请退款")
    audit = AuditEntry.objects.filter(actor=finance).values_list("action", flat=True)
    assert {"payments.order.refund", "payments.refund.request"} <= set(audit)

    for callback in callbacks:  # the refund goes to the gateway after commit
        callback()
    ccaa_paid.refresh_from_db()
    refund.refresh_from_db()
    assert (ccaa_paid.status, refund.status) == (OrderStatus.REFUNDED, RefundStatus.SUCCEEDED)
    page = client.get(response.url)
    assert "已办理退款" in page.content.decode()
    assert page.context["form"] is None  # nothing left to refund

    # A second refund of the same order is refused with the reason, not a crash.
    response = client.post(reverse("finance:refund", args=[ccaa_paid.number]), {"reason": "再退一次", "confirm": "on"})
    assert response.status_code == 302
    assert "已申请退款，请勿重复申请" in client.get(response.url).content.decode()


# --- Failed refunds and retry --------------------------------------------------------------------------------


def test_failed_refund_is_shown_first_and_retried(
    client,
    world,  # noqa: F811
    ccaa_orders,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    paid_order, _unpaid = ccaa_orders
    as_staff(client, world, "ccaa_finance")
    gateway_refuses(monkeypatch, "商户账户余额不足")
    with django_capture_on_commit_callbacks(execute=True):
        refund_post(client, paid_order)
    refund = Refund.objects.get(order=paid_order)
    assert (refund.status, refund.attempts, refund.last_error) == (RefundStatus.FAILED, 1, "商户账户余额不足")

    response = client.get(reverse("finance:refunds"))
    assert response.context["page"][0].number == refund.number
    html = response.content.decode()
    assert "退款失败，需处理" in html and "商户账户余额不足" in html and "table-danger" in html
    assert [r.number for r in client.get(reverse("finance:refunds"), {"status": "succeeded"}).context["page"]] == []
    assert [r.number for r in client.get(reverse("finance:refunds"), {"kind": "manual"}).context["page"]] == [
        refund.number
    ]

    retry = reverse("finance:refund_retry", args=[paid_order.number, refund.number])
    assert "重试退款" in client.get(reverse("finance:order", args=[paid_order.number])).content.decode()
    # Still failing: the error is kept and finance is told what to do.
    response = client.post(retry, follow=True)
    assert "再次失败" in response.content.decode()
    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == (RefundStatus.FAILED, 2)

    monkeypatch.undo()
    response = client.post(retry, follow=True)
    assert "已成功" in response.content.decode()
    refund.refresh_from_db()
    paid_order.refresh_from_db()
    assert (refund.status, refund.attempts, paid_order.status) == (RefundStatus.SUCCEEDED, 3, OrderStatus.REFUNDED)
    assert AuditEntry.objects.filter(actor=world.staff("ccaa_finance"), action="payments.refund.retry").count() == 2

    # Nothing to retry any more: refused with the reason.
    response = client.post(retry, follow=True)
    assert "不能重试退款" in response.content.decode()


def test_payments_list_filters(client, world, ccaa_orders):  # noqa: F811
    paid_order, unpaid = ccaa_orders
    pending = start(unpaid, unpaid.candidate)
    settled = paid_order.payments.get()
    as_staff(client, world, "ccaa_finance")

    def numbers(**params) -> set[str]:
        return {p.number for p in client.get(reverse("finance:payments"), params).context["page"]}

    assert numbers() == {settled.number, pending.number}
    assert numbers(status="succeeded") == {settled.number}
    assert numbers(status="pending") == {pending.number}
    assert numbers(provider="bank") == set()
    assert numbers(batch=world.batch(demo.CCAA_EXAM).pk, q=unpaid.number) == {pending.number}
    assert numbers(date_from=timezone.localdate() + timedelta(days=1)) == set()


# --- Reconciliation ------------------------------------------------------------------------------------------


def reconciliation_page(client, provider: str = "sandbox"):
    return client.get(reverse("finance:reconciliation"), {"provider": provider, "day": timezone.localdate()})


def test_reconciliation_agrees_when_every_payment_is_recorded(client, world, ccaa_paid):  # noqa: F811
    response = reconciliation_page(as_staff(client, world, "ccaa_finance"))
    report = response.context["report"]
    assert report.ok and (report.gateway_count, report.kaowu_count) == (1, 1)
    assert "对账一致" in response.content.decode()


def test_reconciliation_shows_the_mismatches(client, world, ccaa_paid, auction_unpaid, cand_a):  # noqa: F811
    # Paid at the gateway, but its notification never reached Kaowu.
    lost = start(auction_unpaid, cand_a)
    gateway_pays(lost)
    # A programme's finance sees the whole gateway report: a bill cannot be split by programme.
    response = reconciliation_page(as_staff(client, world, "ccaa_finance"))
    html = response.content.decode()
    assert not response.context["report"].ok
    assert [(m.kind, m.out_trade_no) for m in response.context["report"].mismatches] == [
        ("missing_in_kaowu", lost.number)
    ]
    assert 'data-kind="missing_in_kaowu"' in html and lost.number in html and "平台漏记收款" in html
    assert f"{auction_unpaid.amount_fen // 100}.{auction_unpaid.amount_fen % 100:02d}" in html


def test_reconciliation_without_a_bill_says_how_to_get_one(client, world, settings):  # noqa: F811
    settings.PAYMENT_PROVIDERS = ["sandbox", "alipay"]
    response = reconciliation_page(as_staff(client, world, "sysadmin"), provider="alipay")
    assert response.status_code == 200
    assert response.context["report"] is None
    html = response.content.decode()
    assert "对账单" in html and "reconcile_payments" in html and "--bill" in html


def test_reconciliation_form_offers_enabled_providers_and_starts_empty(client, world):  # noqa: F811
    response = as_staff(client, world, "caa_finance").get(reverse("finance:reconciliation"))
    assert [code for code, _label in response.context["form"].fields["provider"].choices] == ["sandbox", "bank"]
    assert response.context["report"] is None
