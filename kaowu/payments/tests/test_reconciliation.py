"""对账 (PAY-2): Kaowu's payments and refunds, made through the services, against the sandbox gateway's ledger
(whose rows a test may change, as the gateway's side of a broken day) or against records from a bill."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase
from django.utils import timezone

from kaowu.catalog import demo
from kaowu.core.errors import KaowuError
from kaowu.payments import services
from kaowu.payments.models import Order, Payment, Refund, SandboxRefund, SandboxTrade, SandboxTradeStatus
from kaowu.payments.providers.base import RefundRequest
from kaowu.payments.providers.sandbox import SandboxProvider
from kaowu.payments.reconciliation import SHANGHAI, GatewayRecord, Mismatch, reconcile, sandbox_records

from .conftest import awaiting, gateway_pays, order_for, paid, start

pytestmark = pytest.mark.django_db


def today() -> date:
    return timezone.localtime(timezone.now(), SHANGHAI).date()


def at(day: date, hh: int, mm: int, ss: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=SHANGHAI)


def payment_of(order: Order) -> Payment:
    return order.payments.get(status="succeeded")


def trade_of(order: Order) -> SandboxTrade:
    return SandboxTrade.objects.get(out_trade_no=payment_of(order).number)


def refunded(order: Order, actor) -> Refund:
    """退考退费 through the service, the refund sent to the sandbox gateway by its task."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund = services.refund_request(actor=actor, order=order)
    refund.refresh_from_db()
    assert refund.status == "succeeded", refund.status
    return refund


def kinds(report) -> list[str]:
    return [m.kind for m in report.mismatches]


def only(report) -> Mismatch:
    assert len(report.mismatches) == 1, report.mismatches
    return report.mismatches[0]


def paid_near_midnight(application, actor, *, kaowu_at: datetime, gateway_at: datetime) -> Order:
    """An order paid at the gateway at ``kaowu_at`` (and so recorded by Kaowu, which takes the gateway's time),
    whose ledger then books it at ``gateway_at``, on the other side of midnight."""
    order = order_for(application, actor)
    trade = gateway_pays(start(order, actor))
    trade.paid_at = kaowu_at
    trade.save()
    order = services.payment_check(actor=actor, order=order)
    assert order.status == "paid"
    assert payment_of(order).paid_at == kaowu_at
    trade.paid_at = gateway_at
    trade.save()
    return order


@pytest.fixture
def second_app(world, cand_b):
    return awaiting(world, demo.CCAA_EXAM, cand_b)


# -- a clean day -----------------------------------------------------------------------------------------------


def test_clean_day_with_payments_and_a_refund_is_ok(ccaa_app, cand_a, second_app, cand_b):
    first = order_for(ccaa_app, cand_a)
    start(first, cand_a)  # abandoned at the gateway: no money moved on either side
    gateway_pays(start(first, cand_a))
    with TestCase.captureOnCommitCallbacks(execute=True):
        first = services.payment_check(actor=cand_a, order=first)
    second = paid(second_app, cand_b)
    refund = refunded(second, cand_b)

    report = reconcile(provider="sandbox", day=today())

    assert report.ok, report.mismatches
    total = first.amount_fen + second.amount_fen
    assert (report.gateway_count, report.kaowu_count) == (2, 2)
    assert (report.gateway_total_fen, report.kaowu_total_fen) == (total, total)
    assert (report.gateway_refund_count, report.kaowu_refund_count) == (1, 1)
    assert report.gateway_refund_total_fen == report.kaowu_refund_total_fen == refund.amount_fen == second.amount_fen
    assert (report.provider, report.day) == ("sandbox", today())


def test_each_channel_is_reconciled_on_its_own(ccaa_app, cand_a, second_app, cand_b):
    by_sandbox = paid(ccaa_app, cand_a)
    by_bank = order_for(second_app, cand_b)
    gateway_pays(start(by_bank, cand_b, provider="bank"))
    by_bank = services.payment_check(actor=cand_b, order=by_bank)
    assert by_bank.status == "paid"

    sandbox, bank = reconcile(provider="sandbox", day=today()), reconcile(provider="bank", day=today())

    assert sandbox.ok and bank.ok
    assert (sandbox.gateway_count, sandbox.kaowu_count, sandbox.kaowu_total_fen) == (1, 1, by_sandbox.amount_fen)
    assert (bank.gateway_count, bank.kaowu_count, bank.kaowu_total_fen) == (1, 1, by_bank.amount_fen)


