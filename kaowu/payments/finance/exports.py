"""The finance Excel export of orders (导出 Excel), audited.

The workbook is written in openpyxl's write-only mode row by row from a database iterator into a
temporary file, so a batch of tens of thousands of orders never sits in memory as cells. Names are
written in full (finance issues receipts in them); phone numbers stay masked.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from kaowu.core.audit import audit_record
from kaowu.core.masking import mask_phone

from ..models import Order, OrderKind, RefundKind
from ..providers import LABELS
from ..workflow import OrderStatus, RefundStatus
from .selectors import OrderFilters, with_settlement

# Column widths (characters) in the order of ``_headers``: readable when opened, without resizing.
WIDTHS = (26, 16, 12, 14, 28, 14, 12, 16, 20, 20, 18, 32, 24)
MONEY_FORMAT = "0.00"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


def _headers() -> list[str]:
    return [
        _("订单号"),
        _("报名号"),
        _("考生姓名"),
        _("手机号码"),
        _("批次"),
        _("费用类型"),
        _("金额（元）"),
        _("状态"),
        _("下单时间"),
        _("支付时间"),
        _("支付方式"),
        _("支付平台交易号"),
        _("退款状态"),
    ]


def _text(sheet: Any, value: Any) -> WriteOnlyCell:
    # Always a string cell: a name or number typed as "=..." must never become a formula in finance's Excel.
    cell = WriteOnlyCell(sheet, value=str(value or ""))
    cell.data_type = "s"
    return cell


def _money(sheet: Any, fen: int) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=Decimal(fen) / 100)
    cell.number_format = MONEY_FORMAT
    return cell


def _time(sheet: Any, value: datetime | None) -> WriteOnlyCell:
    # Excel has no time zones: write Beijing time, as finance reads it, to the second.
    local = timezone.localtime(value).replace(tzinfo=None, microsecond=0) if value else None
    cell = WriteOnlyCell(sheet, value=local)
    cell.number_format = TIME_FORMAT
    return cell


def _refund_label(order: Order) -> str:
    if not order.refund_status:
        return ""
    return f"{RefundKind(order.refund_kind).label}：{RefundStatus(order.refund_status).label}"


def _row(sheet: Any, order: Order) -> list[WriteOnlyCell]:
    provider = order.paid_provider or ""
    return [
        _text(sheet, order.number),
        _text(sheet, order.application.number),
        _text(sheet, order.candidate.real_name),
        _text(sheet, mask_phone(order.candidate.phone or order.buyer_phone)),
        _text(sheet, order.batch.name),
        _text(sheet, OrderKind(order.kind).label),
        _money(sheet, order.amount_fen),
        _text(sheet, OrderStatus(order.status).label),
        _time(sheet, order.created_at),
        _time(sheet, order.paid_at),
        _text(sheet, LABELS.get(provider, provider)),
        _text(sheet, order.paid_trade_no),
        _text(sheet, _refund_label(order)),
    ]


def orders_export(*, actor: Any, orders: QuerySet[Order], filters: OrderFilters) -> tuple[IO[bytes], int]:
    """Write ``orders`` (already scoped to ``actor`` and filtered by ``filters``) as an .xlsx workbook.

    Returns the open temporary file, positioned at its start (the caller streams and closes it), and the
    number of rows. Side effect: an audit row ``payments.finance.export`` with the filters and row count."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("订单"))
    for index, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.append([_text(sheet, header) for header in _headers()])
    rows = 0
    for order in with_settlement(orders).iterator(chunk_size=2000):
        sheet.append(_row(sheet, order))
        rows += 1
    file = tempfile.TemporaryFile()  # noqa: SIM115  (returned open: the response streams and closes it)
    workbook.save(file)
    file.seek(0)
    audit_record(actor=actor, action="payments.finance.export", after={"filters": filters.for_audit(), "rows": rows})
    return file, rows
