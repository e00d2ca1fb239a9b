"""Alipay (支付宝) provider: page pay for desktop, WAP pay for mobile browsers, RSA2 everywhere.

Built on python-alipay-sdk (``alipay.AliPay``), which signs requests, calls the gateway and verifies the
signature of synchronous answers. This module adds what the library leaves to its callers: Beijing-time
request timestamps, checks on asynchronous notifications beyond the signature (app id, seller, well-formed
amount), and the translation of Alipay's codes and states into the provider value objects.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import alipay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig
from django.conf import settings

from .base import (
    Channel,
    NotificationRejected,
    PaymentRequest,
    PaymentResult,
    PaymentStart,
    PaymentStatus,
    ProviderError,
    RefundRequest,
    RefundResult,
    RefundStatus,
    pem_or_path,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
ALIPAY_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # Alipay speaks Beijing time without an offset
YUAN_PATTERN = re.compile(r"\d+(\.\d{1,2})?")

TRADE_STATUS = {
    "TRADE_SUCCESS": PaymentStatus.SUCCEEDED,
    "TRADE_FINISHED": PaymentStatus.SUCCEEDED,  # paid, and no refund is possible any more
    "WAIT_BUYER_PAY": PaymentStatus.PENDING,
    "TRADE_CLOSED": PaymentStatus.CLOSED,  # unpaid and expired, or refunded in full
}

PAY_METHODS = {
    Channel.PAGE: ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
    Channel.WAP: ("alipay.trade.wap.pay", "QUICK_WAP_PAY"),
}


def yuan_from_fen(fen: int) -> str:
    """Integer fen → Alipay's yuan string with exactly two decimals (12345 → "123.45"). Exact: no float."""
    if fen < 0:
        raise ValueError(f"negative amount: {fen}")
    return f"{Decimal(fen).scaleb(-2):.2f}"


def fen_from_yuan(text: str) -> int:
    """Alipay's yuan string → integer fen; raises ValueError unless it is a plain non-negative amount with at
    most two decimals (no sign, exponent, spaces, NaN), so nothing is ever rounded."""
    if not isinstance(text, str) or not YUAN_PATTERN.fullmatch(text):
        raise ValueError(f"not a yuan amount: {text!r}")
    return int(Decimal(text).scaleb(2))


def _beijing_time(text: str | None) -> datetime | None:
    return datetime.strptime(text, ALIPAY_TIME_FORMAT).replace(tzinfo=SHANGHAI) if text else None


