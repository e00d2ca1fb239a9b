"""Downloaded bills (PAY-2 对账): Alipay's 业务明细 (GBK CSV in a zip, ``#`` comments, trailing tabs, refunds
negative) and WeChat Pay's trade bill (UTF-8, backtick before every value, summary lines), read by column name
into exact fen."""

from __future__ import annotations

import gzip
import io
import random
import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kaowu.core.errors import KaowuError
from kaowu.payments.providers.bills import alipay_bill_records, bill_records, wechat_bill_records
from kaowu.payments.reconciliation import GatewayRecord

SHANGHAI = ZoneInfo("Asia/Shanghai")

# -- Alipay ----------------------------------------------------------------------------------------------------

ALIPAY_COLUMNS = [
    "支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号", "门店名称", "操作员",
    "终端号", "对方账户", "订单金额（元）", "商家实收（元）", "支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）",
    "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）", "卡消费金额（元）", "退款批次号/请求号",
    "服务费（元）", "分润（元）", "备注",
]  # fmt: skip


def alipay_row(trade_no: str, out_trade_no: str, kind: str, amount: str, finished: str, request_no: str = "") -> dict:
    return {
        "支付宝交易号": f"{trade_no}\t",
        "商户订单号": f"{out_trade_no}\t",
        "业务类型": kind,
        "商品名称": "2026年第二期中国认证认可协会认证人员注册全国统一考试 考试报名费",
        "创建时间": "2026-11-24 09:59:40",
        "完成时间": finished,
        "对方账户": "138****5678",
        "订单金额（元）": amount,
        "商家实收（元）": amount,
        "退款批次号/请求号": f"{request_no}\t" if request_no else "",
        "服务费（元）": "-0.48",
    }


ALIPAY_ROWS = [
    alipay_row("2026112422001400000000000001", "P20261124095940AAAAA", "交易", "80.00", "2026-11-24 10:00:05"),
    alipay_row("2026112422001400000000000002", "P20261124101500BBBBB", "交易", "1234567.89", "2026-11-24 10:15:30"),
    alipay_row(
        "2026112422001400000000000001",
        "P20261124095940AAAAA",
        "退款",
        "-0.07",
        "2026-11-24 23:59:59",
        "R20261124235958CCCCC",
    ),
    alipay_row("2026112422001400000000000003", "P20261124120000DDDDD", "冻结", "5.00", "2026-11-24 12:00:00"),
]

ALIPAY_EXPECTED = [
    GatewayRecord(
        "alipay", "payment", "P20261124095940AAAAA", "", "2026112422001400000000000001", 8000,
        datetime(2026, 11, 24, 10, 0, 5, tzinfo=SHANGHAI),
    ),
    GatewayRecord(
        "alipay", "payment", "P20261124101500BBBBB", "", "2026112422001400000000000002", 123456789,
        datetime(2026, 11, 24, 10, 15, 30, tzinfo=SHANGHAI),
    ),
    GatewayRecord(
        "alipay", "refund", "P20261124095940AAAAA", "R20261124235958CCCCC", "2026112422001400000000000001", 7,
        datetime(2026, 11, 24, 23, 59, 59, tzinfo=SHANGHAI),
    ),
]  # fmt: skip


def alipay_csv(rows: list[dict], columns: list[str] = ALIPAY_COLUMNS, encoding: str = "gbk") -> bytes:
    """A 业务明细 file as Alipay writes it: comment lines around the table, CRLF, GBK."""
    lines = [
        "#支付宝业务明细查询",
        "#账号：[20880000000000000156]",
        "#起始日期：[2026年11月24日 00:00:00]   终止日期：[2026年11月25日 00:00:00]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        ",".join(columns),
        *(",".join(row.get(column, "") for column in columns) for row in rows),
        "#-----------------------------------------业务明细列表结束------------------------------------",
        "#交易合计：2笔，商家实收共1234647.89元，商家优惠共0.00元",
        "#退款合计：1笔，商家实收退款共-0.07元，商家优惠退款0.00元",
        "#导出时间：[2026年11月25日 10:20:31]",
    ]
    return "\r\n".join(lines).encode(encoding)


ALIPAY_SUMMARY = (
    "#支付宝业务汇总查询\r\n门店编号,门店名称,交易订单总笔数,退款订单总笔数,交易订单总金额（元）,商家实收（元）\r\n"
    "合计,,2,1,1234647.89,1234647.82\r\n"
).encode("gbk")


