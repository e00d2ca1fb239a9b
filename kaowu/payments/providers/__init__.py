"""The payment providers a deployment offers (``settings.PAYMENT_PROVIDERS``) and how to get one.

Every provider implements ``base.PaymentProvider``. ``sandbox`` and ``bank`` (网银) are the local
stand-in gateway of ``sandbox.py``; ``alipay`` and ``wechat`` are the real gateways' adapters.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from kaowu.core.errors import KaowuError

from .base import Channel, PaymentProvider

LABELS = {
    "sandbox": _("模拟支付（测试）"),
    "bank": _("网银支付"),
    "alipay": _("支付宝"),
    "wechat": _("微信支付"),
}

# The channel each provider uses on a phone and on a desktop browser.
CHANNELS = {
    "sandbox": (Channel.WAP, Channel.PAGE),
    "bank": (Channel.PAGE, Channel.PAGE),
    "alipay": (Channel.WAP, Channel.PAGE),
    "wechat": (Channel.H5, Channel.NATIVE),
}


def configured(code: str) -> bool:
    """Whether the deployment holds what ``code`` needs (the sandbox needs nothing; a real gateway its keys)."""
    if code == "alipay":
        config = settings.PAYMENT_ALIPAY
        return bool(config["APP_ID"] and config["PRIVATE_KEY"] and config["ALIPAY_PUBLIC_KEY"])
    if code == "wechat":
        config = settings.PAYMENT_WECHAT
        return all(config[key] for key in ("APP_ID", "MCH_ID", "PRIVATE_KEY", "APIV3_KEY", "PUBLIC_KEY"))
    return code in LABELS


def enabled_providers() -> list[str]:
    """The methods offered to payers: listed in ``PAYMENT_PROVIDERS`` and configured."""
    return [code for code in settings.PAYMENT_PROVIDERS if code in LABELS and configured(code)]


def channel_for(code: str, *, mobile: bool) -> str:
    phone, desktop = CHANNELS[code]
    return phone if mobile else desktop


def get_provider(code: str, *, enabled_only: bool = True) -> PaymentProvider:
    """The provider for ``code``. Payers may only start payments with enabled providers
    (``enabled_only``); notifications, queries and refunds of earlier payments reach any known one, so
    switching a provider off never strands money already taken through it."""
    if not configured(code) or (enabled_only and code not in enabled_providers()):
        raise KaowuError(
            "payments.provider_unavailable", _("该支付方式暂不可用，请选择其他支付方式。"), field="provider"
        )
    if code in ("sandbox", "bank"):
        from .sandbox import SandboxProvider

        return SandboxProvider(code)
    if code == "alipay":
        from .alipay import AlipayProvider

        return AlipayProvider.from_settings()
    from .wechat import WechatPayProvider

    return WechatPayProvider.from_settings()
