"""Read the trade bills (交易对账单) finance downloads from Alipay and WeChat Pay into ``GatewayRecord``s for
reconciliation (PAY-2).

- **Alipay 业务明细** (``alipay.data.dataservice.bill.downloadurl.query``, bill_type ``trade``): a zip holding
  ``…_业务明细.csv`` and ``…_业务明细(汇总).csv``, GBK encoded. ``#`` lines before and after the table are
  comments (account, period, totals); values may carry a trailing tab (so Excel keeps long numbers). Rows
  whose 业务类型 is 交易 are payments, 退款 refunds (their amounts negative); 完成时间 is when money moved.
- **WeChat Pay 交易账单** (``/v3/bill/tradebill``, bill_type ALL, REFUND or SUCCESS): UTF-8 text, optionally
  gzipped; a header line, detail lines whose every value starts with a backtick, then the summary header
  (总交易单数,…) and its line. 交易状态 SUCCESS rows are payments, REFUND rows refunds; 交易时间 is the time of
  the payment or of the refund's acceptance.

Columns are found by their header names, never by position, so added or reordered columns do not matter.
Amounts are yuan with at most two decimals and become integer fen exactly. Times are Beijing time.
Rows that move no money for Kaowu (revoked trades, closed refunds, other business types) are left out.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from kaowu.core.errors import KaowuError

from ..reconciliation import PAYMENT, REFUND, GatewayRecord
from .alipay import fen_from_yuan

SHANGHAI = ZoneInfo("Asia/Shanghai")
BILL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# A day's bill of an exam body is kilobytes; this only stops a hostile archive from filling memory.
MAX_BILL_BYTES = 64 * 1024 * 1024
SIGNED_YUAN = re.compile(r"(-?)(\d+(?:\.\d{1,2})?)")

ALIPAY_TRADE_NO = "支付宝交易号"
ALIPAY_OUT_TRADE_NO = "商户订单号"
ALIPAY_TYPE = "业务类型"
ALIPAY_CREATED = "创建时间"
ALIPAY_FINISHED = "完成时间"
ALIPAY_AMOUNT = "订单金额（元）"
ALIPAY_REQUEST_NO = "退款批次号/请求号"
ALIPAY_TYPES = {"交易": PAYMENT, "退款": REFUND}

WECHAT_TIME = "交易时间"
WECHAT_TRADE_NO = "微信订单号"
WECHAT_OUT_TRADE_NO = "商户订单号"
WECHAT_STATUS = "交易状态"
WECHAT_REFUND_NO = "微信退款单号"
WECHAT_OUT_REFUND_NO = "商户退款单号"
WECHAT_REFUND_STATUS = "退款状态"
WECHAT_REFUND_TIME = "退款申请时间"  # only in REFUND bills, whose 交易时间 is the payment's
WECHAT_SUMMARY = "总交易单数"
WECHAT_STATUSES = {"SUCCESS": PAYMENT, "REFUND": REFUND}  # REVOKED (撤销) trades returned the money
# The payment's amount before merchant coupons, as Kaowu asked for it: 订单金额 (总金额 in old-format bills).
WECHAT_PAYMENT_AMOUNTS = ("订单金额", "总金额", "应结订单金额")
WECHAT_REFUND_AMOUNTS = ("申请退款金额", "退款金额")
WECHAT_REFUND_CLOSED = "REFUNDCLOSE"  # the refund was closed: no money left


class _Unreadable(Exception):
    """What is wrong with one line of a bill (``line`` 0: the bill as a whole)."""

    def __init__(self, problem: str, line: int = 0) -> None:
        super().__init__(problem)
        self.problem, self.line = problem, line


def _refuse(label: str, error: _Unreadable) -> KaowuError:
    where = _("第 %(line)s 行：") % {"line": error.line} if error.line else ""
    return KaowuError(
        "payments.bill_unreadable",
        _(
            "无法读取%(label)s对账单（%(where)s%(problem)s）。请上传从商户平台下载的原始交易账单文件，"
            "不要用 Excel 打开后另存。"
        ),
        field="bill",
        params={"label": label, "where": where, "problem": error.problem},
    )


def _decode(data: bytes) -> str:
    """Text of a bill: UTF-8 (WeChat Pay; with or without BOM), else GB 18030, which reads GBK (Alipay)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as error:
        raise _Unreadable(str(_("文件编码既不是 UTF-8 也不是 GBK"))) from error