def alipay_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            # Alipay's archives name their members in GBK without the UTF-8 flag.
            info = zipfile.ZipInfo(name.encode("gbk").decode("cp437"))
            archive.writestr(info, data)
    return buffer.getvalue()


def test_alipay_csv_in_gbk_becomes_exact_records():
    assert alipay_bill_records(alipay_csv(ALIPAY_ROWS)) == ALIPAY_EXPECTED


def test_alipay_zip_is_read_from_its_detail_member():
    data = alipay_zip(
        {
            "20880000000000000156_20261124_业务明细(汇总).csv": ALIPAY_SUMMARY,
            "20880000000000000156_20261124_业务明细.csv": alipay_csv(ALIPAY_ROWS),
        }
    )
    assert alipay_bill_records(data) == ALIPAY_EXPECTED


def test_alipay_columns_are_found_by_name_not_position():
    columns = ALIPAY_COLUMNS[:]
    random.Random(20261124).shuffle(columns)
    assert columns[:3] != ALIPAY_COLUMNS[:3]
    assert alipay_bill_records(alipay_csv(ALIPAY_ROWS, columns)) == ALIPAY_EXPECTED


def test_alipay_header_with_ascii_parentheses_and_utf8_resave_is_read():
    columns = [column.replace("（", "(").replace("）", ")") for column in ALIPAY_COLUMNS]
    rows = [{key.replace("（", "(").replace("）", ")"): value for key, value in row.items()} for row in ALIPAY_ROWS]
    assert alipay_bill_records(alipay_csv(rows, columns, encoding="utf-8-sig")) == ALIPAY_EXPECTED


def test_alipay_payment_without_finish_time_uses_its_creation_time():
    row = alipay_row("2026112422001400000000000009", "P9", "交易", "0.10", "")
    (record,) = alipay_bill_records(alipay_csv([row]))
    assert record.at == datetime(2026, 11, 24, 9, 59, 40, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("amount", "kind", "problem"),
    [
        ("80.001", "交易", "金额“80.001”格式不正确"),
        ("8O.00", "交易", "金额“8O.00”格式不正确"),
        ("-80.00", "交易", "金额“-80.00”格式不正确"),  # a payment is never negative
        ("1e3", "退款", "金额“1e3”格式不正确"),
        ("", "交易", "金额“”格式不正确"),
    ],
)
def test_alipay_bad_amount_names_its_line(amount, kind, problem):
    rows = [ALIPAY_ROWS[0], alipay_row("T2", "P2", kind, amount, "2026-11-24 11:00:00", "R2")]
    with pytest.raises(KaowuError) as error:
        alipay_bill_records(alipay_csv(rows))
    assert error.value.code == "payments.bill_unreadable"
    assert "第 7 行" in error.value.message and problem in error.value.message
    assert "支付宝" in error.value.message


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "不是支付宝业务明细"),
        ("交易时间,公众账号ID,商户号\r\n".encode(), "不是支付宝业务明细"),
        (alipay_csv(ALIPAY_ROWS, [c for c in ALIPAY_COLUMNS if c != "完成时间"]), "表头缺少“完成时间”"),
        (alipay_zip({"业务明细(汇总).csv": ALIPAY_SUMMARY}), "压缩包中没有业务明细文件"),
        (b"PK\x03\x04 not really a zip" * 3, "不是支付宝业务明细"),
        (b"\xff\xfe\xfa\xfb\x81", "文件编码既不是 UTF-8 也不是 GBK"),
    ],
)
def test_alipay_refuses_what_is_not_its_bill(data, problem):
    with pytest.raises(KaowuError) as error:
        alipay_bill_records(data)
    assert problem in error.value.message
    assert "不要用 Excel 打开后另存" in error.value.message


def test_alipay_bad_time_is_refused():
    rows = [alipay_row("T1", "P1", "交易", "1.00", "2026/11/24 10:00")]
    with pytest.raises(KaowuError, match=r"^payments\.bill_unreadable: ") as error:
        alipay_bill_records(alipay_csv(rows))
    assert "时间“2026/11/24 10:00”格式不正确" in error.value.message


# -- WeChat Pay ------------------------------------------------------------------------------------------------

