"""Orders (订单), payment attempts, refunds, memberships and the record of every gateway notification.

An ``Order`` is what an application owes, frozen when created: its ``OrderLine``s and ``amount_fen``
never change. Each try at a gateway is a ``Payment`` with its own number (``out_trade_no``); at most one
of them settles the order, any other that succeeds is refunded automatically. A ``Refund`` returns one
payment in full. Statuses change only through ``kaowu.payments.workflow``; every change is also an
``OrderEvent`` row (the order's own history, shown to the candidate and finance) and an audit row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kaowu.applications.models import Application
from kaowu.catalog.models import Batch, Programme, Subject

from .workflow import LIVE_ORDER_STATES, OrderStatus, PaymentStatus, RefundStatus


class OrderKind(models.TextChoices):
    SUBJECTS = "subjects", _("考试报名费")
    REGISTRATION = "registration", _("注册费")
    MEMBERSHIP = "membership", _("个人会员费")


class Order(models.Model):
    number = models.CharField(_("订单号"), max_length=32, unique=True)
    application = models.ForeignKey(
        Application, verbose_name=_("报名"), on_delete=models.PROTECT, related_name="orders"
    )
    candidate = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("考生"), on_delete=models.PROTECT, related_name="orders"
    )
    batch = models.ForeignKey(Batch, verbose_name=_("批次"), on_delete=models.PROTECT, related_name="orders")
    kind = models.CharField(_("费用类型"), max_length=20, choices=OrderKind.choices)
    status = models.CharField(
        _("状态"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.UNPAID, db_index=True
    )
    amount_fen = models.PositiveIntegerField(_("金额（分）"))
    description = models.CharField(_("订单内容"), max_length=128)
    # PAY-6: the payer named at payment (seed 001: 用于接收电子发票/收据), and the invoice details of APP-8.
    buyer_name = models.CharField(_("购买人姓名"), max_length=50)
    buyer_email = models.EmailField(_("接收收据的邮箱"), blank=True)
    buyer_phone = models.CharField(_("接收收据的手机号"), max_length=20, blank=True)
    invoice_kind = models.CharField(_("发票类型"), max_length=10, blank=True)
    invoice_title = models.CharField(_("发票抬头"), max_length=100, blank=True)
    invoice_uscc = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)

    created_at = models.DateTimeField(_("下单时间"), auto_now_add=True)
    expires_at = models.DateTimeField(_("支付截止时间"))
    paid_at = models.DateTimeField(_("支付时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("订单")
        verbose_name_plural = _("订单")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application"],
                condition=Q(status__in=LIVE_ORDER_STATES),
                name="payments_one_live_order_per_application",
            ),
        ]
        indexes = [models.Index(fields=["batch", "status"]), models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return self.number

    @property
    def is_payable(self) -> bool:
        return self.status == OrderStatus.UNPAID


class OrderLine(models.Model):
    """One frozen line: a subject (fee × 1) or a fee (注册费, 会员费)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    subject = models.ForeignKey(
        Subject, verbose_name=_("科目"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(_("项目"), max_length=100)
    unit_fen = models.PositiveIntegerField(_("单价（分）"))
    quantity = models.PositiveSmallIntegerField(_("数量"), default=1)
    amount_fen = models.PositiveIntegerField(_("金额（分）"))

    class Meta:
        verbose_name = _("订单明细")
        verbose_name_plural = _("订单明细")
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_fen=models.F("unit_fen") * models.F("quantity")), name="payments_line_amount"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description} × {self.quantity}"