def _fen(text: str, line: int, *, signed: bool = False) -> int:
    """Yuan → fen exactly; a minus sign is allowed (and dropped) only where the bill writes refunds negative."""
    match = SIGNED_YUAN.fullmatch(text)
    if match is None or (match.group(1) and not signed):
        raise _Unreadable(str(_("金额“%(text)s”格式不正确")) % {"text": text}, line)
    return fen_from_yuan(match.group(2))


def _time(text: str, line: int) -> datetime:
    try:
        return datetime.strptime(text, BILL_TIME_FORMAT).replace(tzinfo=SHANGHAI)
    except ValueError as error:
        raise _Unreadable(str(_("时间“%(text)s”格式不正确")) % {"text": text}, line) from error


def _normalise(name: str) -> str:
    """Header names as Alipay spells them, whichever parentheses a copy of the file uses."""
    return name.strip().replace("(", "（").replace(")", "）")


class _Row:
    """One detail line, read by column name."""

    def __init__(self, columns: dict[str, int], cells: Sequence[str], line: int) -> None:
        self.columns, self.cells, self.line = columns, cells, line

    def has(self, name: str) -> bool:
        return name in self.columns

    def __getitem__(self, name: str) -> str:
        index = self.columns[name]
        if index >= len(self.cells):
            raise _Unreadable(str(_("缺少“%(name)s”一栏的值")) % {"name": name}, self.line)
        return self.cells[index].strip()

    def first(self, names: Sequence[str]) -> str:
        return self[next(name for name in names if self.has(name))]


def _columns(header: Sequence[str], required: Sequence[str], line: int) -> dict[str, int]:
    columns = {_normalise(name): index for index, name in enumerate(header)}
    missing = [name for name in required if name not in columns]
    if missing:
        raise _Unreadable(str(_("表头缺少“%(names)s”")) % {"names": "”“".join(missing)}, line)
    return columns


# -- Alipay ----------------------------------------------------------------------------------------------------


def _alipay_table(text: str) -> tuple[list[tuple[int, str]], bool]:
    """The non-comment lines (number, text) of an Alipay CSV and whether its header is the 业务明细's."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    header = {_normalise(name) for name in next(csv.reader([lines[0][1]]))} if lines else set()
    return lines, {ALIPAY_TRADE_NO, ALIPAY_TYPE} <= header


def _alipay_text(data: bytes) -> str:
    """The 业务明细 CSV's text, from the downloaded zip (found by its header: the members' names are GBK that
    zip readers decode differently) or from the CSV itself."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return _decode(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.infolist():
                if not member.filename.lower().endswith(".csv") or member.file_size > MAX_BILL_BYTES:
                    continue
                text = _decode(archive.read(member))
                if _alipay_table(text)[1]:
                    return text
    except (zipfile.BadZipFile, RuntimeError) as error:  # RuntimeError: an encrypted member
        raise _Unreadable(str(_("压缩包已损坏"))) from error
    raise _Unreadable(str(_("压缩包中没有业务明细文件")))


def alipay_bill_records(data: bytes) -> list[GatewayRecord]:
    """The payments and refunds of an Alipay 业务明细 bill (``data``: the downloaded zip or the CSV in it).
    Raises ``KaowuError`` payments.bill_unreadable, naming the line, for anything that is not such a bill."""
    try:
        return _alipay_records(_alipay_text(data))
    except _Unreadable as error:
        raise _refuse(str(_("支付宝")), error) from error


def _alipay_records(text: str) -> list[GatewayRecord]:
    lines, is_detail = _alipay_table(text)
    if not is_detail:
        raise _Unreadable(str(_("不是支付宝业务明细，表头应有“支付宝交易号”和“业务类型”")))
    (header_line, header), *rows = lines
    columns = _columns(
        next(csv.reader([header])),
        (ALIPAY_TRADE_NO, ALIPAY_OUT_TRADE_NO, ALIPAY_TYPE, ALIPAY_FINISHED, ALIPAY_AMOUNT, ALIPAY_REQUEST_NO),
        header_line,
    )
    records = []
    for number, line in rows:
        row = _Row(columns, next(csv.reader([line])), number)
        kind = ALIPAY_TYPES.get(row[ALIPAY_TYPE])
        if kind is None:
            continue
        finished = row[ALIPAY_FINISHED] or (row[ALIPAY_CREATED] if row.has(ALIPAY_CREATED) else "")
        records.append(
            GatewayRecord(
                provider="alipay",
                kind=kind,
                out_trade_no=row[ALIPAY_OUT_TRADE_NO],
                out_refund_no=row[ALIPAY_REQUEST_NO] if kind == REFUND else "",
                gateway_no=row[ALIPAY_TRADE_NO],
                amount_fen=_fen(row[ALIPAY_AMOUNT], number, signed=kind == REFUND),
                at=_time(finished, number),
            )
        )
    return records


