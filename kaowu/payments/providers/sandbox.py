"""The sandbox gateway (PAY-2): a local stand-in for a real gateway such as Alipay, working offline, so that
every payment path can be tried by hand and in browser tests. ``sandbox`` is the plain gateway; ``bank``
(网银) is the same gateway where the payer first picks a bank, as the seed 001 manual shows.

It behaves like a real gateway: its own ledger (``SandboxTrade``, ``SandboxRefund``), a payment page where
the payer pays, fails or leaves (``kaowu.payments.sandbox_views``), signed asynchronous notifications that
may come late, twice or never, queries and idempotent refunds. Kaowu's payments code talks to it only
through ``SandboxProvider``, exactly as to the real gateways.

Notifications are JSON POSTs signed with HMAC-SHA256 (``sign_notification``): header ``X-Sandbox-Timestamp``
(Unix seconds) and ``X-Sandbox-Signature`` (hex HMAC-SHA256 of ``timestamp + "\\n" + body``) under
``settings.PAYMENT_SANDBOX["KEY"]``, or a key derived from SECRET_KEY when that is empty.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from celery import shared_task
from django import urls
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Sum
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kaowu.core.context import reset_current_ip, set_current_ip
from kaowu.core.errors import KaowuError

from ..models import SandboxRefund, SandboxTrade, SandboxTradeStatus
from .base import (
    NotificationRejected,
    PaymentRequest,
    PaymentResult,
    PaymentStart,
    PaymentStatus,
    ProviderError,
    RefundRequest,
    RefundResult,
    RefundStatus,
)

logger = logging.getLogger("kaowu.payments")

CODES = ("sandbox", "bank")
SIGNATURE_HEADER = "X-Sandbox-Signature"
TIMESTAMP_HEADER = "X-Sandbox-Timestamp"
MAX_CLOCK_SKEW_SECONDS = 300
LATE_NOTIFY_SECONDS = 60
MERCHANT_NAME = _("考务平台")
GATEWAY_NAMES = {"sandbox": _("模拟支付网关"), "bank": _("网银支付")}
# Trade and refund numbers start with the channel's prefix, so a number in a log says where it came from.
NUMBER_PREFIX = {"sandbox": "SB", "bank": "BK"}

# The banks of the 网银 bank choice page in the seed 001 manual, in its order: (code, name).
BANKS = (
    ("CCB", "中国建设银行"),
    ("BOC", "中国银行"),
    ("PSBC", "中国邮政储蓄银行"),
    ("ICBC", "中国工商银行"),
    ("BOCOM", "交通银行"),
    ("CITIC", "中信银行"),
    ("CMB", "招商银行"),
    ("CGB", "广发银行"),
    ("CMBC", "中国民生银行"),
    ("HXB", "华夏银行"),
    ("CEB", "中国光大银行"),
    ("PAB", "平安银行"),
    ("CIB", "兴业银行"),
    ("SPDB", "浦发银行"),
    ("BOB", "北京银行"),
    ("BOSC", "上海银行"),
    ("ABC", "中国农业银行"),
)
BANK_NAMES = dict(BANKS)

# Trades the payer may still pay (or fail again): a failed attempt leaves the trade open, as at real gateways.
OPEN_STATES = (SandboxTradeStatus.PENDING, SandboxTradeStatus.FAILED)
REPORTED_STATUS = {
    SandboxTradeStatus.PENDING: PaymentStatus.PENDING,
    SandboxTradeStatus.SUCCEEDED: PaymentStatus.SUCCEEDED,
    SandboxTradeStatus.FAILED: PaymentStatus.FAILED,
    SandboxTradeStatus.CLOSED: PaymentStatus.CLOSED,
}
NOTIFIED_STATUS = {status.value for status in SandboxTradeStatus}


class NotifyMode(models.TextChoices):
    """How the gateway page sends the asynchronous notification after a payment."""

    NORMAL = "normal", _("正常通知")
    LATE = "late", _("延迟通知")
    TWICE = "twice", _("重复通知")
    NONE = "none", _("不发送通知")


def notify_delay() -> int:
    """Seconds before the gateway's (first) notification, from ``settings.PAYMENT_SANDBOX["NOTIFY_DELAY"]``."""
    return int(settings.PAYMENT_SANDBOX.get("NOTIFY_DELAY", 2))