WECHAT_ALL = [
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型",
    "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额",
    "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额",
    "费率备注",
]  # fmt: skip
WECHAT_REFUND_BILL = [*WECHAT_ALL[:14], "退款申请时间", "退款成功时间", *WECHAT_ALL[14:]]
SUMMARY_HEADER = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"


def wechat_row(time: str, trade_no: str, out_trade_no: str, status: str, amount: str, **more: str) -> dict:
    return {
        "交易时间": time,
        "公众账号ID": "wx0000000000000000",
        "商户号": "1900000109",
        "特约商户号": "0",
        "微信订单号": trade_no,
        "商户订单号": out_trade_no,
        "用户标识": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "交易类型": "NATIVE",
        "交易状态": status,
        "付款银行": "OTHERS",
        "货币种类": "CNY",
        "应结订单金额": amount if status == "SUCCESS" else "0.00",
        "代金券金额": "0.00",
        "退款金额": "0.00",
        "充值券退款金额": "0.00",
        "商品名称": "2026年拍卖师资格考试报名费, 含注册费",  # a comma inside a value
        "手续费": "0.48000",
        "费率": "0.60%",
        "订单金额": amount if status == "SUCCESS" else "0.00",
        "申请退款金额": "0.00",
        **more,
    }


WECHAT_ROWS = [
    wechat_row("2026-11-24 10:00:05", "4200000000202611240000000001", "P20261124095940AAAAA", "SUCCESS", "80.00"),
    wechat_row("2026-11-24 10:15:30", "4200000000202611240000000002", "P20261124101500BBBBB", "SUCCESS", "0.01"),
    wechat_row(
        "2026-11-24 23:59:59", "4200000000202611240000000001", "P20261124095940AAAAA", "REFUND", "0.00",
        **{"微信退款单号": "50000000000000000000000001", "商户退款单号": "R20261124235958CCCCC", "退款金额": "80.00",
           "申请退款金额": "80.00", "退款类型": "ORIGINAL", "退款状态": "SUCCESS"},
    ),
    # A refund the gateway closed and a revoked trade moved no money.
    wechat_row(
        "2026-11-24 12:00:00", "4200000000202611240000000003", "P3", "REFUND", "0.00",
        **{"微信退款单号": "50000000000000000000000003", "商户退款单号": "R3", "退款金额": "5.00",
           "申请退款金额": "5.00", "退款状态": "REFUNDCLOSE"},
    ),
    wechat_row("2026-11-24 13:00:00", "4200000000202611240000000004", "P4", "REVOKED", "9.90"),
]  # fmt: skip

WECHAT_EXPECTED = [
    GatewayRecord(
        "wechat", "payment", "P20261124095940AAAAA", "", "4200000000202611240000000001", 8000,
        datetime(2026, 11, 24, 10, 0, 5, tzinfo=SHANGHAI),
    ),
    GatewayRecord(
        "wechat", "payment", "P20261124101500BBBBB", "", "4200000000202611240000000002", 1,
        datetime(2026, 11, 24, 10, 15, 30, tzinfo=SHANGHAI),
    ),
    GatewayRecord(
        "wechat", "refund", "P20261124095940AAAAA", "R20261124235958CCCCC", "50000000000000000000000001", 8000,
        datetime(2026, 11, 24, 23, 59, 59, tzinfo=SHANGHAI),
    ),
]  # fmt: skip


