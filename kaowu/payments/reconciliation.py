"""对账 (PAY-2): compare what a gateway says moved on one day with what Kaowu recorded, and list every mismatch.

The gateway's side is a list of ``GatewayRecord``: read from the sandbox ledger for ``sandbox`` and ``bank``,
or parsed from the bill finance downloads from Alipay or WeChat Pay (``kaowu.payments.providers.bills``).
Kaowu's side is its succeeded payments (by ``paid_at``) and succeeded refunds (by ``finished_at``) of that
provider on the same local day (Asia/Shanghai, the gateways' own time).

Each side's records are matched by number — the payment number (``out_trade_no``) or the refund number
(``out_refund_no``) — and a counterpart is looked up whatever its day before anything is called missing: a
payment Kaowu books at 23:59:59 and the gateway at 00:00:01 is one payment, compared on the day the gateway
has it and reported on neither day as missing. Reading only; nothing is changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kaowu.core.errors import KaowuError

from .models import Payment, Refund, SandboxRefund, SandboxTrade, SandboxTradeStatus
from .providers import LABELS
from .providers.sandbox import CODES as SANDBOX_CODES
from .services import yuan
from .workflow import PaymentStatus, RefundStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")
PAYMENT, REFUND = "payment", "refund"
# A record this close to midnight may sit in the neighbouring day's bill: the mismatch says so.
NEAR_MIDNIGHT = timedelta(minutes=10)


@dataclass(frozen=True)
class GatewayRecord:
    """One movement of money as the gateway reports it: a payment received or a refund paid out.

    ``out_trade_no`` is Kaowu's payment number (for a refund, the refunded payment's); ``out_refund_no`` is
    Kaowu's refund number ("" for payments, and for refunds the gateway got from elsewhere);
    ``gateway_no`` is the gateway's own trade or refund number; ``at`` is an aware datetime."""

    provider: str
    kind: str  # PAYMENT or REFUND
    out_trade_no: str
    out_refund_no: str
    gateway_no: str
    amount_fen: int
    at: datetime

    def __post_init__(self) -> None:
        if self.kind not in (PAYMENT, REFUND):
            raise ValueError(f"kind must be {PAYMENT!r} or {REFUND!r}, not {self.kind!r}")
        if type(self.amount_fen) is not int or self.amount_fen < 0:
            raise ValueError(f"amount_fen must be a non-negative int, not {self.amount_fen!r}")
        if timezone.is_naive(self.at):
            raise ValueError(f"at must be aware: {self.at!r}")


class MismatchKind(models.TextChoices):
    MISSING_IN_KAOWU = "missing_in_kaowu", _("平台漏记收款")
    MISSING_AT_GATEWAY = "missing_at_gateway", _("支付平台无此收款")
    AMOUNT_DIFFERS = "amount_differs", _("收款金额不一致")
    REFUND_MISSING_IN_KAOWU = "refund_missing_in_kaowu", _("平台漏记退款")
    REFUND_MISSING_AT_GATEWAY = "refund_missing_at_gateway", _("支付平台无此退款")
    REFUND_AMOUNT_DIFFERS = "refund_amount_differs", _("退款金额不一致")
    UNKNOWN_TRADE = "unknown_trade", _("平台无此流水号")


@dataclass(frozen=True)
class Mismatch:
    """One difference between the gateway and Kaowu. An amount is None on the side that has no such record
    (for Kaowu: no succeeded payment or refund). ``detail`` says what is wrong and what finance should do."""

    kind: str  # a MismatchKind value
    out_trade_no: str
    out_refund_no: str
    kaowu_amount_fen: int | None
    gateway_amount_fen: int | None
    detail: str

    @property
    def label(self) -> str:
        return str(MismatchKind(self.kind).label)


@dataclass
class ReconciliationReport:
    """Counts and totals (fen) of payments and refunds on each side for ``day``, and every mismatch."""

    provider: str
    day: date
    gateway_count: int = 0
    kaowu_count: int = 0
    gateway_total_fen: int = 0
    kaowu_total_fen: int = 0
    gateway_refund_count: int = 0
    kaowu_refund_count: int = 0
    gateway_refund_total_fen: int = 0
    kaowu_refund_total_fen: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


def _local(at: datetime) -> str:
    return f"{timezone.localtime(at, SHANGHAI):%Y-%m-%d %H:%M:%S}"


def _near_midnight(at: datetime, day: date) -> bool:
    start, end = _day_bounds(day)
    return at - start < NEAR_MIDNIGHT or end - at <= NEAR_MIDNIGHT