def notify_countdowns(mode: str) -> list[int]:
    """The delays, in seconds, of the notifications ``mode`` sends: one, one a minute late, two (at once and
    after the usual delay), or none. ValueError for an unknown mode."""
    mode = NotifyMode(mode)
    return {
        NotifyMode.NORMAL: [notify_delay()],
        NotifyMode.LATE: [LATE_NOTIFY_SECONDS],
        NotifyMode.TWICE: [0, notify_delay()],
        NotifyMode.NONE: [],
    }[mode]


def _new_number(code: str, kind: str = "") -> str:
    return f"{NUMBER_PREFIX[code]}{kind}{timezone.localtime():%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


# -- signatures ------------------------------------------------------------------------------------------------


def _signing_key() -> bytes:
    key = settings.PAYMENT_SANDBOX.get("KEY", "")
    if key:
        return key.encode("utf-8")
    # A key of its own derived from SECRET_KEY: a sandbox signature is never a valid signature elsewhere.
    return salted_hmac("kaowu.payments.sandbox.notification", "key", algorithm="sha256").digest()


def _signature(timestamp: str, body: bytes) -> str:
    return hmac.new(_signing_key(), timestamp.encode("utf-8") + b"\n" + body, hashlib.sha256).hexdigest()


def sign_notification(
    code: str, payload: Mapping[str, Any], *, timestamp: int | None = None
) -> tuple[dict[str, str], bytes]:
    """A genuine sandbox notification for channel ``code`` ("sandbox" or "bank"): ``(headers, body)``.

    ``payload`` holds the trade's state: ``out_trade_no``, ``trade_no``, ``amount_fen`` (int), ``status`` (a
    ``SandboxTradeStatus`` value) and ``paid_at`` (ISO 8601 with offset, or None unless succeeded); other
    keys are carried along. ``provider`` is set to ``code``. The body is UTF-8 JSON; the headers are
    ``X-Sandbox-Timestamp`` (``timestamp``, default now, in Unix seconds) and ``X-Sandbox-Signature``.
    Post both to ``/payments/notify/<code>/``, e.g. ``client.post(url, body, content_type="application/json",
    headers=headers)``. Pure: no database access."""
    body = json.dumps({**payload, "provider": code}, ensure_ascii=False, sort_keys=True).encode("utf-8")
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: _signature(stamp, body)}, body


# -- the ledger ------------------------------------------------------------------------------------------------


def trade_close_if_expired(trade: SandboxTrade) -> SandboxTrade:
    """Close ``trade`` (in the database and on the instance) if it is still open past its expiry, as the
    gateway does when the payer runs out of time. Safe without a lock: the update only touches an open row."""
    if trade.status in OPEN_STATES and trade.expires_at <= timezone.now():
        SandboxTrade.objects.filter(pk=trade.pk, status__in=OPEN_STATES).update(status=SandboxTradeStatus.CLOSED)
        trade.refresh_from_db(fields=["status"])
    return trade


def _refunded_fen(trade: SandboxTrade) -> int:
    return trade.refunds.aggregate(total=Sum("amount_fen"))["total"] or 0


def _reported_status(trade: SandboxTrade) -> str:
    """What the gateway says about the trade: a trade refunded in full is closed, as Alipay reports it."""
    if trade.status == SandboxTradeStatus.SUCCEEDED and _refunded_fen(trade) >= trade.amount_fen:
        return SandboxTradeStatus.CLOSED
    return trade.status


def notification_payload(trade: SandboxTrade) -> dict[str, Any]:
    """The trade's state as notifications and queries carry it (expired trades closed first)."""
    trade = trade_close_if_expired(trade)
    return {
        "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no,
        "amount_fen": trade.amount_fen,
        "status": _reported_status(trade),
        "paid_at": timezone.localtime(trade.paid_at).isoformat() if trade.paid_at else None,
    }