def wechat_bill(rows: list[dict], columns: list[str] = WECHAT_ALL) -> bytes:
    """A trade bill as WeChat Pay sends it: header, backtick-prefixed detail lines, summary header and line."""
    lines = [
        ",".join(columns),
        *(",".join("`" + row.get(column, "") for column in columns) for row in rows),
        SUMMARY_HEADER,
        "`3,`80.01,`80.00,`0.00,`1.44000,`80.01,`80.00",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def test_wechat_bill_becomes_exact_records_and_ignores_the_summary():
    assert wechat_bill_records(wechat_bill(WECHAT_ROWS)) == WECHAT_EXPECTED


def test_wechat_gzipped_bill_is_read():
    assert wechat_bill_records(gzip.compress(wechat_bill(WECHAT_ROWS))) == WECHAT_EXPECTED


def test_wechat_columns_are_found_by_name_not_position():
    columns = WECHAT_ALL[:]
    random.Random(20261125).shuffle(columns)
    assert columns[:3] != WECHAT_ALL[:3]
    assert wechat_bill_records(wechat_bill(WECHAT_ROWS, columns)) == WECHAT_EXPECTED


def test_wechat_amount_is_the_order_amount_not_what_is_settled_after_coupons():
    row = wechat_row("2026-11-24 10:00:05", "T1", "P1", "SUCCESS", "80.00", **{"应结订单金额": "70.00"})
    (record,) = wechat_bill_records(wechat_bill([row]))
    assert record.amount_fen == 8000


def test_wechat_old_format_bill_uses_its_total_amount():
    columns = [("总金额" if c == "应结订单金额" else c) for c in WECHAT_ALL if c not in ("订单金额", "申请退款金额")]
    row = wechat_row("2026-11-24 10:00:05", "T1", "P1", "SUCCESS", "12.34", **{"总金额": "12.34"})
    (record,) = wechat_bill_records(wechat_bill([row], columns))
    assert record.amount_fen == 1234


def test_wechat_refund_bill_dates_refunds_by_their_request_time():
    refund = {
        "微信退款单号": "50000000000000000000000001", "商户退款单号": "R1", "退款金额": "80.00",
        "申请退款金额": "80.00", "退款状态": "SUCCESS", "退款申请时间": "2026-11-25 00:00:01",
        "退款成功时间": "2026-11-25 00:00:09",
    }  # fmt: skip
    row = wechat_row("2026-11-24 10:00:05", "T1", "P1", "REFUND", "0.00", **refund)
    (record,) = wechat_bill_records(wechat_bill([row], WECHAT_REFUND_BILL))
    assert (record.kind, record.out_refund_no, record.amount_fen) == ("refund", "R1", 8000)
    assert record.at == datetime(2026, 11, 25, 0, 0, 1, tzinfo=SHANGHAI)


def test_wechat_bill_resaved_without_backticks_is_still_read():
    row = {**WECHAT_ROWS[0], "商品名称": "报名费"}
    text = ",".join(WECHAT_ALL) + "\n" + ",".join(row.get(column, "") for column in WECHAT_ALL) + "\n"
    assert wechat_bill_records(text.encode()) == WECHAT_EXPECTED[:1]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "不是微信支付交易账单"),
        (alipay_csv(ALIPAY_ROWS), "不是微信支付交易账单"),
        (wechat_bill([wechat_row("2026-11-24 10:00:05", "T1", "P1", "SUCCESS", "0.001")]), "第 2 行"),
        (wechat_bill([wechat_row("2026-11-24 10:00:05", "T1", "P1", "SUCCESS", "-1.00")]), "金额“-1.00”格式不正确"),
        (wechat_bill([wechat_row("24/11/2026", "T1", "P1", "SUCCESS", "1.00")]), "时间“24/11/2026”格式不正确"),
        (wechat_bill(WECHAT_ROWS, [c for c in WECHAT_ALL if c != "交易状态"]), "表头缺少“交易状态”"),
        (wechat_bill(WECHAT_ROWS, [c for c in WECHAT_ALL if c != "商户退款单号"]), "退款单号"),
        (b"\x1f\x8b\x08\x00broken", "压缩文件已损坏"),
        ("交易时间,商户订单号,微信订单号,交易状态\n`2026-11-24 10:00:05,`P1\n".encode(), "第 2 行：缺少“交易状态”一栏"),
    ],
)
def test_wechat_refuses_what_is_not_its_bill(data, problem):
    with pytest.raises(KaowuError) as error:
        wechat_bill_records(data)
    assert error.value.code == "payments.bill_unreadable"
    assert problem in error.value.message and "微信支付" in error.value.message


# -- by provider -----------------------------------------------------------------------------------------------


def test_bill_records_reads_the_providers_bill():
    assert bill_records(provider="alipay", data=alipay_csv(ALIPAY_ROWS)) == ALIPAY_EXPECTED
    assert bill_records(provider="wechat", data=wechat_bill(WECHAT_ROWS)) == WECHAT_EXPECTED


@pytest.mark.parametrize("provider", ["sandbox", "bank"])
def test_sandbox_channels_have_no_bill(provider):
    with pytest.raises(KaowuError) as error:
        bill_records(provider=provider, data=b"anything")
    assert error.value.code == "payments.no_bill"
