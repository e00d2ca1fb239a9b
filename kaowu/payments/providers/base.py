"""The one interface every payment provider implements (PAY-2): create a payment, verify an asynchronous
notification, query a payment, refund, query a refund.

Providers speak only in these value objects; they never touch orders or the database. The payments
services (issue 5) own idempotency and state: a provider says what the gateway says, verified, and
nothing more. Amounts are integer fen everywhere; a provider converts to the gateway's unit (Alipay:
yuan as a decimal string; WeChat Pay: fen).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol


class PaymentStatus:
    SUCCEEDED = "succeeded"  # money received
    PENDING = "pending"  # created / waiting for the payer
    FAILED = "failed"  # the payer's attempt failed; the trade may still be paid later with another attempt
    CLOSED = "closed"  # closed or refunded in full at the gateway: no payment will come


class RefundStatus:
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Channel:
    PAGE = "page"  # desktop web page (Alipay page pay, online banking)
    WAP = "wap"  # mobile browser (Alipay WAP pay)
    NATIVE = "native"  # QR code to scan (WeChat Native)
    H5 = "h5"  # mobile browser outside WeChat (WeChat H5)


@dataclass(frozen=True)
class PaymentRequest:
    out_trade_no: str  # Kaowu's payment number, unique per attempt
    amount_fen: int
    subject: str  # shown to the payer, e.g. "2026年拍卖师资格考试报名费"
    notify_url: str
    return_url: str
    client_ip: str
    channel: str
    expires_at: datetime  # aware


@dataclass(frozen=True)
class PaymentStart:
    """Where to send the payer: a URL to redirect to, or a code to show as a QR code (WeChat Native)."""

    redirect_url: str = ""
    qr_code: str = ""


@dataclass(frozen=True)
class PaymentResult:
    out_trade_no: str
    status: str  # a PaymentStatus value
    amount_fen: int | None = None  # what the gateway says was paid; None when it does not say
    provider_trade_no: str = ""
    paid_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)  # the verified payload, kept as evidence


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str  # Kaowu's refund number: the gateway refunds it once whatever the retries
    amount_fen: int
    total_fen: int
    reason: str


@dataclass(frozen=True)
class RefundResult:
    out_refund_no: str
    status: str  # a RefundStatus value
    provider_refund_no: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


class NotificationRejected(Exception):
    """A notification that must not be believed: bad or missing signature, stale timestamp, undecryptable
    body, wrong app id or merchant. ``code`` is stable for logs and tests."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class ProviderError(Exception):
    """The gateway could not be reached or answered with an error; the caller may retry later."""


class PaymentProvider(Protocol):
    code: str  # "sandbox", "alipay", "wechat", "bank"

    def create_payment(self, request: PaymentRequest) -> PaymentStart: ...

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes) -> PaymentResult:
        """Verify and decode an asynchronous notification; raise ``NotificationRejected`` if not genuine."""
        ...

    def notification_response(self, *, accepted: bool) -> tuple[int, str, str]:
        """(HTTP status, body, content type) the gateway expects in answer to a notification."""
        ...

    def query_payment(self, out_trade_no: str) -> PaymentResult: ...

    def refund(self, request: RefundRequest) -> RefundResult: ...

    def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundResult: ...


def pem_or_path(value: str) -> str:
    """Key material from settings: the PEM text itself, or the path of a file holding it (keeps secrets out of
    environment variables when the deployment mounts key files)."""
    if value.lstrip().startswith("-----BEGIN"):
        return value
    return Path(value).read_text(encoding="ascii")
