"""The application workflow: its states, actions and the one explicit transition table (APP-*, REV-*).

``Application.status`` is assigned only by ``transition_apply`` below; services decide *whether* an
action may happen (window, scope, completeness) and *which* of the table's targets it reaches (the
programme's review chain and payment stage), then call it. See docs/adr/0006-application-workflow.md.

::

    draft ──submit──▶ under_review ──approve (last level)──▶ awaiting_payment | approved
      ▲  ╲              │  │  │  ╲
      │   ╲             │  │  │   approve (more levels) ─▶ under_review (next level)
      │    ╲            │  │  return ─▶ returned ──submit──▶ under_review (restart level per programme)
      │     ╲           │  reject ─▶ rejected (final; seats released)
      └recall┘          withdraw ─▶ withdrawn (seats released)

    awaiting_payment ──pay──▶ paid ──refund (退考退费)──▶ withdrawn (seats released)
                                under_review (paid first, seed 001) ──refund──▶ withdrawn
           │  │  ╲
           │  │   pay (seed 001 pays first) ─▶ under_review | approved
           │  recall (no unpaid order) ─▶ draft
           withdraw (candidate, or the system when the payment window closes unpaid) ─▶ withdrawn

``submit`` without review before payment (seed 004) goes straight to ``awaiting_payment``; an ``auto``
review level that the verifier passes is approved by the system within the same submission. Orders,
payments and refunds have their own table in ``kaowu.payments.workflow``; a settled order calls ``pay``
here, a refund ``refund``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from kaowu.catalog.models import WindowAction
from kaowu.core.errors import KaowuError


class Status(models.TextChoices):
    DRAFT = "draft", _("填写中")
    UNDER_REVIEW = "under_review", _("待审核")
    RETURNED = "returned", _("已驳回")
    REJECTED = "rejected", _("审核不通过")
    AWAITING_PAYMENT = "awaiting_payment", _("待缴费")
    PAID = "paid", _("已缴费")
    APPROVED = "approved", _("审核通过")
    WITHDRAWN = "withdrawn", _("已放弃")


class Action(models.TextChoices):
    SUBMIT = "submit", _("提交")
    RECALL = "recall", _("撤回修改")
    WITHDRAW = "withdraw", _("放弃报名")
    APPROVE = "approve", _("审核通过")
    RETURN = "return", _("驳回修改")
    REJECT = "reject", _("审核不通过")
    PAY = "pay", _("缴费")
    REFUND = "refund", _("退考退费")


class ActorKind(models.TextChoices):
    CANDIDATE = "candidate", _("考生本人")
    REVIEWER = "reviewer", _("审核人员")
    FINANCE = "finance", _("财务人员")
    SYSTEM = "system", _("系统")


# States in which an application still holds its seats and counts as the candidate's live application
# for its batch. ``returned`` is alive: the candidate is asked to correct it, not to leave.
LIVE_STATES = frozenset(
    {Status.DRAFT, Status.UNDER_REVIEW, Status.RETURNED, Status.AWAITING_PAYMENT, Status.PAID, Status.APPROVED}
)
# States in which the candidate edits the steps.
EDITABLE_STATES = frozenset({Status.DRAFT, Status.RETURNED})


@dataclass(frozen=True)
class Transition:
    """What the table allows for one (state, action): who may do it, where it may lead, which window."""

    actors: frozenset[str]
    targets: frozenset[str]
    window: str | None


def _t(actors: set[str], targets: set[str], window: str | None) -> Transition:
    return Transition(frozenset(actors), frozenset(targets), window)


_AFTER_SUBMIT = {Status.UNDER_REVIEW, Status.AWAITING_PAYMENT, Status.APPROVED}
_AFTER_APPROVE = {Status.UNDER_REVIEW, Status.AWAITING_PAYMENT, Status.APPROVED}
# Payment settles an application: 已缴费 when nothing follows, or into review (seed 001 pays first), which
# may pass every level automatically.
_AFTER_PAY = {Status.PAID, Status.UNDER_REVIEW, Status.APPROVED}
_C, _R, _F, _S = ActorKind.CANDIDATE, ActorKind.REVIEWER, ActorKind.FINANCE, ActorKind.SYSTEM

# The whole table. A (state, action) pair that is not here is refused for everyone. ``window`` is the
# batch window the action needs; ``MODIFY`` falls back to ``REGISTER`` for batches without one (see
# ``services._edit_window``); withdrawing needs none: a candidate may always give up an unpaid application,
# and the system withdraws one whose payment window closed unpaid. ``REFUND``'s window binds the candidate;
# finance may refund manually outside it (with a reason, audited). ``PAY`` needs none: the order's own
# expiry, which never outlasts the payment window, decides whether a payment settles or is refunded.
TRANSITIONS: dict[tuple[str, str], Transition] = {
    (Status.DRAFT, Action.SUBMIT): _t({_C}, _AFTER_SUBMIT, WindowAction.REGISTER),
    (Status.RETURNED, Action.SUBMIT): _t({_C}, _AFTER_SUBMIT, WindowAction.MODIFY),
    (Status.UNDER_REVIEW, Action.RECALL): _t({_C}, {Status.DRAFT}, WindowAction.MODIFY),
    (Status.DRAFT, Action.WITHDRAW): _t({_C}, {Status.WITHDRAWN}, None),
    (Status.UNDER_REVIEW, Action.WITHDRAW): _t({_C}, {Status.WITHDRAWN}, None),
    (Status.RETURNED, Action.WITHDRAW): _t({_C}, {Status.WITHDRAWN}, None),
    (Status.AWAITING_PAYMENT, Action.WITHDRAW): _t({_C, _S}, {Status.WITHDRAWN}, None),
    (Status.AWAITING_PAYMENT, Action.RECALL): _t({_C}, {Status.DRAFT}, WindowAction.MODIFY),
    (Status.AWAITING_PAYMENT, Action.PAY): _t({_S}, _AFTER_PAY, None),
    (Status.PAID, Action.REFUND): _t({_C, _F}, {Status.WITHDRAWN}, WindowAction.REFUND),
    # Seed 001 pays before review: a paid application under review is given up the same way.
    (Status.UNDER_REVIEW, Action.REFUND): _t({_C, _F}, {Status.WITHDRAWN}, WindowAction.REFUND),
    (Status.UNDER_REVIEW, Action.APPROVE): _t({_R, _S}, _AFTER_APPROVE, WindowAction.REVIEW),
    (Status.UNDER_REVIEW, Action.RETURN): _t({_R}, {Status.RETURNED}, WindowAction.REVIEW),
    (Status.UNDER_REVIEW, Action.REJECT): _t({_R}, {Status.REJECTED}, WindowAction.REVIEW),
}


def transition_for(status: str, action: str, actor_kind: str) -> Transition:
    """The table's entry for ``action`` from ``status`` by an ``actor_kind``, or a ``KaowuError`` (409/403)."""
    transition = TRANSITIONS.get((status, action))
    if transition is None:
        raise KaowuError(
            "applications.transition_not_allowed",
            _("报名当前状态为“%(status)s”，不能%(action)s。"),
            status=409,
            params={"status": Status(status).label, "action": Action(action).label},
        )
    if actor_kind not in transition.actors:
        raise KaowuError(
            "applications.actor_not_allowed",
            _("您无权对该报名执行“%(action)s”。"),
            status=403,
            params={"action": Action(action).label},
        )
    return transition


def transition_apply(application, *, action: str, actor_kind: str, target: str) -> str:
    """Set ``application.status`` to ``target`` after checking the table; returns the previous status.

    The caller holds the application's row lock and saves it; ``target`` must be one of the table's
    targets for the pair (a service computing a target the table does not allow is a programming error).
    """
    transition = transition_for(application.status, action, actor_kind)
    if target not in transition.targets:
        raise ValueError(f"{application.status} --{action}--> {target} is not in the transition table")
    previous = application.status
    application.status = target
    return previous