class AlipayProvider:
    """PaymentProvider for Alipay open platform apps signing with RSA2 and verifying with the Alipay public key
    (public-key mode, not the certificate mode)."""

    code = "alipay"

    def __init__(self, config: Mapping[str, Any]) -> None:
        """``config`` keys: APP_ID, PRIVATE_KEY (app private key, PEM or path), ALIPAY_PUBLIC_KEY (PEM or
        path), optional SELLER_ID (the merchant PID; notifications for another seller are rejected), SANDBOX
        (bool, default False), TIMEOUT (seconds, default 15). Loads the keys now, so a bad key fails at start-up,
        not at the first payment. No network access."""
        self.app_id = str(config["APP_ID"])
        self.seller_id = str(config.get("SELLER_ID") or "")
        self._client = alipay.AliPay(
            appid=self.app_id,
            app_private_key_string=pem_or_path(config["PRIVATE_KEY"]),
            alipay_public_key_string=pem_or_path(config["ALIPAY_PUBLIC_KEY"]),
            sign_type="RSA2",
            debug=bool(config.get("SANDBOX", False)),
            config=AliPayConfig(timeout=config.get("TIMEOUT", 15)),
        )
        # The library chooses the production or sandbox gateway from debug=; redirects reuse its choice so that
        # they can never point at another gateway than the API calls.
        self.gateway = self._client._gateway

    @classmethod
    def from_settings(cls) -> AlipayProvider:
        """Build from ``settings.PAYMENT_ALIPAY`` (see ``__init__`` for the keys)."""
        return cls(settings.PAYMENT_ALIPAY)

    # -- requests --------------------------------------------------------------------------------------------

    def _body(self, method: str, biz_content: dict[str, Any], **extra: str) -> dict[str, Any]:
        # The library stamps requests with datetime.now() in the server's zone; Alipay reads the timestamp as
        # Beijing time, so a UTC server would send times eight hours off. Pass it explicitly.
        timestamp = datetime.now(SHANGHAI).strftime(ALIPAY_TIME_FORMAT)
        return self._client.build_body(method, biz_content, timestamp=timestamp, **extra)

    def _call(self, method: str, biz_content: dict[str, Any]) -> dict[str, Any]:
        """Call a server API and return its verified response body; ProviderError if the gateway cannot be
        reached, answers with something other than signed JSON, or its signature does not verify."""
        response_type = method.replace(".", "_") + "_response"
        try:
            return self._client.verified_sync_response(self._body(method, biz_content), response_type)
        except AliPayValidationError as exc:
            raise ProviderError(f"{method}: the answer's signature does not verify") from exc
        except AliPayException as exc:  # unsigned error answer (bad app id, bad signature of ours, …)
            raise ProviderError(f"{method}: {exc}") from exc
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            # URLError and timeouts are OSErrors, non-JSON answers ValueErrors; the library trips with
            # AttributeError/TypeError over JSON that lacks the expected response object.
            raise ProviderError(f"{method}: {exc!r}") from exc

    @staticmethod
    def _gateway_error(method: str, response: Mapping[str, Any]) -> ProviderError:
        return ProviderError(
            f"{method}: {response.get('code')} {response.get('msg')} {response.get('sub_code', '')} "
            f"{response.get('sub_msg', '')}".strip()
        )

    def create_payment(self, request: PaymentRequest) -> PaymentStart:
        """Return the signed gateway URL to redirect the payer to (page pay for Channel.PAGE, WAP pay for
        Channel.WAP). Nothing is sent to Alipay: the trade exists there once the payer opens the URL.
        ValueError for another channel (a programming error, not a gateway failure)."""
        if request.channel not in PAY_METHODS:
            raise ValueError(f"Alipay does not support channel {request.channel!r}")
        method, product_code = PAY_METHODS[request.channel]
        biz_content = {
            "out_trade_no": request.out_trade_no,
            "total_amount": yuan_from_fen(request.amount_fen),
            "subject": request.subject,
            "product_code": product_code,
            "time_expire": request.expires_at.astimezone(SHANGHAI).strftime(ALIPAY_TIME_FORMAT),
        }
        if request.channel == Channel.WAP:
            biz_content["quit_url"] = request.return_url  # where the payer lands when abandoning on the phone
        body = self._body(method, biz_content, notify_url=request.notify_url, return_url=request.return_url)
        return PaymentStart(redirect_url=f"{self.gateway}?{self._client.sign_data(body)}")

    def query_payment(self, out_trade_no: str) -> PaymentResult:
        """Ask Alipay for the trade's state (``alipay.trade.query``); the answer's signature is verified.
        A trade Alipay does not know yet is pending: page and WAP trades only exist once the payer has logged
        in at Alipay."""
        method = "alipay.trade.query"
        response = self._call(method, {"out_trade_no": out_trade_no})
        if response.get("code") != "10000":
            if response.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return PaymentResult(out_trade_no=out_trade_no, status=PaymentStatus.PENDING, raw=response)
            raise self._gateway_error(method, response)
        if response.get("out_trade_no") != out_trade_no:
            raise ProviderError(f"{method}: answer for {response.get('out_trade_no')!r}, asked {out_trade_no!r}")
        try:
            return PaymentResult(
                out_trade_no=out_trade_no,
                status=TRADE_STATUS[response["trade_status"]],
                amount_fen=fen_from_yuan(response["total_amount"]),
                provider_trade_no=response.get("trade_no", ""),
                paid_at=_beijing_time(response.get("send_pay_date")),
                raw=response,
            )
        except (KeyError, ValueError) as exc:
            raise ProviderError(f"{method}: unexpected answer {response!r}") from exc

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund ``amount_fen`` of the trade (``alipay.trade.refund``, out_request_no = out_refund_no, so a
        retry never refunds twice). Alipay refunds synchronously: fund_change "Y" means the money moved now;
        "N" answers a repeat of a refund already made, which query_refund confirms."""
        method = "alipay.trade.refund"
        response = self._call(
            method,
            {
                "out_trade_no": request.out_trade_no,
                "out_request_no": request.out_refund_no,
                "refund_amount": yuan_from_fen(request.amount_fen),
                "refund_reason": request.reason,
            },
        )
        if response.get("code") != "10000":
            raise self._gateway_error(method, response)
        status = RefundStatus.SUCCEEDED if response.get("fund_change") == "Y" else RefundStatus.PROCESSING
        # Alipay has no refund number of its own: the trade number identifies the refunded trade.
        return RefundResult(
            out_refund_no=request.out_refund_no,
            status=status,
            provider_refund_no=response.get("trade_no", ""),
            raw=response,
        )

    def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundResult:
        """State of one refund (``alipay.trade.fastpay.refund.query``). Alipay answers REFUND_SUCCESS once the
        refund is done; without it the refund was not received (yet) or failed, which Alipay does not
        distinguish — processing, and repeating the refund with the same number is safe."""
        method = "alipay.trade.fastpay.refund.query"
        response = self._call(method, {"out_trade_no": out_trade_no, "out_request_no": out_refund_no})
        if response.get("code") != "10000":
            raise self._gateway_error(method, response)
        succeeded = response.get("refund_status") == "REFUND_SUCCESS"
        return RefundResult(
            out_refund_no=out_refund_no,
            status=RefundStatus.SUCCEEDED if succeeded else RefundStatus.PROCESSING,
            provider_refund_no=response.get("trade_no", ""),
            raw=response,
        )

    # -- asynchronous notifications --------------------------------------------------------------------------

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes) -> PaymentResult:
        """Verify an asynchronous notification (form-encoded POST body) and translate it.

        Checks, in order: the body is UTF-8 form data without repeated keys (malformed); ``sign`` is present
        (missing_signature); sign_type, if given, is RSA2 and the RSA2 signature over the sorted parameters
        other than sign and sign_type verifies with the Alipay public key (bad_signature); app_id is ours
        (wrong_app); seller_id is ours when SELLER_ID is configured (wrong_merchant); trade_status is known,
        total_amount is a yuan amount and gmt_payment a Beijing time (malformed). Headers are not used."""
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise NotificationRejected("malformed", "not UTF-8 form data") from exc
        params = dict(pairs)
        if len(params) != len(pairs):
            # A repeated key would let the signed value and the value we read differ.
            raise NotificationRejected("malformed", "repeated parameter")
        signature = params.pop("sign", "")
        if not signature:
            raise NotificationRejected("missing_signature")
        if params.get("sign_type", "RSA2") != "RSA2":
            raise NotificationRejected("bad_signature", f"sign_type {params['sign_type']!r}")
        try:
            # verify() drops sign_type itself and signs the remaining parameters sorted by key.
            verified = self._client.verify(dict(params), signature)
        except (binascii.Error, ValueError) as exc:  # the signature is not even base64
            raise NotificationRejected("bad_signature", "undecodable signature") from exc
        if not verified:
            raise NotificationRejected("bad_signature")
        if params.get("app_id") != self.app_id:
            raise NotificationRejected("wrong_app", f"app_id {params.get('app_id')!r}")
        if self.seller_id and params.get("seller_id") != self.seller_id:
            raise NotificationRejected("wrong_merchant", f"seller_id {params.get('seller_id')!r}")
        try:
            return PaymentResult(
                out_trade_no=params["out_trade_no"],
                status=TRADE_STATUS[params["trade_status"]],
                amount_fen=fen_from_yuan(params["total_amount"]),
                provider_trade_no=params.get("trade_no", ""),
                paid_at=_beijing_time(params.get("gmt_payment")),
                raw=params,
            )
        except (KeyError, ValueError) as exc:
            raise NotificationRejected("malformed", json.dumps(params, ensure_ascii=False)) from exc

    def notification_response(self, *, accepted: bool) -> tuple[int, str, str]:
        """Alipay stops retrying on the plain text ``success``; anything else (``failure``) makes it retry with
        backoff for about a day, so rejected notifications also get a 200."""
        return 200, "success" if accepted else "failure", "text/plain"