def test_another_day_is_empty_and_ok(ccaa_app, cand_a):
    paid(ccaa_app, cand_a)
    report = reconcile(provider="sandbox", day=today() - timedelta(days=3))
    assert report.ok
    assert (report.gateway_count, report.kaowu_count, report.gateway_total_fen, report.kaowu_total_fen) == (0, 0, 0, 0)


def test_sandbox_records_read_the_ledger_of_the_day(ccaa_app, cand_a):
    order = paid(ccaa_app, cand_a)
    refund = refunded(order, cand_a)
    payment, trade = payment_of(order), trade_of(order)

    records = sandbox_records(provider="sandbox", day=today())

    ledger_refund = SandboxRefund.objects.get()
    assert records == [
        GatewayRecord("sandbox", "payment", payment.number, "", trade.trade_no, order.amount_fen, trade.paid_at),
        GatewayRecord(
            "sandbox",
            "refund",
            payment.number,
            refund.number,
            ledger_refund.refund_no,
            refund.amount_fen,
            ledger_refund.created_at,
        ),
    ]
    assert all(record.at.tzinfo is not None and record.at.utcoffset() == timedelta(hours=8) for record in records)
    assert sandbox_records(provider="bank", day=today()) == []
    assert sandbox_records(provider="sandbox", day=today() + timedelta(days=1)) == []


# -- payments --------------------------------------------------------------------------------------------------


def test_money_taken_but_notification_lost_is_missing_in_kaowu_until_settled(ccaa_app, cand_a):
    order = order_for(ccaa_app, cand_a)
    payment = start(order, cand_a)
    gateway_pays(payment)  # the notification never arrives

    report = reconcile(provider="sandbox", day=today())

    mismatch = only(report)
    assert mismatch.kind == "missing_in_kaowu"
    assert mismatch.label == "平台漏记收款"
    assert (mismatch.out_trade_no, mismatch.out_refund_no) == (payment.number, "")
    assert (mismatch.kaowu_amount_fen, mismatch.gateway_amount_fen) == (None, order.amount_fen)
    assert "支付完毕" in mismatch.detail and "payments_housekeeping" in mismatch.detail
    assert "待支付" in mismatch.detail  # the payment's state in Kaowu
    assert (report.gateway_count, report.kaowu_count) == (1, 0)

    # What the detail tells finance to do settles it, and the day reconciles.
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.payment_check(actor=cand_a, order=order)
    assert reconcile(provider="sandbox", day=today()).ok


def test_payment_the_gateway_does_not_have_is_missing_at_gateway(ccaa_app, cand_a):
    order = paid(ccaa_app, cand_a)
    payment = payment_of(order)
    SandboxTrade.objects.filter(out_trade_no=payment.number).update(status=SandboxTradeStatus.FAILED)

    report = reconcile(provider="sandbox", day=today())

    mismatch = only(report)
    assert mismatch.kind == "missing_at_gateway"
    assert mismatch.label == "支付平台无此收款"
    assert (mismatch.out_trade_no, mismatch.kaowu_amount_fen, mismatch.gateway_amount_fen) == (
        payment.number,
        order.amount_fen,
        None,
    )
    assert order.number in mismatch.detail and "商户后台" in mismatch.detail
    assert (report.gateway_count, report.kaowu_count, report.kaowu_total_fen) == (0, 1, order.amount_fen)


def test_empty_bill_leaves_every_kaowu_payment_missing_at_gateway(ccaa_app, cand_a):
    order = paid(ccaa_app, cand_a)
    report = reconcile(provider="sandbox", day=today(), records=[])
    assert kinds(report) == ["missing_at_gateway"]
    assert report.mismatches[0].out_trade_no == payment_of(order).number