def sandbox_records(*, provider: str, day: date) -> list[GatewayRecord]:
    """The sandbox gateway's ledger for ``provider`` ("sandbox" or "bank") on ``day``: trades paid that day
    (by their paid_at) and refunds made that day (by their created_at), oldest first."""
    start, end = _day_bounds(day)
    return _sandbox_payments(
        SandboxTrade.objects.filter(provider=provider, paid_at__gte=start, paid_at__lt=end)
    ) + _sandbox_refunds(
        SandboxRefund.objects.filter(trade__provider=provider, created_at__gte=start, created_at__lt=end)
    )


def _sandbox_payments(trades: models.QuerySet[SandboxTrade]) -> list[GatewayRecord]:
    return [
        GatewayRecord(
            provider=trade.provider,
            kind=PAYMENT,
            out_trade_no=trade.out_trade_no,
            out_refund_no="",
            gateway_no=trade.trade_no,
            amount_fen=trade.amount_fen,
            at=timezone.localtime(trade.paid_at, SHANGHAI),
        )
        for trade in trades.filter(status=SandboxTradeStatus.SUCCEEDED).order_by("paid_at", "pk")
    ]


def _sandbox_refunds(refunds: models.QuerySet[SandboxRefund]) -> list[GatewayRecord]:
    return [
        GatewayRecord(
            provider=refund.trade.provider,
            kind=REFUND,
            out_trade_no=refund.trade.out_trade_no,
            out_refund_no=refund.out_refund_no,
            gateway_no=refund.refund_no,
            amount_fen=refund.amount_fen,
            at=timezone.localtime(refund.created_at, SHANGHAI),
        )
        for refund in refunds.select_related("trade").order_by("created_at", "pk")
    ]


class _Gateway:
    """The gateway's side: its records of the day, and a look-up by number over all it knows (the whole
    ledger for the sandbox; every record supplied for a bill)."""

    def __init__(self, *, provider: str, day: date, records: Iterable[GatewayRecord] | None) -> None:
        self.provider = provider
        self.from_ledger = records is None
        start, end = _day_bounds(day)
        if records is None:
            if provider not in SANDBOX_CODES:
                raise KaowuError(
                    "payments.bill_required",
                    _("%(provider)s的对账需要支付平台的对账单：请在商户平台下载 %(day)s 的交易账单，提供后再对账。"),
                    params={"provider": LABELS[provider], "day": day.isoformat()},
                )
            records = sandbox_records(provider=provider, day=day)
        # The same bill given twice, or overlapping bills, must not count a record twice.
        known = [r for r in dict.fromkeys(records) if r.provider == provider]
        self.payments = sorted((r for r in known if r.kind == PAYMENT and start <= r.at < end), key=lambda r: r.at)
        self.refunds = sorted((r for r in known if r.kind == REFUND and start <= r.at < end), key=lambda r: r.at)
        self._payment_numbers = {r.out_trade_no for r in known if r.kind == PAYMENT}
        self._refund_numbers = {r.out_refund_no for r in known if r.kind == REFUND and r.out_refund_no}

    def has_payments(self, numbers: set[str]) -> set[str]:
        """Which of ``numbers`` the gateway has a payment for, on any day."""
        if self.from_ledger:
            trades = SandboxTrade.objects.filter(
                provider=self.provider, status=SandboxTradeStatus.SUCCEEDED, out_trade_no__in=numbers
            )
            return set(trades.values_list("out_trade_no", flat=True))
        return numbers & self._payment_numbers

    def has_refunds(self, numbers: set[str]) -> set[str]:
        """Which of the refund ``numbers`` the gateway has, on any day."""
        if self.from_ledger:
            refunds = SandboxRefund.objects.filter(trade__provider=self.provider, out_refund_no__in=numbers)
            return set(refunds.values_list("out_refund_no", flat=True))
        return numbers & self._refund_numbers


def reconcile(*, provider: str, day: date, records: Iterable[GatewayRecord] | None = None) -> ReconciliationReport:
    """Compare ``provider``'s records of the local day ``day`` with Kaowu's and report every mismatch.

    ``records`` are the gateway's records (those of other providers are ignored; those of other days serve
    only to find counterparts across midnight). None reads the sandbox ledger, which only ``sandbox`` and
    ``bank`` have: for ``alipay`` and ``wechat`` it raises ``KaowuError`` payments.bill_required, and an
    unknown provider raises payments.provider_unavailable. Reads only."""
    if provider not in LABELS:
        raise KaowuError("payments.provider_unavailable", _("没有这种支付方式，无法对账。"), field="provider")
    gateway = _Gateway(provider=provider, day=day, records=records)
    start, end = _day_bounds(day)
    kaowu_payments = list(
        Payment.objects.filter(provider=provider, status=PaymentStatus.SUCCEEDED, paid_at__gte=start, paid_at__lt=end)
        .select_related("order")
        .order_by("paid_at", "pk")
    )
    kaowu_refunds = list(
        Refund.objects.filter(
            payment__provider=provider, status=RefundStatus.SUCCEEDED, finished_at__gte=start, finished_at__lt=end
        )
        .select_related("payment")
        .order_by("finished_at", "pk")
    )
    report = ReconciliationReport(
        provider=provider,
        day=day,
        gateway_count=len(gateway.payments),
        kaowu_count=len(kaowu_payments),
        gateway_total_fen=sum(r.amount_fen for r in gateway.payments),
        kaowu_total_fen=sum(p.amount_fen for p in kaowu_payments),
        gateway_refund_count=len(gateway.refunds),
        kaowu_refund_count=len(kaowu_refunds),
        gateway_refund_total_fen=sum(r.amount_fen for r in gateway.refunds),
        kaowu_refund_total_fen=sum(r.amount_fen for r in kaowu_refunds),
    )
    report.mismatches += _payment_mismatches(gateway, kaowu_payments, day)
    report.mismatches += _refund_mismatches(gateway, kaowu_refunds, day)
    return report


