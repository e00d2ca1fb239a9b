"""对账 from cron: ``python manage.py reconcile_payments --provider sandbox [--date 2026-11-24] [--bill path]``.

Prints a summary line and one line per mismatch; exits with 1 when there is any mismatch (so cron alerts) and
with 2 when the reconciliation could not be done (no bill, unreadable bill).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from kaowu.core.errors import KaowuError
from kaowu.payments.providers import LABELS
from kaowu.payments.providers.bills import bill_records
from kaowu.payments.reconciliation import SHANGHAI, GatewayRecord, reconcile
from kaowu.payments.services import yuan

CANNOT_RECONCILE = 2


def _yuan(fen: int | None) -> str:
    return "-" if fen is None else yuan(fen)


class Command(BaseCommand):
    help = (
        "核对某一天支付平台的记录（模拟网关/网银读取其账本，支付宝/微信支付读取下载的交易账单）与考务平台的订单，"
        "列出每一处不一致；有不一致时退出码为 1。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", required=True, choices=list(LABELS), help="支付方式")
        parser.add_argument("--date", type=date.fromisoformat, help="对账日期（北京时间，YYYY-MM-DD），默认昨天")
        parser.add_argument(
            "--bill",
            type=Path,
            action="append",
            default=[],
            help="支付宝或微信支付的交易账单文件；零点前后的交易可能记在相邻一天，可再给出相邻一天的账单（可重复）",
        )

    def handle(self, *args, **options) -> None:
        provider: str = options["provider"]
        day: date = options["date"] or timezone.localtime(timezone.now(), SHANGHAI).date() - timedelta(days=1)
        try:
            records = self._records(provider, options["bill"])
            if records and not any(record.at.astimezone(SHANGHAI).date() == day for record in records):
                self.stderr.write(f"注意：所给账单中没有 {day} 的记录，请确认账单日期。")
            report = reconcile(provider=provider, day=day, records=records)
        except KaowuError as error:
            raise CommandError(error.message, returncode=CANNOT_RECONCILE) from error
        self.stdout.write(
            f"{report.day} {LABELS[provider]}（{provider}）："
            f"收款 支付平台 {report.gateway_count} 笔 {yuan(report.gateway_total_fen)} 元，"
            f"考务平台 {report.kaowu_count} 笔 {yuan(report.kaowu_total_fen)} 元；"
            f"退款 支付平台 {report.gateway_refund_count} 笔 {yuan(report.gateway_refund_total_fen)} 元，"
            f"考务平台 {report.kaowu_refund_count} 笔 {yuan(report.kaowu_refund_total_fen)} 元；"
            f"不一致 {len(report.mismatches)} 项"
        )
        for mismatch in report.mismatches:
            self.stdout.write(
                f"[{mismatch.label}] 流水号 {mismatch.out_trade_no} 退款单号 {mismatch.out_refund_no or '-'} "
                f"考务平台 {_yuan(mismatch.kaowu_amount_fen)} 元 支付平台 {_yuan(mismatch.gateway_amount_fen)} 元："
                f"{mismatch.detail}"
            )
        if not report.ok:
            raise CommandError(
                f"{report.day} {LABELS[provider]}对账有 {len(report.mismatches)} 项不一致，请财务核对处理。"
            )

    def _records(self, provider: str, bills: list[Path]) -> list[GatewayRecord] | None:
        """The records of the bills given, or None to let ``reconcile`` read the sandbox ledger (or say that a
        bill is needed)."""
        if not bills:
            return None
        records: list[GatewayRecord] = []
        for path in bills:
            try:
                data = path.read_bytes()
            except OSError as error:
                raise CommandError(f"无法读取账单文件 {path}：{error.strerror}", returncode=CANNOT_RECONCILE) from error
            records += bill_records(provider=provider, data=data)
        return records