def test_amount_differing_by_one_fen_is_reported_exactly(ccaa_app, cand_a):
    order = paid(ccaa_app, cand_a)
    SandboxTrade.objects.filter(out_trade_no=payment_of(order).number).update(amount_fen=order.amount_fen - 1)

    report = reconcile(provider="sandbox", day=today())

    mismatch = only(report)
    assert mismatch.kind == "amount_differs"
    assert mismatch.label == "收款金额不一致"
    assert (mismatch.kaowu_amount_fen, mismatch.gateway_amount_fen) == (order.amount_fen, order.amount_fen - 1)
    assert services.yuan(order.amount_fen) in mismatch.detail and services.yuan(order.amount_fen - 1) in mismatch.detail
    assert (report.gateway_total_fen, report.kaowu_total_fen) == (order.amount_fen - 1, order.amount_fen)


def test_gateway_trade_kaowu_never_created_is_unknown(ccaa_app, cand_a):
    paid(ccaa_app, cand_a)
    foreign = SandboxTrade.objects.create(
        out_trade_no="XOTHERSYSTEM0001",
        provider="sandbox",
        trade_no="SB-FOREIGN-1",
        amount_fen=12345,
        subject="其他系统的交易",
        notify_url="/elsewhere/",
        return_url="/elsewhere/",
        expires_at=timezone.now(),
        status=SandboxTradeStatus.SUCCEEDED,
        paid_at=timezone.now(),
    )

    report = reconcile(provider="sandbox", day=today())

    mismatch = only(report)
    assert mismatch.kind == "unknown_trade"
    assert mismatch.label == "平台无此流水号"
    assert (mismatch.out_trade_no, mismatch.kaowu_amount_fen, mismatch.gateway_amount_fen) == (
        foreign.out_trade_no,
        None,
        12345,
    )
    assert "123.45" in mismatch.detail
    assert report.gateway_count == 2 and report.kaowu_count == 1


def test_payment_number_of_another_channel_is_unknown_to_this_one(ccaa_app, cand_a):
    order = paid(ccaa_app, cand_a)
    payment = payment_of(order)
    record = GatewayRecord("bank", "payment", payment.number, "", "BK1", order.amount_fen, payment.paid_at)
    report = reconcile(provider="bank", day=today(), records=[record])
    assert kinds(report) == ["unknown_trade"]
    # Records of other providers in the list are ignored.
    assert reconcile(
        provider="sandbox", day=today(), records=[record, *sandbox_records(provider="sandbox", day=today())]
    ).ok


# -- refunds ---------------------------------------------------------------------------------------------------


def test_refund_made_at_the_gateway_but_not_recorded_is_refund_missing_in_kaowu(ccaa_app, cand_a):
    order = paid(ccaa_app, cand_a)
    with TestCase.captureOnCommitCallbacks(execute=False):  # the refund task is lost
        refund = services.refund_request(actor=cand_a, order=order)
    payment = payment_of(order)
    SandboxProvider("sandbox").refund(
        RefundRequest(payment.number, refund.number, refund.amount_fen, payment.amount_fen, "退考")
    )

    report = reconcile(provider="sandbox", day=today())

    mismatch = only(report)
    assert mismatch.kind == "refund_missing_in_kaowu"
    assert mismatch.label == "平台漏记退款"
    assert (mismatch.out_trade_no, mismatch.out_refund_no) == (payment.number, refund.number)
    assert (mismatch.kaowu_amount_fen, mismatch.gateway_amount_fen) == (None, refund.amount_fen)
    assert "重试" in mismatch.detail and "已申请" in mismatch.detail
    assert (report.gateway_refund_count, report.kaowu_refund_count) == (1, 0)

    # Sending it again with the same number refunds nothing twice and completes Kaowu's record.
    services.refund_process(refund=refund)
    assert SandboxRefund.objects.count() == 1
    assert reconcile(provider="sandbox", day=today()).ok


def test_refund_made_in_the_gateways_console_is_refund_missing_in_kaowu(ccaa_app, cand_a):
    order = paid(ccaa_app, cand_a)
    payment = payment_of(order)
    SandboxProvider("sandbox").refund(
        RefundRequest(payment.number, "CONSOLE-REFUND-1", 500, payment.amount_fen, "商户后台退款")
    )

    mismatch = only(reconcile(provider="sandbox", day=today()))

    assert mismatch.kind == "refund_missing_in_kaowu"
    assert (mismatch.out_refund_no, mismatch.kaowu_amount_fen, mismatch.gateway_amount_fen) == (
        "CONSOLE-REFUND-1",
        None,
        500,
    )
    assert "没有发起过" in mismatch.detail and "切勿" in mismatch.detail