def sandbox_trade_pay(*, out_trade_no: str, notify: str, bank: str = "") -> tuple[SandboxTrade, bool]:
    """The payer presses 确认支付 on the gateway page. Returns the trade and whether this press paid it.

    Preconditions: the trade exists (``SandboxTrade.DoesNotExist`` otherwise); for ``bank`` trades ``bank``
    is a code of ``BANKS`` (``KaowuError`` payments.sandbox_bank_required otherwise); ``notify`` is a
    ``NotifyMode`` value (ValueError otherwise). Side effects: under the trade's row lock an open, unexpired
    trade becomes succeeded with paid_at now (and the bank's name), and the notifications of ``notify`` are
    queued after commit. A trade already paid, closed or expired (closed now) is left as it is: a second
    press never pays twice."""
    countdowns = notify_countdowns(notify)
    with transaction.atomic():
        trade = trade_close_if_expired(SandboxTrade.objects.select_for_update().get(out_trade_no=out_trade_no))
        if trade.status not in OPEN_STATES:
            return trade, False
        if trade.provider == "bank" and bank not in BANK_NAMES:
            raise KaowuError("payments.sandbox_bank_required", _("请先选择付款银行，再确认支付。"), field="bank")
        trade.status = SandboxTradeStatus.SUCCEEDED
        trade.paid_at = timezone.now()
        trade.bank = BANK_NAMES.get(bank, "") if trade.provider == "bank" else ""
        trade.save(update_fields=["status", "paid_at", "bank"])
        for countdown in countdowns:
            transaction.on_commit(
                partial(sandbox_notify_task.apply_async, args=[out_trade_no], countdown=countdown), robust=True
            )
    return trade, True


def sandbox_trade_fail(*, out_trade_no: str, bank: str = "") -> tuple[SandboxTrade, bool]:
    """The payer presses 模拟支付失败: the attempt fails (no notification, as at real gateways, and the trade
    stays payable until it expires). Returns the trade and whether it was open. Precondition: the trade exists
    (``SandboxTrade.DoesNotExist`` otherwise). A trade already paid, closed or expired is left as it is."""
    with transaction.atomic():
        trade = trade_close_if_expired(SandboxTrade.objects.select_for_update().get(out_trade_no=out_trade_no))
        if trade.status not in OPEN_STATES:
            return trade, False
        trade.status = SandboxTradeStatus.FAILED
        if trade.provider == "bank" and bank in BANK_NAMES:
            trade.bank = BANK_NAMES[bank]
        trade.save(update_fields=["status", "bank"])
    return trade, True


# -- the provider ----------------------------------------------------------------------------------------------