# -- WeChat Pay ------------------------------------------------------------------------------------------------


def _wechat_cells(line: str) -> list[str]:
    """A line's values without their backticks. Splitting at ",`" keeps a comma inside a value (a product name)
    where it belongs; a line without backticks (header, or a bill saved again by a spreadsheet) is plain CSV."""
    if line.startswith("`"):
        return [cell.strip() for cell in line[1:].split(",`")]
    return [cell.strip() for cell in next(csv.reader([line]))]


def _wechat_text(data: bytes) -> str:
    if data[:2] == b"\x1f\x8b":  # downloaded with tar_type=GZIP
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as archive:
                data = archive.read(MAX_BILL_BYTES + 1)
        except (OSError, EOFError) as error:
            raise _Unreadable(str(_("压缩文件已损坏"))) from error
        if len(data) > MAX_BILL_BYTES:
            raise _Unreadable(str(_("文件过大")))
    return _decode(data)


def _refund_closed(row: _Row) -> bool:
    return row.has(WECHAT_REFUND_STATUS) and row[WECHAT_REFUND_STATUS] == WECHAT_REFUND_CLOSED


def wechat_bill_records(data: bytes) -> list[GatewayRecord]:
    """The payments and refunds of a WeChat Pay trade bill (``data``: the text as downloaded, or gzipped).
    Raises ``KaowuError`` payments.bill_unreadable, naming the line, for anything that is not such a bill."""
    try:
        return _wechat_records(_wechat_text(data))
    except _Unreadable as error:
        raise _refuse(str(_("微信支付")), error) from error


def _wechat_records(text: str) -> list[GatewayRecord]:
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines or WECHAT_OUT_TRADE_NO not in _wechat_cells(lines[0][1]):
        raise _Unreadable(str(_("不是微信支付交易账单，第一行应是以“交易时间”开头的表头")))
    (header_line, header), *rows = lines
    columns = _columns(
        _wechat_cells(header),
        (WECHAT_TIME, WECHAT_TRADE_NO, WECHAT_OUT_TRADE_NO, WECHAT_STATUS),
        header_line,
    )
    refund_columns = (WECHAT_REFUND_NO, WECHAT_OUT_REFUND_NO)
    amounts = {
        PAYMENT: [name for name in WECHAT_PAYMENT_AMOUNTS if name in columns],
        REFUND: [name for name in WECHAT_REFUND_AMOUNTS if name in columns],
    }
    records = []
    for number, line in rows:
        cells = _wechat_cells(line)
        if cells[0] == WECHAT_SUMMARY:
            break  # the summary header, then its totals: nothing more to read
        row = _Row(columns, cells, number)
        kind = WECHAT_STATUSES.get(row[WECHAT_STATUS])
        if kind is None or (
            kind == REFUND and row.has(WECHAT_REFUND_STATUS) and row[WECHAT_REFUND_STATUS] == WECHAT_REFUND_CLOSED
        ):
            continue
        if not amounts[kind] or (kind == REFUND and not all(row.has(name) for name in refund_columns)):
            raise _Unreadable(str(_("表头缺少该类记录的金额或退款单号栏")), header_line)
        at = row[WECHAT_REFUND_TIME] if kind == REFUND and row.has(WECHAT_REFUND_TIME) else row[WECHAT_TIME]
        records.append(
            GatewayRecord(
                provider="wechat",
                kind=kind,
                out_trade_no=row[WECHAT_OUT_TRADE_NO],
                out_refund_no=row[WECHAT_OUT_REFUND_NO] if kind == REFUND else "",
                gateway_no=row[WECHAT_REFUND_NO] if kind == REFUND else row[WECHAT_TRADE_NO],
                amount_fen=_fen(row.first(amounts[kind]), number),
                at=_time(at, number),
            )
        )
    return records


BILL_READERS: dict[str, Callable[[bytes], list[GatewayRecord]]] = {
    "alipay": alipay_bill_records,
    "wechat": wechat_bill_records,
}


def bill_records(*, provider: str, data: bytes) -> list[GatewayRecord]:
    """The records of ``provider``'s downloaded bill ``data``. ``KaowuError`` payments.bill_unreadable if it is
    not such a bill, payments.no_bill for a provider without bills (the sandbox's ledger is read directly)."""
    reader = BILL_READERS.get(provider)
    if reader is None:
        raise KaowuError("payments.no_bill", _("该支付方式没有可上传的对账单，直接对账即可。"), field="bill")
    return reader(data)