def test_refund_the_gateway_does_not_have_is_refund_missing_at_gateway(ccaa_app, cand_a):
    order = paid(ccaa_app, cand_a)
    refund = refunded(order, cand_a)
    SandboxRefund.objects.all().delete()

    report = reconcile(provider="sandbox", day=today())

    mismatch = only(report)
    assert mismatch.kind == "refund_missing_at_gateway"
    assert mismatch.label == "支付平台无此退款"
    assert (mismatch.out_trade_no, mismatch.out_refund_no) == (payment_of(order).number, refund.number)
    assert (mismatch.kaowu_amount_fen, mismatch.gateway_amount_fen) == (refund.amount_fen, None)
    assert (report.gateway_refund_count, report.kaowu_refund_count, report.kaowu_refund_total_fen) == (
        0,
        1,
        refund.amount_fen,
    )


def test_refund_amount_differing_is_reported_exactly(ccaa_app, cand_a):
    order = paid(ccaa_app, cand_a)
    refund = refunded(order, cand_a)
    SandboxRefund.objects.update(amount_fen=refund.amount_fen - 1)

    mismatch = only(reconcile(provider="sandbox", day=today()))

    assert mismatch.kind == "refund_amount_differs"
    assert mismatch.label == "退款金额不一致"
    assert (mismatch.kaowu_amount_fen, mismatch.gateway_amount_fen) == (refund.amount_fen, refund.amount_fen - 1)
    assert mismatch.out_refund_no == refund.number


def test_refund_of_a_payment_kaowu_never_created_is_unknown(db):
    record = GatewayRecord("sandbox", "refund", "XOTHER1", "XOTHER1-R", "SBR1", 100, at(today(), 10, 0, 0))
    mismatch = only(reconcile(provider="sandbox", day=today(), records=[record]))
    assert (mismatch.kind, mismatch.out_trade_no, mismatch.out_refund_no) == ("unknown_trade", "XOTHER1", "XOTHER1-R")
    assert "退款" in mismatch.detail


def test_a_day_with_every_kind_of_mismatch_lists_each_once(ccaa_app, cand_a, second_app, cand_b):
    good = paid(ccaa_app, cand_a)
    lost = order_for(second_app, cand_b)
    gateway_pays(start(lost, cand_b))
    SandboxTrade.objects.filter(out_trade_no=payment_of(good).number).update(amount_fen=1)

    report = reconcile(provider="sandbox", day=today())

    assert sorted(kinds(report)) == ["amount_differs", "missing_in_kaowu"]
    assert not report.ok


# -- across midnight -------------------------------------------------------------------------------------------


def test_payment_booked_across_midnight_is_reported_on_neither_day(ccaa_app, cand_a):
    day = today() - timedelta(days=2)
    order = paid_near_midnight(
        ccaa_app, cand_a, kaowu_at=at(day, 23, 59, 59), gateway_at=at(day + timedelta(days=1), 0, 0, 1)
    )

    before, after = reconcile(provider="sandbox", day=day), reconcile(provider="sandbox", day=day + timedelta(days=1))

    assert before.ok and after.ok
    assert (before.kaowu_count, before.gateway_count) == (1, 0)
    assert (after.kaowu_count, after.gateway_count, after.gateway_total_fen) == (0, 1, order.amount_fen)


def test_gateway_booking_before_midnight_what_kaowu_has_after_is_not_reported(ccaa_app, cand_a):
    day = today() - timedelta(days=2)
    paid_near_midnight(ccaa_app, cand_a, kaowu_at=at(day, 0, 0, 2), gateway_at=at(day - timedelta(days=1), 23, 59, 58))
    assert reconcile(provider="sandbox", day=day - timedelta(days=1)).ok
    assert reconcile(provider="sandbox", day=day).ok


