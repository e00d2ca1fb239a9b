"""WeChat Pay v3 (微信支付) provider: Native (QR code) and H5 (mobile browser) payments, platform public-key mode.

Built on wechatpayv3, which signs API requests with the merchant key and verifies the signature of API answers.
It is constructed with the platform public key and its id, which is what keeps it off the network: without them
it downloads platform certificates in its constructor. Notifications are verified here rather than with the
library's ``callback()``: that method has no timestamp check (replays), downloads certificates when the serial
header is unknown, and answers None for every kind of failure.
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import aes_decrypt, load_public_key, rsa_verify

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
MAX_CLOCK_SKEW_SECONDS = 5 * 60  # WeChat's own advice; older notifications are treated as replays
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"

TRADE_STATE = {
    "SUCCESS": PaymentStatus.SUCCEEDED,
    "NOTPAY": PaymentStatus.PENDING,
    "USERPAYING": PaymentStatus.PENDING,
    "PAYERROR": PaymentStatus.FAILED,
    "CLOSED": PaymentStatus.CLOSED,
    "REVOKED": PaymentStatus.CLOSED,
    "REFUND": PaymentStatus.CLOSED,  # paid, then refunded: no further payment will come
}

REFUND_STATUS = {
    "SUCCESS": RefundStatus.SUCCEEDED,
    "PROCESSING": RefundStatus.PROCESSING,
    "CLOSED": RefundStatus.FAILED,
    "ABNORMAL": RefundStatus.FAILED,  # the payer's account refused the money; needs a manual refund
}

PAY_TYPES = {Channel.NATIVE: WeChatPayType.NATIVE, Channel.H5: WeChatPayType.H5}


class WechatPayProvider:
    """PaymentProvider for a directly connected WeChat Pay merchant (直连商户) using API v3 with the platform
    public key (平台公钥模式)."""

    code = "wechat"

    def __init__(self, config: Mapping[str, Any], *, clock: Callable[[], float] = time.time) -> None:
        """``config`` keys: APP_ID, MCH_ID, PRIVATE_KEY (merchant API key, PKCS#8 PEM or path), CERT_SERIAL_NO
        (serial of the merchant API certificate), APIV3_KEY (32 characters), PUBLIC_KEY (platform public key,
        PEM or path), PUBLIC_KEY_ID ("PUB_KEY_ID_…"), TIMEOUT (seconds, default 15). ``clock`` returns the
        current Unix time (injectable for tests of the timestamp window). Loads the keys now; no network."""
        self.app_id = str(config["APP_ID"])
        self.mch_id = str(config["MCH_ID"])
        self.public_key_id = str(config["PUBLIC_KEY_ID"])
        self._apiv3_key = str(config["APIV3_KEY"])
        if len(self._apiv3_key.encode()) != 32:
            raise ValueError("APIV3_KEY must be 32 bytes (AES-256)")
        public_key_pem = pem_or_path(config["PUBLIC_KEY"])
        self._public_key = load_public_key(public_key_pem)
        self._clock = clock
        self._client = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,  # a default only: every pay() call passes its own pay_type
            mchid=self.mch_id,
            private_key=pem_or_path(config["PRIVATE_KEY"]),
            cert_serial_no=str(config["CERT_SERIAL_NO"]),
            appid=self.app_id,
            apiv3_key=self._apiv3_key,
            timeout=config.get("TIMEOUT", 15),
            public_key=public_key_pem,
            public_key_id=self.public_key_id,
        )

    @classmethod
    def from_settings(cls) -> WechatPayProvider:
        """Build from ``settings.PAYMENT_WECHAT`` (see ``__init__`` for the keys)."""
        return cls(settings.PAYMENT_WECHAT)

    # -- API calls -------------------------------------------------------------------------------------------

    def _call(self, what: str, api: Callable[..., tuple[int, Any]], **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """Run one library API call; return (HTTP status, JSON body). ProviderError when the gateway cannot be
        reached, a 2xx answer's signature does not verify, or the answer is not JSON."""
        try:
            status, text = api(**kwargs)
        except requests.RequestException as exc:
            raise ProviderError(f"{what}: {exc!r}") from exc
        except Exception as exc:
            # wechatpayv3 raises bare Exception when an answer's signature does not verify (and for missing
            # arguments, which our calls always pass); nothing more specific is there to catch.
            raise ProviderError(f"{what}: {exc}") from exc
        try:
            body = json.loads(text) if text else {}
        except (TypeError, ValueError) as exc:
            raise ProviderError(f"{what}: HTTP {status}, not JSON") from exc
        if not isinstance(body, dict):
            raise ProviderError(f"{what}: HTTP {status}, unexpected answer")
        return status, body

    @staticmethod
    def _gateway_error(what: str, status: int, body: Mapping[str, Any]) -> ProviderError:
        return ProviderError(f"{what}: HTTP {status} {body.get('code', '')} {body.get('message', '')}".strip())

    def create_payment(self, request: PaymentRequest) -> PaymentStart:
        """Place the order with WeChat Pay: Channel.NATIVE returns the ``code_url`` to show as a QR code,
        Channel.H5 the ``h5_url`` to redirect the mobile browser to (the caller may append a redirect_url
        parameter). ValueError for another channel; ProviderError when WeChat refuses or cannot be reached."""
        if request.channel not in PAY_TYPES:
            raise ValueError(f"WeChat Pay does not support channel {request.channel!r}")
        scene_info: dict[str, Any] = {"payer_client_ip": request.client_ip}
        if request.channel == Channel.H5:
            scene_info["h5_info"] = {"type": "Wap"}
        what = f"pay/{request.channel}"
        status, body = self._call(
            what,
            self._client.pay,
            description=request.subject,
            out_trade_no=request.out_trade_no,
            amount={"total": request.amount_fen, "currency": "CNY"},
            time_expire=request.expires_at.astimezone(SHANGHAI).isoformat(timespec="seconds"),
            scene_info=scene_info,
            notify_url=request.notify_url,
            pay_type=PAY_TYPES[request.channel],
        )
        if status != 200:
            raise self._gateway_error(what, status, body)
        if request.channel == Channel.NATIVE and body.get("code_url"):
            return PaymentStart(qr_code=body["code_url"])
        if request.channel == Channel.H5 and body.get("h5_url"):
            return PaymentStart(redirect_url=body["h5_url"])
        raise ProviderError(f"{what}: no payment URL in {body!r}")

    def query_payment(self, out_trade_no: str) -> PaymentResult:
        """Ask WeChat Pay for the order by out_trade_no (answer signature verified by the library). An order
        WeChat does not know (ORDER_NOT_EXIST) is closed: Native and H5 orders exist from create_payment on,
        so no payment can come for it."""
        what = "query"
        status, body = self._call(what, self._client.query, out_trade_no=out_trade_no)
        if status == 404 and body.get("code") == "ORDER_NOT_EXIST":
            return PaymentResult(out_trade_no=out_trade_no, status=PaymentStatus.CLOSED, raw=body)
        if status != 200:
            raise self._gateway_error(what, status, body)
        if body.get("out_trade_no") != out_trade_no or body.get("mchid") != self.mch_id:
            raise ProviderError(f"{what}: answer for another order or merchant: {body!r}")
        try:
            return self._transaction_result(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(f"{what}: unexpected answer {body!r}") from exc

    @staticmethod
    def _transaction_result(transaction: Mapping[str, Any]) -> PaymentResult:
        """Translate a transaction object (query answer or decrypted notification resource); KeyError,
        TypeError or ValueError when it is not one."""
        total = transaction["amount"]["total"] if "amount" in transaction else None
        if total is not None and (type(total) is not int or total < 0):  # bool is an int; not an amount
            raise ValueError(f"amount.total {total!r}")
        success_time = transaction.get("success_time")
        paid_at = datetime.fromisoformat(success_time).astimezone(SHANGHAI) if success_time else None
        return PaymentResult(
            out_trade_no=transaction["out_trade_no"],
            status=TRADE_STATE[transaction["trade_state"]],
            amount_fen=total,
            provider_trade_no=transaction.get("transaction_id", ""),
            paid_at=paid_at,
            raw=transaction,
        )

    def refund(self, request: RefundRequest) -> RefundResult:
        """Apply for a refund (``/v3/refund/domestic/refunds``) keyed by out_refund_no, so a retry never refunds
        twice. WeChat usually answers PROCESSING; query_refund follows the refund to its end."""
        what = "refund"
        status, body = self._call(
            what,
            self._client.refund,
            out_refund_no=request.out_refund_no,
            out_trade_no=request.out_trade_no,
            amount={"refund": request.amount_fen, "total": request.total_fen, "currency": "CNY"},
            reason=request.reason or None,
        )
        return self._refund_result(what, request.out_refund_no, status, body)

    def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundResult:
        """State of one refund (``/v3/refund/domestic/refunds/{out_refund_no}``); WeChat keys refunds by
        out_refund_no alone, the answer's out_trade_no is checked against ours."""
        what = "query_refund"
        status, body = self._call(what, self._client.query_refund, out_refund_no=out_refund_no)
        result = self._refund_result(what, out_refund_no, status, body)
        if body.get("out_trade_no") != out_trade_no:
            raise ProviderError(f"{what}: refund {out_refund_no} belongs to {body.get('out_trade_no')!r}")
        return result

    def _refund_result(self, what: str, out_refund_no: str, status: int, body: Mapping[str, Any]) -> RefundResult:
        if status != 200:
            raise self._gateway_error(what, status, body)
        if body.get("out_refund_no") != out_refund_no or body.get("status") not in REFUND_STATUS:
            raise ProviderError(f"{what}: unexpected answer {body!r}")
        return RefundResult(
            out_refund_no=out_refund_no,
            status=REFUND_STATUS[body["status"]],
            provider_refund_no=body.get("refund_id", ""),
            raw=body,
        )

    # -- asynchronous notifications --------------------------------------------------------------------------

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes) -> PaymentResult:
        """Verify a payment notification and return the decrypted transaction.

        ``headers`` as Django's ``request.headers`` (names compared case-insensitively). Checks, in order:
        the Wechatpay-Signature, -Timestamp, -Nonce and -Serial headers are present (missing_signature); the
        serial is our platform public key id (wrong_serial); the signature type, if given, is RSA-SHA256 and
        the signature of "timestamp\\nnonce\\nbody\\n" verifies with the platform public key (bad_signature);
        the timestamp is within 5 minutes of now, edges included (stale_timestamp: a replay); the body is JSON
        with an AEAD_AES_256_GCM resource that decrypts with the APIv3 key (malformed / undecryptable); the
        transaction is for our mchid (wrong_merchant) and appid (wrong_app) and well formed (malformed)."""
        lowered = {name.lower(): value for name, value in headers.items()}
        signature = lowered.get("wechatpay-signature", "")
        timestamp = lowered.get("wechatpay-timestamp", "")
        nonce = lowered.get("wechatpay-nonce", "")
        serial = lowered.get("wechatpay-serial", "")
        if not (signature and timestamp and nonce and serial):
            raise NotificationRejected("missing_signature")
        if serial != self.public_key_id:
            raise NotificationRejected("wrong_serial", f"serial {serial!r}")
        if lowered.get("wechatpay-signature-type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
            raise NotificationRejected("bad_signature", f"signature type {lowered['wechatpay-signature-type']!r}")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotificationRejected("malformed", "body is not UTF-8") from exc
        if not rsa_verify(timestamp, nonce, text, signature, self._public_key):
            raise NotificationRejected("bad_signature")
        # Checked after the signature, which covers the timestamp: a genuine but old message is a replay.
        try:
            skew = abs(self._clock() - int(timestamp))
        except ValueError as exc:
            raise NotificationRejected("malformed", f"timestamp {timestamp!r}") from exc
        if skew > MAX_CLOCK_SKEW_SECONDS:
            raise NotificationRejected("stale_timestamp", f"{skew:.0f} s from now")
        try:
            resource = json.loads(text)["resource"]
            algorithm, ciphertext = resource["algorithm"], resource["ciphertext"]
            nonce_r, associated_data = resource["nonce"], resource.get("associated_data") or ""
        except (ValueError, KeyError, TypeError) as exc:
            raise NotificationRejected("malformed", "no encrypted resource") from exc
        if algorithm != "AEAD_AES_256_GCM":
            raise NotificationRejected("undecryptable", f"algorithm {algorithm!r}")
        try:
            plaintext = aes_decrypt(nonce_r, ciphertext, associated_data, self._apiv3_key)
        except (binascii.Error, ValueError, TypeError, AttributeError) as exc:  # bad base64, empty nonce, …
            raise NotificationRejected("undecryptable", repr(exc)) from exc
        if plaintext is None:  # the library's answer to a failed GCM tag: wrong key or tampered ciphertext
            raise NotificationRejected("undecryptable", "authentication tag mismatch")
        try:
            transaction = json.loads(plaintext)
            mchid, appid = transaction.get("mchid"), transaction.get("appid")
        except (ValueError, AttributeError) as exc:
            raise NotificationRejected("malformed", "resource is not a JSON object") from exc
        if mchid != self.mch_id:
            raise NotificationRejected("wrong_merchant", f"mchid {mchid!r}")
        if appid != self.app_id:
            raise NotificationRejected("wrong_app", f"appid {appid!r}")
        try:
            result = self._transaction_result(transaction)
        except (KeyError, TypeError, ValueError) as exc:
            raise NotificationRejected("malformed", plaintext) from exc
        if result.amount_fen is None:
            raise NotificationRejected("malformed", "no amount")
        return result

    def notification_response(self, *, accepted: bool) -> tuple[int, str, str]:
        """WeChat Pay v3: 204 without a body acknowledges; a 4xx with {"code": "FAIL", …} makes WeChat retry
        (15 s up to 24 h), which is right for anything we could not verify."""
        if accepted:
            return 204, "", "application/json"
        return 400, json.dumps({"code": "FAIL", "message": "rejected"}), "application/json"