class Payment(models.Model):
    """One attempt to pay an order at a gateway."""

    number = models.CharField(_("支付流水号"), max_length=32, unique=True)  # out_trade_no
    order = models.ForeignKey(Order, verbose_name=_("订单"), on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(_("支付方式"), max_length=20)
    channel = models.CharField(_("支付渠道"), max_length=20)
    status = models.CharField(
        _("状态"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING, db_index=True
    )
    amount_fen = models.PositiveIntegerField(_("金额（分）"))
    provider_trade_no = models.CharField(_("支付平台交易号"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("发起时间"), auto_now_add=True)
    paid_at = models.DateTimeField(_("支付时间"), null=True, blank=True)
    settled_by = models.CharField(_("确认方式"), max_length=20, blank=True)  # notify / query
    evidence = models.JSONField(_("支付平台回执"), default=dict, blank=True)

    class Meta:
        verbose_name = _("支付记录")
        verbose_name_plural = _("支付记录")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One gateway trade is one payment, however many times it is reported.
            models.UniqueConstraint(
                fields=["provider", "provider_trade_no"],
                condition=~Q(provider_trade_no=""),
                name="payments_provider_trade_once",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class RefundKind(models.TextChoices):
    CANDIDATE = "candidate", _("考生退考退费")
    MANUAL = "manual", _("财务人工退款")
    AUTOMATIC = "automatic", _("重复或逾期支付自动退款")
    REJECTED = "rejected", _("审核不通过退费")


class Refund(models.Model):
    """A full refund of one payment. Sent to the gateway under ``number`` (out_refund_no), which the
    gateway refunds once however often Kaowu retries."""

    number = models.CharField(_("退款单号"), max_length=32, unique=True)
    payment = models.OneToOneField(Payment, verbose_name=_("支付记录"), on_delete=models.PROTECT, related_name="refund")
    order = models.ForeignKey(Order, verbose_name=_("订单"), on_delete=models.PROTECT, related_name="refunds")
    candidate = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("考生"), on_delete=models.PROTECT, related_name="refunds"
    )
    batch = models.ForeignKey(Batch, verbose_name=_("批次"), on_delete=models.PROTECT, related_name="refunds")
    kind = models.CharField(_("退款类型"), max_length=20, choices=RefundKind.choices)
    status = models.CharField(
        _("状态"), max_length=20, choices=RefundStatus.choices, default=RefundStatus.REQUESTED, db_index=True
    )
    amount_fen = models.PositiveIntegerField(_("退款金额（分）"))
    reason = models.CharField(_("退款原因"), max_length=200)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("申请人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    provider_refund_no = models.CharField(_("支付平台退款号"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.CharField(_("最近一次失败原因"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("退款")
        verbose_name_plural = _("退款")
        ordering = ["-created_at", "-id"]
        constraints = [
            # PAY-3 (seed 004): 每人只有一次退费机会 — one refund a candidate asks for, per batch.
            models.UniqueConstraint(
                fields=["candidate", "batch"], condition=Q(kind="candidate"), name="payments_one_candidate_refund"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class OrderEvent(models.Model):
    """The order's history: every status change of the order, its payments and refunds, and every
    notification that was refused, by whom and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    subject = models.CharField(_("对象"), max_length=10)  # order / payment / refund
    subject_number = models.CharField(_("单号"), max_length=32)
    action = models.CharField(_("操作"), max_length=20)
    from_status = models.CharField(_("原状态"), max_length=20)
    to_status = models.CharField(_("新状态"), max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.CharField(_("说明"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("订单记录")
        verbose_name_plural = _("订单记录")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.subject_number} {self.from_status} → {self.to_status}"


class NotificationLog(models.Model):
    """Every asynchronous notification received, believed or not: the evidence when a payer says they paid
    and the trail of forged or replayed ones."""

    provider = models.CharField(_("支付方式"), max_length=20)
    out_trade_no = models.CharField(_("支付流水号"), max_length=64, blank=True, db_index=True)
    accepted = models.BooleanField(_("已接受"))
    outcome = models.CharField(_("处理结果"), max_length=40)  # settled / duplicate / refunded / a rejection code
    detail = models.CharField(_("说明"), max_length=300, blank=True)
    ip = models.GenericIPAddressField(_("来源 IP"), null=True, blank=True)
    received_at = models.DateTimeField(_("接收时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("支付通知")
        verbose_name_plural = _("支付通知")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.provider} {self.out_trade_no} {self.outcome}"


class Membership(models.Model):
    """个人会员 for a year (PAY-5): paid once, it waives the programme's registration fees that year."""

    candidate = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("会员"), on_delete=models.PROTECT, related_name="memberships"
    )
    programme = models.ForeignKey(
        Programme, verbose_name=_("项目"), on_delete=models.PROTECT, related_name="memberships"
    )
    year = models.PositiveSmallIntegerField(_("会员年度"))
    order = models.OneToOneField(Order, verbose_name=_("会费订单"), on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("入会时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("个人会员")
        verbose_name_plural = _("个人会员")
        constraints = [
            models.UniqueConstraint(fields=["candidate", "programme", "year"], name="payments_membership_once"),
        ]

    def __str__(self) -> str:
        return f"{self.candidate} {self.programme} {self.year}"


class SandboxTradeStatus(models.TextChoices):
    PENDING = "pending", _("待支付")
    SUCCEEDED = "succeeded", _("支付成功")
    FAILED = "failed", _("支付失败")
    CLOSED = "closed", _("已关闭")


class SandboxTrade(models.Model):
    """The sandbox gateway's own ledger (PAY-2): what a real gateway would keep on its side. Kaowu's
    payments code never reads it; only the sandbox provider, its gateway pages and reconciliation do."""

    out_trade_no = models.CharField(_("商户订单号"), max_length=64, unique=True)
    provider = models.CharField(_("通道"), max_length=20)  # sandbox / bank
    trade_no = models.CharField(_("网关交易号"), max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField(_("金额（分）"))
    subject = models.CharField(_("商品名称"), max_length=128)
    notify_url = models.CharField(_("通知地址"), max_length=300)
    return_url = models.CharField(_("返回地址"), max_length=300)
    expires_at = models.DateTimeField(_("支付截止时间"))
    status = models.CharField(
        _("状态"), max_length=20, choices=SandboxTradeStatus.choices, default=SandboxTradeStatus.PENDING
    )
    bank = models.CharField(_("付款银行"), max_length=40, blank=True)
    paid_at = models.DateTimeField(_("支付时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("沙箱网关交易")
        verbose_name_plural = _("沙箱网关交易")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.out_trade_no


class SandboxRefund(models.Model):
    trade = models.ForeignKey(SandboxTrade, on_delete=models.PROTECT, related_name="refunds")
    out_refund_no = models.CharField(_("商户退款单号"), max_length=64, unique=True)
    refund_no = models.CharField(_("网关退款号"), max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField(_("退款金额（分）"))
    created_at = models.DateTimeField(_("退款时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("沙箱网关退款")
        verbose_name_plural = _("沙箱网关退款")

    def __str__(self) -> str:
        return self.out_refund_no