def test_amount_across_midnight_is_compared_on_the_gateways_day_only(ccaa_app, cand_a):
    day = today() - timedelta(days=2)
    order = paid_near_midnight(
        ccaa_app, cand_a, kaowu_at=at(day, 23, 59, 59), gateway_at=at(day + timedelta(days=1), 0, 0, 1)
    )
    SandboxTrade.objects.filter(out_trade_no=payment_of(order).number).update(amount_fen=order.amount_fen + 100)

    assert reconcile(provider="sandbox", day=day).ok
    mismatch = only(reconcile(provider="sandbox", day=day + timedelta(days=1)))
    assert (mismatch.kind, mismatch.kaowu_amount_fen, mismatch.gateway_amount_fen) == (
        "amount_differs",
        order.amount_fen,
        order.amount_fen + 100,
    )


def test_bills_across_midnight_need_the_neighbouring_day(ccaa_app, cand_a):
    day = today() - timedelta(days=2)
    next_day = day + timedelta(days=1)
    order = paid_near_midnight(ccaa_app, cand_a, kaowu_at=at(day, 23, 59, 59), gateway_at=at(next_day, 0, 0, 1))
    payment = payment_of(order)
    next_bill = [GatewayRecord("sandbox", "payment", payment.number, "", "T1", order.amount_fen, at(next_day, 0, 0, 1))]

    # The day's bill alone cannot show it; the mismatch says where to look.
    mismatch = only(reconcile(provider="sandbox", day=day, records=[]))
    assert mismatch.kind == "missing_at_gateway"
    assert "相邻一天" in mismatch.detail
    # Given the next day's bill too, it is found there and compared there only.
    assert reconcile(provider="sandbox", day=day, records=next_bill).ok
    assert reconcile(provider="sandbox", day=next_day, records=next_bill).ok


def test_missing_payment_far_from_midnight_has_no_midnight_hint(ccaa_app, cand_a):
    day = today() - timedelta(days=2)
    paid_near_midnight(ccaa_app, cand_a, kaowu_at=at(day, 12, 0, 0), gateway_at=at(day, 12, 0, 0))
    mismatch = only(reconcile(provider="sandbox", day=day, records=[]))
    assert "相邻一天" not in mismatch.detail


def test_refund_booked_by_the_gateway_on_the_next_day_is_reported_on_neither_day(ccaa_app, cand_a):
    order = paid(ccaa_app, cand_a)
    refund = refunded(order, cand_a)
    tomorrow = today() + timedelta(days=1)
    SandboxRefund.objects.update(created_at=at(tomorrow, 0, 0, 1))

    assert reconcile(provider="sandbox", day=today()).ok
    after = reconcile(provider="sandbox", day=tomorrow)
    assert after.ok
    assert (after.gateway_refund_count, after.kaowu_refund_count, after.gateway_refund_total_fen) == (
        1,
        0,
        refund.amount_fen,
    )


def test_duplicate_records_count_once(ccaa_app, cand_a):
    paid(ccaa_app, cand_a)
    records = sandbox_records(provider="sandbox", day=today())
    report = reconcile(provider="sandbox", day=today(), records=records + records)
    assert report.ok and report.gateway_count == 1


# -- refusals --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["alipay", "wechat"])
def test_real_gateways_need_their_bill(db, provider):
    with pytest.raises(KaowuError) as error:
        reconcile(provider=provider, day=today())
    assert error.value.code == "payments.bill_required"
    assert "对账单" in error.value.message and today().isoformat() in error.value.message
    assert reconcile(provider=provider, day=today(), records=[]).ok