def _midnight_hint(at: datetime, day: date) -> str:
    if not _near_midnight(at, day):
        return ""
    return str(_("该笔时间接近零点，支付平台可能记在相邻一天：请连同相邻一天的账单一起对账后再处理。"))


def _payment_mismatches(gateway: _Gateway, kaowu_payments: list[Payment], day: date) -> list[Mismatch]:
    found: list[Mismatch] = []
    numbers = {r.out_trade_no for r in gateway.payments}
    known = {p.number: p for p in Payment.objects.filter(provider=gateway.provider, number__in=numbers)}
    for record in gateway.payments:
        payment = known.get(record.out_trade_no)
        params = {"trade": record.out_trade_no, "at": _local(record.at), "gateway": yuan(record.amount_fen)}
        if payment is None:
            found.append(_unknown(record, _("收款"), params))
        elif payment.status != PaymentStatus.SUCCEEDED:
            found.append(
                Mismatch(
                    kind=MismatchKind.MISSING_IN_KAOWU,
                    out_trade_no=record.out_trade_no,
                    out_refund_no="",
                    kaowu_amount_fen=None,
                    gateway_amount_fen=record.amount_fen,
                    detail=_(
                        "支付平台于 %(at)s 收到支付流水号 %(trade)s 的付款 %(gateway)s 元，考务平台却未记为支付成功"
                        "（当前状态：%(status)s），多半是支付通知丢失。请让考生在订单页点击“支付完毕”，或运行支付定时任务"
                        "（payments_housekeeping）向支付平台查询补记；订单已关闭或已由另一笔支付付清的，补记后系统会自动退款。"
                    )
                    % {**params, "status": PaymentStatus(payment.status).label},
                )
            )
        elif payment.amount_fen != record.amount_fen:
            found.append(
                Mismatch(
                    kind=MismatchKind.AMOUNT_DIFFERS,
                    out_trade_no=record.out_trade_no,
                    out_refund_no="",
                    kaowu_amount_fen=payment.amount_fen,
                    gateway_amount_fen=record.amount_fen,
                    detail=_(
                        "支付流水号 %(trade)s 的收款金额不一致：考务平台 %(kaowu)s 元，支付平台 %(gateway)s 元。"
                        "请以支付平台商户后台的记录核实实收金额，并联系技术人员排查，差额未查明前不要开具发票。"
                    )
                    % {**params, "kaowu": yuan(payment.amount_fen)},
                )
            )
    unmatched = {p.number for p in kaowu_payments} - numbers
    elsewhere = gateway.has_payments(unmatched) if unmatched else set()
    for payment in kaowu_payments:
        if payment.number not in unmatched or payment.number in elsewhere:
            continue  # matched above, or compared on the day the gateway has it
        found.append(
            Mismatch(
                kind=MismatchKind.MISSING_AT_GATEWAY,
                out_trade_no=payment.number,
                out_refund_no="",
                kaowu_amount_fen=payment.amount_fen,
                gateway_amount_fen=None,
                detail=_(
                    "考务平台记录支付流水号 %(trade)s（订单 %(order)s）于 %(at)s 支付成功 %(kaowu)s 元，"
                    "支付平台却没有这笔收款。请在支付平台商户后台按该流水号核实是否到账；确未到账的，请联系技术人员排查，核实前不要为该报名开具发票。"
                )
                % {
                    "trade": payment.number,
                    "order": payment.order.number,
                    "at": _local(payment.paid_at),
                    "kaowu": yuan(payment.amount_fen),
                }
                + _midnight_hint(payment.paid_at, day),
            )
        )
    return found