class SandboxProvider:
    """PaymentProvider of the sandbox gateway; ``code`` is "sandbox" or "bank" (网银: the same gateway with
    a bank choice). Each code is its own merchant account: it sees only its own trades."""

    def __init__(self, code: str) -> None:
        if code not in CODES:
            raise ValueError(f"not a sandbox channel: {code!r}")
        self.code = code

    def create_payment(self, request: PaymentRequest) -> PaymentStart:
        """Open a trade in the gateway's ledger and return the gateway page to send the payer to (the page
        suits phones and desktops alike, so the channel does not matter).

        Idempotent on out_trade_no: the same number again, with the same amount and channel, returns the same
        trade as it stands (its first URLs and expiry are kept, as real gateways do). ProviderError for a
        number already used with another amount or channel, or URLs longer than the gateway accepts;
        ValueError for a non-positive amount (a programming error)."""
        if request.amount_fen <= 0:
            raise ValueError(f"amount must be positive: {request.amount_fen}")
        limit = SandboxTrade._meta.get_field("notify_url").max_length
        if len(request.notify_url) > limit or len(request.return_url) > limit:
            raise ProviderError(f"notify_url and return_url may have at most {limit} characters")
        trade = SandboxTrade.objects.filter(out_trade_no=request.out_trade_no).first()
        if trade is None:
            try:
                with transaction.atomic():
                    trade = SandboxTrade.objects.create(
                        out_trade_no=request.out_trade_no,
                        provider=self.code,
                        trade_no=_new_number(self.code),
                        amount_fen=request.amount_fen,
                        subject=request.subject[: SandboxTrade._meta.get_field("subject").max_length],
                        notify_url=request.notify_url,
                        return_url=request.return_url,
                        expires_at=request.expires_at,
                    )
            except IntegrityError:
                # Created meanwhile by a concurrent request for the same number (or, vanishingly rarely, a
                # trade number drawn twice): the first case is answered below, the second is retryable.
                trade = SandboxTrade.objects.filter(out_trade_no=request.out_trade_no).first()
                if trade is None:
                    raise ProviderError("the gateway could not open the trade; try again") from None
        if trade.provider != self.code or trade.amount_fen != request.amount_fen:
            raise ProviderError(
                f"out_trade_no {request.out_trade_no} already used for {trade.amount_fen} fen at {trade.provider}"
            )
        return PaymentStart(redirect_url=reverse("payments:sandbox_gateway", args=[trade.out_trade_no]))

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes) -> PaymentResult:
        """Verify a notification made by ``sign_notification`` and translate it.

        Header names are compared case-insensitively (``request.headers`` or plain dicts). Checks, in order:
        both X-Sandbox-Timestamp and X-Sandbox-Signature present (missing_signature); the HMAC-SHA256 of
        timestamp + "\\n" + body matches (bad_signature: any change to the body or timestamp); the timestamp is
        an integer (malformed) within 300 seconds of now, edges included (stale_timestamp: a replay); the body
        is a JSON object (malformed) for this channel (wrong_provider); out_trade_no and trade_no are
        non-empty strings, amount_fen a non-negative integer, status known, paid_at an ISO time with offset,
        required when succeeded (malformed)."""
        lowered = {name.lower(): value for name, value in headers.items()}
        signature = lowered.get(SIGNATURE_HEADER.lower(), "")
        timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
        if not signature or not timestamp:
            raise NotificationRejected("missing_signature")
        if not hmac.compare_digest(signature.encode("utf-8"), _signature(timestamp, body).encode("utf-8")):
            raise NotificationRejected("bad_signature")
        # Checked after the signature, which covers the timestamp: a genuine but old message is a replay.
        try:
            skew = abs(time.time() - int(timestamp))
        except ValueError as exc:
            raise NotificationRejected("malformed", f"timestamp {timestamp!r}") from exc
        if skew > MAX_CLOCK_SKEW_SECONDS:
            raise NotificationRejected("stale_timestamp", f"{skew:.0f} s from now")
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise NotificationRejected("malformed", "body is not UTF-8 JSON") from exc
        if not isinstance(payload, dict):
            raise NotificationRejected("malformed", "body is not a JSON object")
        if payload.get("provider") != self.code:
            raise NotificationRejected("wrong_provider", f"provider {payload.get('provider')!r}")
        out_trade_no, trade_no = payload.get("out_trade_no"), payload.get("trade_no")
        amount, status, paid_text = payload.get("amount_fen"), payload.get("status"), payload.get("paid_at")
        try:
            paid_at = datetime.fromisoformat(paid_text) if paid_text is not None else None
        except (TypeError, ValueError) as exc:
            raise NotificationRejected("malformed", f"paid_at {paid_text!r}") from exc
        if (
            not (isinstance(out_trade_no, str) and out_trade_no and isinstance(trade_no, str) and trade_no)
            or type(amount) is not int  # bool is an int subclass: true is not an amount
            or amount < 0
            or not isinstance(status, str)
            or status not in NOTIFIED_STATUS
            or (paid_at is not None and paid_at.utcoffset() is None)
            or (status == SandboxTradeStatus.SUCCEEDED and paid_at is None)
        ):
            raise NotificationRejected("malformed", json.dumps(payload, ensure_ascii=False)[:250])
        return PaymentResult(
            out_trade_no=out_trade_no,
            status=REPORTED_STATUS[status],
            amount_fen=amount,
            provider_trade_no=trade_no,
            paid_at=paid_at,
            raw=payload,
        )

    def notification_response(self, *, accepted: bool) -> tuple[int, str, str]:
        """``success`` acknowledges; anything else is a failure the gateway would retry."""
        if accepted:
            return 200, "success", "text/plain"
        return 400, "fail", "text/plain"

    def query_payment(self, out_trade_no: str) -> PaymentResult:
        """The trade's state from the ledger. An open trade past its expiry is closed now. A number the gateway
        never saw is closed with no amount: no payment can come for it (unlike Alipay, this gateway opens the
        trade at create_payment, so an unknown trade is not one the payer may still be opening)."""
        trade = SandboxTrade.objects.filter(out_trade_no=out_trade_no, provider=self.code).first()
        if trade is None:
            return PaymentResult(
                out_trade_no=out_trade_no,
                status=PaymentStatus.CLOSED,
                raw={"out_trade_no": out_trade_no, "error": "TRADE_NOT_EXIST"},
            )
        payload = notification_payload(trade)
        return PaymentResult(
            out_trade_no=out_trade_no,
            status=REPORTED_STATUS[payload["status"]],
            amount_fen=trade.amount_fen,
            provider_trade_no=trade.trade_no,
            paid_at=trade.paid_at,
            raw={**payload, "provider": self.code},
        )

    def _refund_refused(self, request: RefundRequest, code: str, reason: str) -> RefundResult:
        return RefundResult(
            out_refund_no=request.out_refund_no,
            status=RefundStatus.FAILED,
            raw={
                "out_trade_no": request.out_trade_no,
                "out_refund_no": request.out_refund_no,
                "error": code,
                "reason": reason,
            },
        )

    @staticmethod
    def _refund_done(refund: SandboxRefund) -> RefundResult:
        return RefundResult(
            out_refund_no=refund.out_refund_no,
            status=RefundStatus.SUCCEEDED,
            provider_refund_no=refund.refund_no,
            raw={
                "out_trade_no": refund.trade.out_trade_no,
                "out_refund_no": refund.out_refund_no,
                "refund_no": refund.refund_no,
                "amount_fen": refund.amount_fen,
                "refunded_at": timezone.localtime(refund.created_at).isoformat(),
            },
        )

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund ``amount_fen`` of a paid trade at once. Idempotent on out_refund_no: the same number again
        answers the refund already made (succeeded), never a second one. Refused (FAILED, ``raw["error"]`` a
        code and ``raw["reason"]`` the explanation) when the number was used for another trade or amount
        (REFUND_NO_CONFLICT), the trade is unknown (TRADE_NOT_EXIST) or not paid (TRADE_STATUS_ERROR),
        total_fen is not the trade's amount (TOTAL_AMOUNT_MISMATCH), the amount is not positive
        (REFUND_AMOUNT_INVALID) or exceeds what is left unrefunded (REFUND_AMOUNT_EXCEEDED). The trade's row
        lock serialises refunds of one trade."""
        with transaction.atomic():
            trade = (
                SandboxTrade.objects.select_for_update()
                .filter(out_trade_no=request.out_trade_no, provider=self.code)
                .first()
            )
            existing = SandboxRefund.objects.select_related("trade").filter(out_refund_no=request.out_refund_no).first()
            if existing is not None:
                if existing.trade_id != getattr(trade, "pk", None) or existing.amount_fen != request.amount_fen:
                    return self._refund_refused(
                        request, "REFUND_NO_CONFLICT", gettext("退款单号已用于另一笔交易或另一金额的退款。")
                    )
                return self._refund_done(existing)
            if trade is None:
                return self._refund_refused(request, "TRADE_NOT_EXIST", gettext("支付平台没有这笔交易。"))
            if trade.status != SandboxTradeStatus.SUCCEEDED:
                return self._refund_refused(request, "TRADE_STATUS_ERROR", gettext("交易未支付成功，不能退款。"))
            if request.total_fen != trade.amount_fen:
                return self._refund_refused(request, "TOTAL_AMOUNT_MISMATCH", gettext("订单总金额与交易金额不一致。"))
            if request.amount_fen <= 0:
                return self._refund_refused(request, "REFUND_AMOUNT_INVALID", gettext("退款金额必须大于零。"))
            if request.amount_fen > trade.amount_fen - _refunded_fen(trade):
                return self._refund_refused(
                    request, "REFUND_AMOUNT_EXCEEDED", gettext("退款金额超过了交易尚未退款的金额。")
                )
            try:
                with transaction.atomic():
                    refund = SandboxRefund.objects.create(
                        trade=trade,
                        out_refund_no=request.out_refund_no,
                        refund_no=_new_number(self.code, "R"),
                        amount_fen=request.amount_fen,
                    )
            except IntegrityError:
                # The same refund number sent for another trade at this very moment: retrying gets its answer.
                raise ProviderError("the gateway could not record the refund; try again") from None
        return self._refund_done(refund)

    def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundResult:
        """Sandbox refunds are immediate: succeeded if the gateway made it for this trade, else failed
        (REFUND_NOT_EXIST), and sending the refund again with the same number is safe."""
        refund = (
            SandboxRefund.objects.select_related("trade")
            .filter(out_refund_no=out_refund_no, trade__out_trade_no=out_trade_no, trade__provider=self.code)
            .first()
        )
        if refund is None:
            return RefundResult(
                out_refund_no=out_refund_no,
                status=RefundStatus.FAILED,
                raw={
                    "out_trade_no": out_trade_no,
                    "out_refund_no": out_refund_no,
                    "error": "REFUND_NOT_EXIST",
                    "reason": gettext("支付平台没有这笔退款。"),
                },
            )
        return self._refund_done(refund)


# -- delivery --------------------------------------------------------------------------------------------------


@shared_task
def sandbox_notify_task(out_trade_no: str) -> int | None:
    """Deliver the signed notification of the trade's current state to its notify_url, in-process: the URL's
    path is resolved in Kaowu's URLconf and the view called with a POST built by RequestFactory (JSON body,
    the X-Sandbox-* headers, REMOTE_ADDR and client IP 127.0.0.1). This works offline, with eager Celery
    and in a worker alike, and still runs Kaowu's real notify view and signature check.

    Returns the HTTP status the view answered, or None when nothing was sent (unknown trade, trade still
    pending, notify_url not a Kaowu URL). Logs the answer on ``kaowu.payments``. One delivery per task: the
    gateway page's 重复通知 queues two."""
    trade = SandboxTrade.objects.filter(out_trade_no=out_trade_no).first()
    if trade is None:
        logger.warning("sandbox notification: no trade %s", out_trade_no)
        return None
    payload = notification_payload(trade)
    if payload["status"] == SandboxTradeStatus.PENDING:
        logger.info("sandbox notification: trade %s is still pending, nothing to send", out_trade_no)
        return None
    headers, body = sign_notification(trade.provider, {**payload, "notify_id": uuid.uuid4().hex})
    url = urlsplit(trade.notify_url)
    try:
        # Looked up on the module at call time, so that a test may stand in a view by patching it.
        match = urls.resolve(url.path)
    except urls.Resolver404:
        logger.error("sandbox notification for %s: %s is not a Kaowu URL", out_trade_no, trade.notify_url)
        return None
    meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    if url.netloc:
        meta["HTTP_HOST"] = url.netloc
    request = RequestFactory().post(
        url.path,
        data=body,
        content_type="application/json",
        secure=url.scheme == "https",
        REMOTE_ADDR="127.0.0.1",
        **meta,
    )
    # No middleware runs for this request: set the client IP as RequestContextMiddleware would, so the
    # notification is recorded as coming from the gateway and not from whoever's request queued it.
    token = set_current_ip("127.0.0.1")
    try:
        response = match.func(request, *match.args, **match.kwargs)
    finally:
        reset_current_ip(token)
    logger.info(
        "sandbox notification for %s (%s) answered %s %r",
        out_trade_no,
        payload["status"],
        response.status_code,
        response.content[:100].decode("utf-8", "replace"),
    )
    return response.status_code