def test_unknown_provider_is_refused(db):
    with pytest.raises(KaowuError) as error:
        reconcile(provider="paypal", day=today())
    assert error.value.code == "payments.provider_unavailable"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "chargeback"}, "kind"),
        ({"amount_fen": -1}, "amount_fen"),
        ({"amount_fen": 1.5}, "amount_fen"),
        ({"at": datetime(2026, 11, 24, 10)}, "aware"),
    ],
)
def test_gateway_record_refuses_nonsense(changes, message):
    values = {
        "provider": "alipay",
        "kind": "payment",
        "out_trade_no": "P1",
        "out_refund_no": "",
        "gateway_no": "T1",
        "amount_fen": 100,
        "at": datetime(2026, 11, 24, 10, tzinfo=SHANGHAI),
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        GatewayRecord(**values)


# -- the command -----------------------------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    """Run the command: (the exit code ``manage.py`` gives cron — a CommandError's returncode — stdout, stderr).
    Not through ``run_from_argv``, which closes the test's database connection when done."""
    out, err = StringIO(), StringIO()
    try:
        call_command("reconcile_payments", *args, stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


def test_command_on_a_clean_day_prints_the_summary_and_exits_0(ccaa_app, cand_a):
    order = paid(ccaa_app, cand_a)
    code, out, _err = run("--provider", "sandbox", "--date", today().isoformat())
    amount = services.yuan(order.amount_fen)
    assert code == 0
    assert out.strip().splitlines() == [
        f"{today()} 模拟支付（测试）（sandbox）：收款 支付平台 1 笔 {amount} 元，考务平台 1 笔 {amount} 元；"
        "退款 支付平台 0 笔 0.00 元，考务平台 0 笔 0.00 元；不一致 0 项"
    ]


def test_command_lists_each_mismatch_and_exits_1(ccaa_app, cand_a):
    order = order_for(ccaa_app, cand_a)
    payment = start(order, cand_a)
    gateway_pays(payment)

    code, out, err = run("--provider", "sandbox", "--date", today().isoformat())

    assert code == 1
    summary, line = out.strip().splitlines()
    assert "不一致 1 项" in summary
    assert line.startswith(f"[平台漏记收款] 流水号 {payment.number} 退款单号 - 考务平台 - 元 支付平台 ")
    assert services.yuan(order.amount_fen) in line and "支付完毕" in line
    assert "1 项不一致" in err


def test_command_defaults_to_yesterday(ccaa_app, cand_a):
    paid(ccaa_app, cand_a)  # today's: not in yesterday's reconciliation
    out = StringIO()
    call_command("reconcile_payments", "--provider", "sandbox", stdout=out)
    assert out.getvalue().startswith(f"{today() - timedelta(days=1)} ")
    assert "收款 支付平台 0 笔 0.00 元，考务平台 0 笔 0.00 元" in out.getvalue()


ALIPAY_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,"
    "商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,"
    "卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)


# A trade of 80.00 yuan for a number Kaowu never created, as a line of the 业务明细 (trailing tabs included).
FOREIGN_ROW = ",".join(
    ["2026112422001400000000000001\t", "XOTHER1\t", "交易", "报名费", "2026-11-24 10:00:00", "2026-11-24 10:00:05"]
    + [""] * 4
    + ["a***@example.com", "80.00", "80.00", *["0.00"] * 5, "", "0.00", "0.00", "", "-0.48", "0.00", ""]
)


def alipay_bill(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "20880000000000000156_20261124_业务明细.csv"
    lines = ["#支付宝业务明细查询", "#账号：[20880000000000000156]", ALIPAY_HEADER, *rows, "#交易合计：1笔"]
    path.write_bytes("\r\n".join(lines).encode("gbk"))
    return path


def test_command_reads_the_alipay_bill(db, tmp_path):
    day, bill = date(2026, 11, 24), alipay_bill(tmp_path, FOREIGN_ROW)

    code, out, _err = run("--provider", "alipay", "--date", day.isoformat(), "--bill", str(bill))

    assert code == 1
    summary, line = out.strip().splitlines()
    assert "收款 支付平台 1 笔 80.00 元，考务平台 0 笔 0.00 元" in summary
    assert line.startswith("[平台无此流水号] 流水号 XOTHER1 ")
    assert run("--provider", "alipay", "--date", day.isoformat(), "--bill", str(alipay_bill(tmp_path)))[0] == 0


def test_command_warns_when_the_bill_is_of_another_day(db, tmp_path):
    bill = alipay_bill(tmp_path, FOREIGN_ROW)
    code, out, err = run("--provider", "alipay", "--date", "2026-11-25", "--bill", str(bill))
    assert code == 0
    assert "没有 2026-11-25 的记录" in err
    assert "收款 支付平台 0 笔" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "alipay"], "对账单"),
        (["--provider", "wechat", "--bill", "/nonexistent/bill.csv"], "无法读取账单文件"),
        (["--provider", "sandbox", "--bill", __file__], "没有可上传的对账单"),
        (["--provider", "wechat", "--bill", __file__], "无法读取微信支付对账单"),
    ],
)
def test_command_that_cannot_reconcile_exits_2(db, args, message):
    code, out, err = run(*args, "--date", "2026-11-24")
    assert code == 2
    assert message in err
    assert out == ""