def _refund_mismatches(gateway: _Gateway, kaowu_refunds: list[Refund], day: date) -> list[Mismatch]:
    found: list[Mismatch] = []
    numbers = {r.out_refund_no for r in gateway.refunds if r.out_refund_no}
    known = {r.number: r for r in Refund.objects.filter(payment__provider=gateway.provider, number__in=numbers)}
    payments = set(
        Payment.objects.filter(
            provider=gateway.provider, number__in={r.out_trade_no for r in gateway.refunds}
        ).values_list("number", flat=True)
    )
    for record in gateway.refunds:
        refund = known.get(record.out_refund_no)
        params = {
            "trade": record.out_trade_no,
            "refund": record.out_refund_no or "-",
            "at": _local(record.at),
            "gateway": yuan(record.amount_fen),
        }
        if refund is None and record.out_trade_no not in payments:
            found.append(_unknown(record, _("退款"), params))
        elif refund is None:
            found.append(
                _refund_missing_in_kaowu(
                    record,
                    _(
                        "支付平台于 %(at)s 为支付流水号 %(trade)s 退款 %(gateway)s 元（退款单号 %(refund)s），"
                        "考务平台却没有发起过这笔退款，可能是在商户后台直接退的款。请核实退款原因并联系技术人员在考务平台补记，"
                        "切勿在考务平台再次退款。"
                    )
                    % params,
                )
            )
        elif refund.status != RefundStatus.SUCCEEDED:
            found.append(
                _refund_missing_in_kaowu(
                    record,
                    _(
                        "支付平台于 %(at)s 已为支付流水号 %(trade)s 退款 %(gateway)s 元（退款单号 %(refund)s），"
                        "考务平台的这笔退款却未记为成功（当前状态：%(status)s）。请在财务退款页面重试该退款以补记"
                        "（同一退款单号支付平台只退一次，不会重复退款），或运行支付定时任务（payments_housekeeping）。"
                    )
                    % {**params, "status": RefundStatus(refund.status).label},
                )
            )
        elif refund.amount_fen != record.amount_fen:
            found.append(
                Mismatch(
                    kind=MismatchKind.REFUND_AMOUNT_DIFFERS,
                    out_trade_no=record.out_trade_no,
                    out_refund_no=record.out_refund_no,
                    kaowu_amount_fen=refund.amount_fen,
                    gateway_amount_fen=record.amount_fen,
                    detail=_(
                        "退款单号 %(refund)s（支付流水号 %(trade)s）的退款金额不一致：考务平台 %(kaowu)s 元，"
                        "支付平台 %(gateway)s 元。请以支付平台商户后台的记录核实实退金额，并联系技术人员排查。"
                    )
                    % {**params, "kaowu": yuan(refund.amount_fen)},
                )
            )
    unmatched = {r.number for r in kaowu_refunds} - numbers
    elsewhere = gateway.has_refunds(unmatched) if unmatched else set()
    for refund in kaowu_refunds:
        if refund.number not in unmatched or refund.number in elsewhere:
            continue  # matched above, or compared on the day the gateway has it
        found.append(
            Mismatch(
                kind=MismatchKind.REFUND_MISSING_AT_GATEWAY,
                out_trade_no=refund.payment.number,
                out_refund_no=refund.number,
                kaowu_amount_fen=refund.amount_fen,
                gateway_amount_fen=None,
                detail=_(
                    "考务平台记录退款单号 %(refund)s（支付流水号 %(trade)s）于 %(at)s 退款成功 %(kaowu)s 元，"
                    "支付平台却没有这笔退款。请在支付平台商户后台核实钱款是否已退回付款人；确未退回的，请联系技术人员处理，"
                    "并告知考生退款尚未到账。"
                )
                % {
                    "refund": refund.number,
                    "trade": refund.payment.number,
                    "at": _local(refund.finished_at),
                    "kaowu": yuan(refund.amount_fen),
                }
                + _midnight_hint(refund.finished_at, day),
            )
        )
    return found


def _refund_missing_in_kaowu(record: GatewayRecord, detail: str) -> Mismatch:
    return Mismatch(
        kind=MismatchKind.REFUND_MISSING_IN_KAOWU,
        out_trade_no=record.out_trade_no,
        out_refund_no=record.out_refund_no,
        kaowu_amount_fen=None,
        gateway_amount_fen=record.amount_fen,
        detail=detail,
    )


def _unknown(record: GatewayRecord, what: str, params: dict[str, str]) -> Mismatch:
    return Mismatch(
        kind=MismatchKind.UNKNOWN_TRADE,
        out_trade_no=record.out_trade_no,
        out_refund_no=record.out_refund_no,
        kaowu_amount_fen=None,
        gateway_amount_fen=record.amount_fen,
        detail=_(
            "支付平台于 %(at)s 记有支付流水号 %(trade)s 的%(what)s %(gateway)s 元，"
            "考务平台从未通过该支付方式创建过这个流水号。请在商户后台核实这是否是同一商户号下其他系统的交易；若不是，请联系技术人员排查。"
        )
        % {**params, "what": what},
    )
