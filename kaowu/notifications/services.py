"""Verification codes and notifications.

``sms_code_send``/``sms_code_verify`` implement one-time SMS codes: 6 digits, valid 5 minutes, single
use, stored as an HMAC, at most 5 wrong tries each, and sending limited per number (1/min, 10/day) and
per IP. ``notify`` writes an in-site message and sends its SMS and e-mail copies after the transaction
commits.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kaowu.core import crypto
from kaowu.core.context import current_ip
from kaowu.core.errors import KaowuError

from .models import Notification, SmsCode
from .sms.templates import render
from .tasks import send_email_task, send_sms_task


def _code_hash(phone: str, purpose: str, code: str) -> str:
    return crypto.lookup_hash(f"sms:{phone}:{purpose}:{code}")


def _send_after_commit(phone: str, event: str, params: dict[str, str]) -> None:
    transaction.on_commit(lambda: send_sms_task.delay(phone, event, params))


def sms_code_send(*, phone: str, purpose: str, deliver: bool = True) -> None:
    """Create a fresh code for ``phone`` and ``purpose`` and send it after commit.

    Precondition: ``phone`` is a validated mainland mobile number. ``deliver=False`` records the attempt
    (so rate limits and responses look identical) without sending anything: account recovery uses it
    when the details given match no account, so the answer never reveals whether they do.
    Raises ``KaowuError`` (status 429) when a rate limit is reached; nothing is created then.
    """
    now = timezone.now()
    ip = current_ip()
    with transaction.atomic():
        sent = SmsCode.objects.filter(phone=phone)
        if sent.filter(created_at__gte=now - timedelta(minutes=1)).count() >= settings.SMS_RATE_PER_PHONE_MINUTE:
            raise KaowuError(
                "sms.too_frequent",
                _("获取验证码过于频繁：同一手机号 1 分钟内只能获取一次，请稍后再试。"),
                field="phone",
                status=429,
            )
        if sent.filter(created_at__gte=now - timedelta(days=1)).count() >= settings.SMS_RATE_PER_PHONE_DAY:
            raise KaowuError(
                "sms.daily_limit", _("该手机号今日获取验证码的次数已达上限，请明天再试。"), field="phone", status=429
            )
        if ip and (
            SmsCode.objects.filter(ip=ip, created_at__gte=now - timedelta(hours=1)).count()
            >= settings.SMS_RATE_PER_IP_HOUR
        ):
            raise KaowuError("sms.ip_limit", _("本网络获取验证码过于频繁，请一小时后再试。"), field="phone", status=429)
        code = f"{secrets.randbelow(10**6):06d}"
        SmsCode.objects.create(
            phone=phone,
            purpose=purpose,
            code_hash=_code_hash(phone, purpose, code),
            expires_at=now + timedelta(seconds=settings.SMS_CODE_TTL_SECONDS),
            ip=ip,
            delivered=deliver,
        )
        if deliver:
            minutes = str(settings.SMS_CODE_TTL_SECONDS // 60)
            _send_after_commit(phone, "verification_code", {"code": code, "minutes": minutes})


def sms_code_verify(*, phone: str, purpose: str, code: str) -> None:
    """Consume the newest unused code for ``phone``/``purpose`` if ``code`` matches it.

    Raises ``KaowuError`` (field ``sms_code``) when there is no live code, it expired, it was used,
    too many wrong tries were made, or the code is wrong; a wrong try is counted even so.
    """
    now = timezone.now()
    error: KaowuError | None = None
    with transaction.atomic():
        row = (
            SmsCode.objects.select_for_update()
            .filter(phone=phone, purpose=purpose, used_at__isnull=True)
            .order_by("-created_at", "-id")
            .first()
        )
        if row is None or row.expires_at <= now:
            error = KaowuError(
                "sms.code_expired", _("短信验证码已失效（过期或已使用），请重新获取。"), field="sms_code"
            )
        elif row.attempts >= settings.SMS_CODE_MAX_ATTEMPTS:
            error = KaowuError(
                "sms.too_many_attempts", _("验证码输入错误次数过多，请重新获取验证码。"), field="sms_code"
            )
        elif not secrets.compare_digest(row.code_hash, _code_hash(phone, purpose, code.strip())):
            # The wrong try is committed before the error is raised, so the limit really counts.
            row.attempts += 1
            row.save(update_fields=["attempts"])
            error = KaowuError("sms.code_wrong", _("短信验证码不正确，请核对后重新输入。"), field="sms_code")
        else:
            row.used_at = now
            row.save(update_fields=["used_at"])
    if error is not None:
        raise error


def notify(
    *,
    user: Any,
    event: str,
    title: str,
    params: dict[str, str],
    sms: bool = True,
    sms_phone: str | None = None,
    email: bool = True,
    email_address: str | None = None,
) -> Notification:
    """Put a message in ``user``'s inbox and, after commit, text it (if ``sms``) and e-mail it (if ``email``).

    The SMS goes to ``sms_phone`` if given (a phone change is reported to the old number; a receipt to the
    payer's number), else to the user's bound phone; the e-mail goes to ``email_address`` if given (the
    payer's), else to the user's address, if they gave one. ``event`` is an SMS
    template key (``kaowu.notifications.sms.templates``); the inbox body is the same text, so every copy
    says exactly the same thing, and the e-mail (subject ``title``) adds where to read more. Delivery runs
    in Celery tasks that retry and log failures; it never raises into the caller or undoes its change.
    """
    body = render(event, params)
    notification = Notification.objects.create(user=user, event=event, title=title, body=body)
    phone = sms_phone or user.phone
    if sms and phone:
        _send_after_commit(phone, event, params)
    address = email_address or user.email
    if email and address:
        subject = str(title)
        text = f"{body}\n\n{gettext('详情请登录考务平台查看。')}"
        # robust: a broker that cannot take the task is logged by Django; the change has committed and the
        # request still succeeds (the inbox has the message).
        transaction.on_commit(lambda: send_email_task.delay(address, event, subject, text), robust=True)
    return notification
