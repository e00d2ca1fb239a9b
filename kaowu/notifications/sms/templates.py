"""The SMS events the platform sends, and their text.

Each event has a Chinese text with named ``{placeholders}``. The console and locmem backends show this
text as is; the real providers (Aliyun, Tencent Cloud) are sent only a template code and the
parameters, so every event must be registered with the provider under the same sign name and with
exactly this text, then its template code added to ``SMS_ALIYUN["TEMPLATES"]`` /
``SMS_TENCENT["TEMPLATES"]``:

- Aliyun uses named variables: write ``{code}`` as ``${code}``.
- Tencent Cloud uses numbered variables in order of appearance: ``{code}`` becomes ``{1}``,
  ``{minutes}`` ``{2}``, and so on (see ``placeholders``).

``phone_changed`` goes to the *old* number: pass ``new_phone`` masked (``138****5678``), so that whoever
holds the old number does not learn the new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter

TEMPLATES: dict[str, str] = {
    "verification_code": "您的验证码为{code}，{minutes}分钟内有效。如非本人操作，请忽略本短信。",
    "password_changed": "您的账户密码已于{time}修改。如非本人操作，请立即通过找回密码重置并联系我们。",
    "phone_changed": "您账户绑定的手机号已于{time}更换为{new_phone}。如非本人操作，请立即联系我们。",
    "application_submitted": "您已提交{batch}报名（报名号{number}），当前状态：{status}。",
    "application_on_site": "您的{batch}报名（报名号{number}）须现场审核，请于{deadline}前携带原件到{place}办理。",
    "application_approved": "您的{batch}报名（报名号{number}）已通过{level}，当前状态：{status}。",
    "application_returned": (
        "您的{batch}报名（报名号{number}）被{level}驳回：{reason}。请于{deadline}前修改后重新提交。"
    ),
    "application_rejected": "您的{batch}报名（报名号{number}）经{level}审核不通过：{reason}。",
    "application_withdrawn": "您已放弃{batch}报名（报名号{number}），所占考位已释放。",
    "application_seats_released": "您的{batch}报名（报名号{number}）未在修改截止前重新提交，所占考位已释放。",
    "application_site_changed": "您的{batch}报名（报名号{number}）已更换考区/考点为{site}，报名费不变。",
    "order_paid": "您的{batch}报名（报名号{number}）已缴费{amount}元（订单号{order}），收据请登录查看：{receipt}",
    "order_waived": "您是本年度会员，{batch}报名（报名号{number}）的注册费已免缴，报名进入下一环节。",
    "order_expired": "您的{batch}报名订单{order}超时未支付，已关闭，所占考位已释放。如需报名请在缴费截止前重新下单。",
    "payment_refunded_automatically": "您为订单{order}支付的{amount}元因{reason}，将原路全额退回，无需操作。",
    "refund_requested": "您已申请{batch}退考退费（报名号{number}），{amount}元将原路退回，退款结果将另行通知。",
    "refund_succeeded": "您的退款{amount}元（订单号{order}）已原路退回，请留意账户到账。",
    "application_lapsed": "您的{batch}报名（报名号{number}）未在缴费截止前缴费，报名未成功，所占考位已释放。",
}


def _template(event: str) -> str:
    try:
        return TEMPLATES[event]
    except KeyError:
        raise KeyError(f"unknown SMS event {event!r}") from None


def placeholders(event: str) -> tuple[str, ...]:
    """The event's parameter names in the order they first appear in its text (Tencent's ``{1}``, ``{2}``…)."""
    names = (name for _, name, _, _ in Formatter().parse(_template(event)) if name)
    return tuple(dict.fromkeys(names))


def render(event: str, params: Mapping[str, str]) -> str:
    """The text of ``event`` with ``params`` filled in; ``KeyError`` for an unknown event or missing parameter."""
    return _template(event).format_map(params)
