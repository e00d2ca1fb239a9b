"""Every write to an application: the candidate's steps (APP-2 … APP-8), submission with seat holding,
recall and withdrawal, and review decisions at every level (REV-1 … REV-4).

Each service is keyword-only and runs in one transaction: it locks the application row first, checks
the transition table (``workflow``), the batch window and the actor's right to act, writes, records a
``Transition`` row and an audit row (REV-6), takes seat locks last (``seats``), and queues the
candidate's notifications to be sent after commit (REV-5). A refusal is a ``KaowuError`` whose Chinese
message says what to do next.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from kaowu.accounts.models import Photo, Scan
from kaowu.catalog.models import (
    Batch,
    FlowStep,
    Level,
    NoticeKind,
    Organisation,
    OrganisationKind,
    PaymentStage,
    Position,
    Region,
    RegionLevel,
    ReviewLevel,
    ReviewStage,
    Site,
    Sitting,
    Specialty,
    Subject,
    VerificationMode,
    WindowAction,
)
from kaowu.catalog.selectors import (
    batch_window,
    next_review_stage,
    notice_current,
    restart_stage_after_rejection,
    subjects_for,
)
from kaowu.catalog.services import notice_accept, require_window
from kaowu.core.audit import audit_record
from kaowu.core.context import current_ip
from kaowu.core.errors import KaowuError
from kaowu.core.validators import validate_uscc
from kaowu.notifications.services import notify
from kaowu.payments.workflow import LIVE_ORDER_STATES, OrderStatus
from kaowu.results.selectors import passed_subjects

from . import seats
from .models import (
    Application,
    ApplicationKind,
    ApplicationSubject,
    DishonestEntry,
    InvoiceKind,
    Proof,
    ReviewStep,
    StepStatus,
    Transition,
)
from .selectors import can_review, dishonest_entry_for, missing_steps
from .signals import application_rejected
from .verification import eligibility_of, get_verifier
from .workflow import EDITABLE_STATES, Action, ActorKind, Status, transition_apply, transition_for

# Flow steps that have a candidate-facing service. A programme whose flow needs another step (执业记录,
# practising registration) cannot be applied for online until that step is built.
SUPPORTED_STEPS = frozenset(FlowStep.values) - {FlowStep.PRACTICE}
# Steps the candidate marks done; ``confirm`` is the submission itself.
MARKED_STEPS = tuple(s for s in FlowStep.values if s != FlowStep.CONFIRM)

_NOTICE_KINDS_TO_ACCEPT = (NoticeKind.EXAM_INSTRUCTIONS, NoticeKind.COMMITMENT_LETTER)


# --- Locking, guards and the record of what happened ----------------------------------------------


def _lock(application: Application) -> Application:
    """The application's row, locked for this transaction, with its batch and programme. Other relations
    load when a service needs them: a wide join costs PostgreSQL more to plan than the lock costs to take."""
    return Application.objects.select_for_update(of=("self",)).select_related("batch__programme").get(pk=application.pk)


def _require_owner(actor: Any, application: Application) -> None:
    if getattr(actor, "pk", None) != application.candidate_id:
        raise KaowuError("applications.not_owner", _("只有考生本人可以办理自己的报名。"), status=403)


def _edit_window(application: Application) -> str:
    """报名 window until first submitted; afterwards the 修改 window (报名 for batches without one)."""
    if application.round == 0:
        return WindowAction.REGISTER
    has_modify = batch_window(application.batch, WindowAction.MODIFY) is not None
    return WindowAction.MODIFY if has_modify else WindowAction.REGISTER


def _require_editable(actor: Any, application: Application) -> None:
    _require_owner(actor, application)
    if application.status not in EDITABLE_STATES:
        if application.status == Status.UNDER_REVIEW:
            message = _("报名已提交审核，如需修改请先“撤回修改”（审核通过前可撤回）。")
        else:
            message = _("报名当前状态为“%(status)s”，不能再修改。")
        raise KaowuError(
            "applications.not_editable",
            message,
            status=409,
            params={"status": Status(application.status).label} if application.status != Status.UNDER_REVIEW else {},
        )
    require_window(application.batch, _edit_window(application))


@contextmanager
def _editing(actor: Any, application: Application) -> Iterator[Application]:
    """One edit by the candidate: a transaction, the application's row lock, and the check that the owner
    may edit it now (editable state, open window). Yields the locked application."""
    with transaction.atomic():
        application = _lock(application)
        _require_editable(actor, application)
        yield application


def _mark(application: Application, step: str, done: bool = True) -> None:
    steps = [s for s in application.completed_steps if s != step]
    if done:
        steps.append(step)
    application.completed_steps = [s for s in MARKED_STEPS if s in steps]


def _snapshot(application: Application) -> dict[str, Any]:
    return {
        "status": application.status,
        "region": application.region_id,
        "review_point": application.review_point_id,
        "level": application.level_id,
        "specialty": application.specialty_id,
        "site": application.site_id,
        "position": application.position_id,
        "subjects": sorted(application.subjects.values_list("subject__code", flat=True)),
        "invoice_kind": application.invoice_kind,
        "kind": application.kind,
    }


def _changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _save_edit(actor: Any, application: Application, before: dict[str, Any], verb: str) -> None:
    """Save an edit and audit what changed (REV-6 covers every change to a submitted application)."""
    application.save()
    old, new = _changed(before, _snapshot(application))
    audit_record(actor=actor, action=f"applications.{verb}", obj=application, before=old, after=new)


def _transition(
    application: Application,
    *,
    actor: Any,
    actor_kind: str,
    action: str,
    target: str,
    stage: ReviewStage | None = None,
    reason: str = "",
) -> None:
    previous = transition_apply(application, action=action, actor_kind=actor_kind, target=target)
    application.save()
    Transition.objects.create(
        application=application,
        action=action,
        from_status=previous,
        to_status=target,
        stage=stage,
        actor=actor if getattr(actor, "pk", None) else None,
        reason=reason,
        ip=current_ip(),
    )
    audit_record(
        actor=actor,
        action=f"applications.{action}",
        obj=application,
        before={"status": previous},
        after={"status": target, "stage": stage.level if stage else None, "reason": reason},
    )


def _notify(application: Application, event: str, title: Any, **params: Any) -> None:
    """Tell the candidate (inbox, SMS, e-mail after commit). Rendered in the platform language whatever the
    request's: the SMS texts are registered in Chinese with the providers, so lazy labels passed in
    ``params`` (status, level) must not come out in English."""
    with translation.override(settings.LANGUAGE_CODE):
        notify(
            user=application.candidate,
            event=event,
            title=str(title),
            params={
                "batch": application.batch.name,
                "number": application.number or "",
                **{k: str(v) for k, v in params.items()},
            },
        )


# --- Starting an application (APP-1, APP-2) --------------------------------------------------------


def application_start(*, actor: Any, batch: Batch, kind: str = ApplicationKind.NEW) -> Application:
    """Open the candidate's application for ``batch`` (报名), as a new or retake candidate.

    Preconditions: the batch is published, its programme active and its flow supported online, the 报名
    window open, the candidate has no live application for it (one per batch, also under a double
    click), and a retake candidate has passed subjects to carry. Side effects: the application with its
    报名号, the 失信 flag, audit ``applications.start``.
    """
    if not getattr(actor, "is_candidate", False) or not hasattr(actor, "candidate_profile"):
        raise KaowuError("applications.not_candidate", _("请使用考生账号报名。"), status=403)
    programme = batch.programme
    if not (batch.is_published and programme.is_active):
        raise KaowuError("applications.batch_unavailable", _("该考试批次未开放报名。"), status=409)
    if not set(programme.flow) <= SUPPORTED_STEPS:
        raise KaowuError(
            "applications.flow_unsupported",
            _("该项目暂未开通网上报名，请按报名通知的方式办理。"),
            status=409,
        )
    require_window(batch, WindowAction.REGISTER)
    if kind not in ApplicationKind.values:
        raise KaowuError("applications.bad_kind", _("请选择新考生或补考生。"), field="kind")
    if kind == ApplicationKind.RETAKE:
        if not programme.allows_retake:
            raise KaowuError("applications.no_retake", _("该考试不设补考生报名，请以新考生身份报名。"), field="kind")
        if not passed_subjects(actor, programme, year=batch.year).exists():
            raise KaowuError(
                "applications.nothing_to_carry",
                _("没有查到您以往通过的科目，请以新考生身份报名；如有疑问请联系考试机构核实。"),
                field="kind",
            )
    try:
        with transaction.atomic():
            application = Application.objects.create(
                candidate=actor,
                batch=batch,
                kind=kind,
                is_dishonest=dishonest_entry_for(programme, actor) is not None,
            )
            application.number = f"{batch.year}{batch.pk:04d}{application.pk:08d}"
            if FlowStep.CANDIDATE_TYPE in programme.flow:
                _mark(application, FlowStep.CANDIDATE_TYPE)
            application.save(update_fields=["number", "completed_steps"])
            audit_record(
                actor=actor, action="applications.start", obj=application, after={"batch": batch.pk, "kind": kind}
            )
    except IntegrityError:
        raise KaowuError(
            "applications.already_applied",
            _("您已报名本批次，请在“我的报名”中继续办理。"),
            status=409,
        ) from None
    return application


def application_restart_as_new(*, actor: Any, application: Application) -> None:
    """重新报名 (seed 000): a retake candidate starts again as a new candidate for every subject.

    The chosen subjects are cleared (a new candidate takes the full set) and the subject step must be
    done again. The view asks for confirmation first. Audit ``applications.restart_as_new``.
    """
    with _editing(actor, application) as application:
        if application.kind != ApplicationKind.RETAKE:
            raise KaowuError("applications.already_new", _("您已是新考生身份，无需重新报名。"), status=409)
        before = _snapshot(application)
        application.kind = ApplicationKind.NEW
        application.subjects.all().delete()
        _mark(application, FlowStep.SUBJECTS, done=False)
        _save_edit(actor, application, before, "restart_as_new")


# --- The candidate's steps (APP-3 … APP-8) ---------------------------------------------------------


def application_confirm_personal(*, actor: Any, application: Application, region: Region) -> None:
    """确认个人信息 and choose 报考省份/地市. The personal data itself is edited in the profile."""
    with _editing(actor, application) as application:
        if region.level not in (RegionLevel.PROVINCE, RegionLevel.CITY):
            raise KaowuError("applications.bad_region", _("请选择报考省份或地市。"), field="region")
        before = _snapshot(application)
        if application.region_id and application.region.province_code != region.province_code:
            # A review point belongs to a province: a move to another province needs a new choice.
            application.review_point = None
            _mark(application, FlowStep.REVIEW_POINT, done=False)
        application.region = region
        _mark(application, FlowStep.PERSONAL)
        _save_edit(actor, application, before, "personal")


def application_choose_review_point(*, actor: Any, application: Application, review_point: Organisation) -> None:
    """选择审核点: a review point of the programme's bodies within the chosen province."""
    with _editing(actor, application) as application:
        if application.region_id is None:
            raise KaowuError("applications.region_first", _("请先在“确认个人信息”中选择报考地区。"), status=409)
        owner = application.programme.owner
        valid = (
            review_point.kind == OrganisationKind.REVIEW_POINT
            and review_point.path.startswith(owner.path)
            and review_point.region_id is not None
            and review_point.region.province_code == application.region.province_code
        )
        if not valid:
            raise KaowuError("applications.bad_review_point", _("请选择所在省份的审核点。"), field="review_point")
        before = _snapshot(application)
        application.review_point = review_point
        _mark(application, FlowStep.REVIEW_POINT)
        _save_edit(actor, application, before, "review_point")


def application_accept_commitment(*, actor: Any, application: Application) -> None:
    """阅读报考须知并签署承诺书: records acceptance of the exact current versions (APP-3)."""
    with _editing(actor, application) as application:
        notices = [n for k in _NOTICE_KINDS_TO_ACCEPT if (n := notice_current(application.programme, k))]
        acceptances = [notice_accept(user=actor, notice=n) for n in notices]
        application.accepted_notices.set(acceptances)
        before = _snapshot(application)
        _mark(application, FlowStep.COMMITMENT)
        _save_edit(actor, application, before, "commitment")


def _sitting_of(batch: Batch, subject: Subject) -> Sitting | None:
    return Sitting.objects.filter(batch=batch, subjects=subject).order_by("starts_at").first()


def application_choose_subjects(
    *,
    actor: Any,
    application: Application,
    level: Level | None,
    specialty: Specialty | None,
    subjects: Sequence[Subject],
    work_years: int | None = None,
    is_full_time_student: bool = False,
) -> None:
    """选择级别、专业与科目: subjects from the level's (or specialty's) set — the programme's subjects when
    it has no levels (seed 004) — at most one per sitting; a
    retake candidate may not register a subject already passed. Eligibility is evaluated and kept.

    If the chosen site does not hold the new subjects' sittings, the site step must be done again.
    """
    with _editing(actor, application) as application:
        batch, programme = application.batch, application.programme
        if level is None:
            if programme.levels.exists():
                raise KaowuError("applications.level_required", _("请选择报考级别。"), field="level")
            if specialty is not None:
                raise KaowuError(
                    "applications.bad_specialty", _("所选专业不属于该级别，请重新选择。"), field="specialty"
                )
            allowed = set(programme.subjects.values_list("pk", flat=True))
        else:
            if level.programme_id != programme.pk:
                raise KaowuError("applications.bad_level", _("请选择本考试的报考级别。"), field="level")
            if specialty is not None and specialty.level_id != level.pk:
                raise KaowuError(
                    "applications.bad_specialty", _("所选专业不属于该级别，请重新选择。"), field="specialty"
                )
            if level.specialties.exists() and specialty is None:
                raise KaowuError("applications.specialty_required", _("请选择报考专业。"), field="specialty")
            allowed = set(subjects_for(level, specialty).values_list("pk", flat=True))
        chosen = list(dict.fromkeys(subjects))
        if not chosen:
            raise KaowuError("applications.no_subjects", _("请至少选择一个报考科目。"), field="subjects")
        if any(s.pk not in allowed for s in chosen):
            raise KaowuError(
                "applications.subject_not_allowed", _("所选科目不在该级别可报科目范围内。"), field="subjects"
            )
        passed = set(passed_subjects(actor, programme, year=batch.year).values_list("pk", flat=True))
        if application.kind == ApplicationKind.RETAKE and any(s.pk in passed for s in chosen):
            raise KaowuError(
                "applications.subject_passed", _("已通过的科目无需再报考，请只选择未通过的科目。"), field="subjects"
            )
        lines, by_sitting = [], {}
        for subject in chosen:
            sitting = _sitting_of(batch, subject)
            if sitting is None:
                raise KaowuError(
                    "applications.subject_not_scheduled",
                    _("科目“%(subject)s”本批次未安排考试。"),
                    field="subjects",
                    params={"subject": subject.name},
                )
            if sitting.pk in by_sitting:
                raise KaowuError(
                    "applications.sitting_clash",
                    _("“%(a)s”与“%(b)s”在同一场次考试，每场只能选报一科。"),
                    field="subjects",
                    params={"a": by_sitting[sitting.pk].name, "b": subject.name},
                )
            by_sitting[sitting.pk] = subject
            lines.append(ApplicationSubject(application=application, subject=subject, sitting=sitting))
        if work_years is not None and not 0 <= work_years <= 60:
            raise KaowuError("applications.bad_work_years", _("专业工作年限应在 0 到 60 年之间。"), field="work_years")
        before = _snapshot(application)
        application.level, application.specialty = level, specialty
        application.work_years, application.is_full_time_student = work_years, is_full_time_student
        application.subjects.all().delete()
        ApplicationSubject.objects.bulk_create(lines)
        result = eligibility_of(application)
        application.eligibility_status, application.eligibility_reasons = result.status, list(result.reasons)
        _mark(application, FlowStep.SUBJECTS)
        if application.site_id and not _site_offers(application.site, by_sitting):
            application.site = None
            _mark(application, FlowStep.SITE, done=False)
        _save_edit(actor, application, before, "subjects")


def _site_offers(site: Site, sitting_ids: Iterable[int]) -> bool:
    return set(sitting_ids) <= set(site.capacities.values_list("sitting_id", flat=True))


def _default_subjects(application: Application) -> None:
    """Programmes without a subject step register every subject of the programme (seed 003's 笔试)."""
    if FlowStep.SUBJECTS in application.programme.flow or application.subjects.exists():
        return
    for subject in Subject.objects.filter(programme=application.programme):
        sitting = _sitting_of(application.batch, subject)
        if sitting is not None:
            ApplicationSubject.objects.create(application=application, subject=subject, sitting=sitting)


def application_choose_site(*, actor: Any, application: Application, site: Site) -> None:
    """选择考区/考点: a site of this batch that holds every sitting of the chosen subjects.

    The seat itself is taken at submission; a site already full is refused here with the alternatives,
    so the candidate does not find out only at the end.
    """
    with _editing(actor, application) as application:
        if site.batch_id != application.batch_id:
            raise KaowuError("applications.bad_site", _("请选择本批次的考区/考点。"), field="site")
        _default_subjects(application)
        sitting_ids = [s for s in application.subjects.values_list("sitting_id", flat=True) if s]
        if FlowStep.SUBJECTS in application.programme.flow and not sitting_ids:
            raise KaowuError("applications.subjects_first", _("请先选择报考科目，再选择考区/考点。"), status=409)
        capacities = seats.capacities_for(site, sitting_ids)
        held_here = set(application.seat_holds.values_list("capacity_id", flat=True))
        if any(c.held >= c.capacity and c.pk not in held_here for c in capacities):
            raise seats.site_full_error(site, sitting_ids)
        before = _snapshot(application)
        application.site = site
        _mark(application, FlowStep.SITE)
        _save_edit(actor, application, before, "site")


def application_choose_position(*, actor: Any, application: Application, position: Position) -> None:
    """选择岗位 (seed 003): one position of this batch."""
    with _editing(actor, application) as application:
        if position.batch_id != application.batch_id:
            raise KaowuError("applications.bad_position", _("请选择本批次的招聘岗位。"), field="position")
        before = _snapshot(application)
        application.position = position
        _mark(application, FlowStep.POSITION)
        _save_edit(actor, application, before, "position")


def application_set_invoice(
    *, actor: Any, application: Application, kind: str, title: str = "", uscc: str = ""
) -> None:
    """发票信息 (APP-8): none; personal (title is the candidate's own name, fixed); or company (title
    and a unified social credit code that passes the GB 32100 check)."""
    with _editing(actor, application) as application:
        title, uscc = title.strip(), uscc.strip().upper()
        if kind == InvoiceKind.PERSONAL:
            title, uscc = application.candidate.real_name, ""
        elif kind == InvoiceKind.COMPANY:
            if not title:
                raise KaowuError("applications.invoice_title", _("请填写发票抬头（单位全称）。"), field="title")
            try:
                validate_uscc(uscc)
            except ValidationError as error:
                # A service refuses with a KaowuError (the validator's message already says what to fix).
                raise KaowuError("applications.invoice_uscc", error.messages[0], field="uscc") from error
        elif kind == InvoiceKind.NONE:
            title, uscc = "", ""
        else:
            raise KaowuError("applications.invoice_kind", _("请选择是否需要发票及发票类型。"), field="kind")
        before = _snapshot(application)
        application.invoice_kind, application.invoice_title, application.invoice_uscc = kind, title, uscc
        _mark(application, FlowStep.INVOICE)
        _save_edit(actor, application, before, "invoice")


def application_attach_proof(*, actor: Any, application: Application, scan: Scan) -> Proof:
    """Attach one of the candidate's own uploaded scans as a proof."""
    with _editing(actor, application) as application:
        if scan.user_id != application.candidate_id:
            raise KaowuError("applications.bad_scan", _("只能使用本人上传的材料。"), field="scan")
        proof, _created = Proof.objects.get_or_create(application=application, scan=scan)
        audit_record(actor=actor, action="applications.proof.attach", obj=application, after={"scan": scan.pk})
    return proof


def application_detach_proof(*, actor: Any, application: Application, scan: Scan) -> None:
    with _editing(actor, application) as application:
        deleted, _rows = Proof.objects.filter(application=application, scan=scan).delete()
        if deleted:
            audit_record(actor=actor, action="applications.proof.detach", obj=application, before={"scan": scan.pk})


def application_confirm_proofs(*, actor: Any, application: Application) -> None:
    """Finish the proofs step; refused while eligibility asks for a proof and none is attached."""
    with _editing(actor, application) as application:
        if application.eligibility_status == "needs_proof" and not application.proofs.exists():
            raise KaowuError("applications.proof_missing", _("请先上传报考条件要求的证明材料。"), field="scan")
        before = _snapshot(application)
        _mark(application, FlowStep.PROOFS)
        _save_edit(actor, application, before, "proofs")


def application_confirm_dishonest(*, actor: Any, application: Application) -> None:
    """A candidate on the 失信 list confirms the special notice before submitting (APP-5, seed 002)."""
    with _editing(actor, application) as application:
        # Read the list again, as submission does: the candidate may have been listed after starting.
        application.is_dishonest = dishonest_entry_for(application.programme, application.candidate) is not None
        if not application.is_dishonest:
            raise KaowuError("applications.not_dishonest", _("您无需进行此项确认。"), status=409)
        application.dishonest_confirmed_at = timezone.now()
        application.save(update_fields=["is_dishonest", "dishonest_confirmed_at", "updated_at"])
        audit_record(actor=actor, action="applications.dishonest_confirm", obj=application)


# --- Submission, recall and withdrawal -------------------------------------------------------------


def _responsible_organisation(application: Application, stage: ReviewStage) -> Organisation:
    """The body that reviews ``application`` at ``stage``; a reviewer's scope is checked against it."""
    programme = application.programme
    if stage.level == ReviewLevel.NATION:
        return programme.owner
    if stage.level == ReviewLevel.COMPANY:
        if application.company_id is None:
            raise KaowuError("applications.company_missing", _("请先选择所在企业。"), status=409)
        return application.company
    if stage.level == ReviewLevel.REVIEW_POINT:
        point = application.review_point or (application.site.review_point if application.site_id else None)
        if point is None:
            raise KaowuError("applications.review_point_missing", _("请先选择审核点。"), status=409)
        return point
    province = application.region.province_code[:2] if application.region_id else None
    body = (
        Organisation.objects.filter(
            path__startswith=programme.owner.path, kind=OrganisationKind.PROVINCIAL, region__code__startswith=province
        ).first()
        if province
        else None
    )
    if body is None:
        raise KaowuError(
            "applications.no_provincial_body",
            _("所选报考地区暂未设立省级审核机构，请核对报考地区或联系考试机构。"),
            status=409,
        )
    return body


def _open_step(application: Application, stage: ReviewStage) -> bool:
    """Send the application to ``stage``; returns True if the verifier passed it there automatically."""
    mode = stage.mode
    reasons: list[str] = []
    if mode == VerificationMode.AUTO:
        outcome = get_verifier().verify(application, eligibility_of(application))
        mode, reasons = outcome.mode, list(outcome.reasons)
        application.verification_mode, application.verification_reasons = mode, reasons
    step = ReviewStep.objects.create(
        application=application,
        stage=stage,
        round=application.round,
        organisation=_responsible_organisation(application, stage),
        mode=mode,
    )
    application.current_stage = stage
    if mode != VerificationMode.AUTO:
        return False
    step.status, step.decided_at, step.reason = StepStatus.APPROVED, timezone.now(), "；".join(reasons)
    step.save()
    return True


def _final_status(application: Application) -> str:
    """Where an application goes once all review is done: 待缴费, or 审核通过 where the fee is taken on site
    or was paid before review (seed 001)."""
    if application.programme.payment_stage in (PaymentStage.ON_SITE, PaymentStage.BEFORE_REVIEW):
        return Status.APPROVED
    return Status.AWAITING_PAYMENT


def _advance(application: Application, after: ReviewStage | None) -> str:
    """Open the review stages after ``after`` until one waits for a person; returns the status reached
    (``under_review`` at that stage, or the final status when every remaining stage passed automatically)."""
    stage = next_review_stage(application.programme, after)
    while stage is not None:
        if not _open_step(application, stage):
            return Status.UNDER_REVIEW
        stage = next_review_stage(application.programme, stage)
    application.current_stage = None
    return _final_status(application)


def application_submit(*, actor: Any, application: Application) -> Application:
    """提交 / 重新提交 (APP-3, APP-7, REV-3): checks every step, the photo, the accepted notices and the
    失信 confirmation, then sends the application into its programme's review chain (or straight to
    payment), and holds its seats last. Losing the race for the last seat raises
    ``applications.site_full`` with the alternatives, and nothing of the submission is kept.

    A notice updated since the candidate accepted it raises ``applications.notice_outdated``; the
    commitment step is then reopened (in a transaction of its own, since the refusal rolls the
    submission back) so the candidate is led back to it.
    """
    try:
        return _submit(actor=actor, application=application)
    except KaowuError as error:
        if error.code == "applications.notice_outdated":
            _reopen_commitment(application)
        raise


def _reopen_commitment(application: Application) -> None:
    with transaction.atomic():
        application = _lock(application)
        _mark(application, FlowStep.COMMITMENT, done=False)
        application.save(update_fields=["completed_steps", "updated_at"])


def _submit(*, actor: Any, application: Application) -> Application:
    with transaction.atomic():
        application = _lock(application)
        _require_owner(actor, application)
        transition_for(application.status, Action.SUBMIT, ActorKind.CANDIDATE)
        require_window(application.batch, _edit_window(application))
        programme = application.programme
        _default_subjects(application)
        missing = missing_steps(application)
        if missing:
            raise KaowuError(
                "applications.incomplete",
                _("请先完成以下步骤：%(steps)s。"),
                status=409,
                params={"steps": "、".join(str(FlowStep(s).label) for s in missing)},
            )
        if not Photo.objects.filter(user_id=application.candidate_id).exists():
            raise KaowuError("applications.photo_missing", _("请先上传符合要求的证件照。"), status=409)
        for acceptance in application.accepted_notices.select_related("notice"):
            current = notice_current(programme, acceptance.notice.kind)
            if current is not None and current.pk != acceptance.notice_id:
                raise KaowuError(
                    "applications.notice_outdated",
                    _("《%(title)s》已更新，请重新阅读并确认后再提交。"),
                    status=409,
                    params={"title": current.title},
                )
        application.is_dishonest = dishonest_entry_for(programme, application.candidate) is not None
        if application.is_dishonest and application.dishonest_confirmed_at is None:
            raise KaowuError(
                "applications.dishonest_unconfirmed",
                _("您已被列入失信人员名单，请先阅读并确认失信人员报考告知。"),
                status=409,
            )
        result = eligibility_of(application)
        application.eligibility_status, application.eligibility_reasons = result.status, list(result.reasons)

        restart_after = None
        if application.status == Status.RETURNED and application.current_stage is not None:
            # REV-3: the programme says where a resubmission starts again after a rejection.
            restart = restart_stage_after_rejection(programme, application.current_stage)
            restart_after = (
                ReviewStage.objects.filter(programme=programme, position__lt=restart.position)
                .order_by("-position")
                .first()
            )
        application.round += 1
        application.submitted_at = timezone.now()
        already_paid = application.orders.filter(status__in=[OrderStatus.PAID, OrderStatus.WAIVED]).exists()
        if programme.payment_stage in (PaymentStage.NO_REVIEW, PaymentStage.BEFORE_REVIEW) and not already_paid:
            # Payment comes first; review, if any, follows it (``application_pay``). A paid application that
            # review returned for changes goes straight back to review.
            target, application.current_stage = Status.AWAITING_PAYMENT, None
        else:
            target = _advance(application, restart_after)
        _transition(application, actor=actor, actor_kind=ActorKind.CANDIDATE, action=Action.SUBMIT, target=target)
        seats.seats_hold_chosen(application)
    _notify_after_submit(application)
    return application


def _notify_after_submit(application: Application) -> None:
    status = Status(application.status).label
    _notify(application, "application_submitted", _("报名已提交"), status=status)
    if application.status != Status.UNDER_REVIEW:
        return
    step = application.review_steps.filter(round=application.round, status=StepStatus.PENDING).first()
    if step is not None and step.mode == VerificationMode.ON_SITE:
        _notify_on_site(application, step)


def _notify_on_site(application: Application, step: ReviewStep) -> None:
    review = batch_window(application.batch, WindowAction.REVIEW)
    deadline = timezone.localtime(review.closes_at).strftime("%Y-%m-%d %H:%M") if review else ""
    _notify(
        application,
        "application_on_site",
        _("请到审核点现场审核"),
        place=step.organisation.name,
        deadline=deadline or _("规定时间"),
    )


def application_recall(*, actor: Any, application: Application) -> None:
    """撤回修改 / 取消确认 (APP-7, seed 002): back to 填写中 while no level has approved this round and the
    修改 window is open. The pending review is cancelled; seats stay held until the candidate changes
    site or withdraws, so correcting a typo never costs a seat at a full site."""
    with transaction.atomic():
        application = _lock(application)
        _require_owner(actor, application)
        transition_for(application.status, Action.RECALL, ActorKind.CANDIDATE)
        require_window(application.batch, _edit_window(application))
        _require_no_order(application)
        steps = application.review_steps.filter(round=application.round)
        # An approval by the system (auto verification) is redone at resubmission; one by a person is not
        # undone by the candidate.
        if steps.filter(status=StepStatus.APPROVED, reviewer__isnull=False).exists():
            raise KaowuError(
                "applications.already_approved",
                _("报名已有审核机构审核通过，不能撤回修改。如需更正请联系审核机构。"),
                status=409,
            )
        steps.filter(status__in=[StepStatus.PENDING, StepStatus.APPROVED]).update(status=StepStatus.CANCELLED)
        application.current_stage = None
        _transition(application, actor=actor, actor_kind=ActorKind.CANDIDATE, action=Action.RECALL, target=Status.DRAFT)


def _require_no_order(application: Application) -> None:
    """Recall and withdrawal leave no money behind: an unpaid order is cancelled first (so no payment can
    settle an application that changed meanwhile), and a paid one is refunded through 退考退费."""
    statuses = set(application.orders.filter(status__in=LIVE_ORDER_STATES).values_list("status", flat=True))
    if OrderStatus.UNPAID in statuses:
        raise KaowuError(
            "applications.order_unpaid", _("您有未支付的订单，请先在“网上缴费”中取消订单后再操作。"), status=409
        )
    if statuses:
        raise KaowuError("applications.order_paid", _("您已缴费，如需放弃报名请在退费期内申请“退考退费”。"), status=409)


def application_withdraw(*, actor: Any, application: Application, reason: str = "") -> None:
    """放弃报名: the application ends and its seats are released. Not while an order is unpaid (cancel it
    first) or paid (退考退费 instead, ``kaowu.payments.services.refund_request``)."""
    with transaction.atomic():
        application = _lock(application)
        _require_owner(actor, application)
        transition_for(application.status, Action.WITHDRAW, ActorKind.CANDIDATE)
        _require_no_order(application)
        application.review_steps.filter(status=StepStatus.PENDING).update(status=StepStatus.CANCELLED)
        application.current_stage = None
        _transition(
            application,
            actor=actor,
            actor_kind=ActorKind.CANDIDATE,
            action=Action.WITHDRAW,
            target=Status.WITHDRAWN,
            reason=reason.strip(),
        )
        seats.seats_release(application)
    _notify(application, "application_withdrawn", _("已放弃报名"))


# --- Payment, refund and change of site (PAY-1, PAY-3, PAY-4) ---------------------------------------
#
# ``application_lock`` / ``application_pay`` / ``application_refund`` / ``application_lapse`` run inside a
# transaction of ``kaowu.payments.services``, which takes the application's lock first (then the order's,
# then the payment's: one order everywhere, so no deadlock) and records the order's side.


def application_lock(application: Application) -> Application:
    """The application's row locked for the caller's transaction (the first lock of every money path)."""
    return _lock(application)


def application_pay(*, application: Application) -> str:
    """The order of ``application`` (locked by the caller) is paid: 已缴费, or, where review follows
    payment (seed 001), into the review chain. Returns the status reached."""
    transition_for(application.status, Action.PAY, ActorKind.SYSTEM)
    if application.programme.payment_stage == PaymentStage.BEFORE_REVIEW:
        target = _advance(application, None)
    else:
        target = Status.PAID
    _transition(application, actor=None, actor_kind=ActorKind.SYSTEM, action=Action.PAY, target=target)
    return target


def application_refund(*, actor: Any, actor_kind: str, application: Application, reason: str) -> None:
    """退考退费: ``application`` (locked by the caller) is withdrawn and its seats released. The candidate
    needs the batch's refund window; finance (``ActorKind.FINANCE``) refunds outside it, with a reason."""
    transition = transition_for(application.status, Action.REFUND, actor_kind)
    if actor_kind == ActorKind.CANDIDATE:
        _require_owner(actor, application)
        require_window(application.batch, transition.window)
    application.review_steps.filter(status=StepStatus.PENDING).update(status=StepStatus.CANCELLED)
    application.current_stage = None
    _transition(
        application, actor=actor, actor_kind=actor_kind, action=Action.REFUND, target=Status.WITHDRAWN, reason=reason
    )
    seats.seats_release(application)


def application_lapse(*, application: Application) -> None:
    """The payment window of ``application`` (locked by the caller, unpaid, without a live order) closed:
    the system withdraws it (逾期未缴费) and releases its seats."""
    _transition(
        application,
        actor=None,
        actor_kind=ActorKind.SYSTEM,
        action=Action.WITHDRAW,
        target=Status.WITHDRAWN,
        reason=str(_("缴费期结束未缴费")),
    )
    seats.seats_release(application)


def application_change_site(*, actor: Any, application: Application, site: Site) -> None:
    """更换考点城市 (PAY-4, seed 004): after payment, inside the batch's change window, move the seats to
    ``site`` if it has one at every sitting; the fee does not change. The seats move in one step under
    the seat-holding rules (ADR 0005): losing the race for the new site's last seat keeps the old ones."""
    with transaction.atomic():
        application = _lock(application)
        _require_owner(actor, application)
        if application.status != Status.PAID:
            raise KaowuError(
                "applications.change_site_unpaid",
                _("缴费成功后才能更换考区/考点；未缴费前请取消订单，修改后重新缴费。"),
                status=409,
            )
        require_window(application.batch, WindowAction.CHANGE_SITE)
        if site.batch_id != application.batch_id:
            raise KaowuError("applications.bad_site", _("请选择本批次的考区/考点。"), field="site")
        if site.pk == application.site_id:
            raise KaowuError("applications.same_site", _("您已在该考区/考点报考，请选择其他考区/考点。"), field="site")
        before = _snapshot(application)
        application.site = site
        application.save()
        seats.seats_hold_chosen(application)
        old, new = _changed(before, _snapshot(application))
        audit_record(actor=actor, action="applications.site_changed", obj=application, before=old, after=new)
    _notify(application, "application_site_changed", _("考区/考点已更换"), site=site.name)


# --- Review (REV-1 … REV-4) ------------------------------------------------------------------------


def _pending_step(application: Application) -> ReviewStep:
    step = (
        application.review_steps.select_related("stage", "organisation")
        .filter(round=application.round, stage=application.current_stage, status=StepStatus.PENDING)
        .first()
    )
    if step is None:
        raise KaowuError(
            "applications.transition_not_allowed",
            _("报名当前状态为“%(status)s”，没有待审核的环节。"),
            status=409,
            params={"status": Status(application.status).label},
        )
    return step


def _reviewable(actor: Any, application: Application, action: str, *, on_site: bool) -> ReviewStep:
    """Table, scope, window and mode checks shared by every review decision."""
    transition = transition_for(application.status, action, ActorKind.REVIEWER)
    step = _pending_step(application)
    if not can_review(actor, step):
        raise KaowuError("applications.out_of_scope", _("该报名不在您的审核范围内。"), status=403)
    require_window(application.batch, transition.window)
    if step.mode == VerificationMode.ON_SITE and not on_site:
        raise KaowuError(
            "applications.needs_on_site",
            _("该报名须现场审核：请在“现场审核”中核验原件后录入结果。"),
            status=409,
        )
    return step


def _decide(step: ReviewStep, *, actor: Any, status: str, reason: str) -> None:
    step.status, step.reviewer, step.reason, step.decided_at = status, actor, reason, timezone.now()
    step.save()


def _reason_required(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise KaowuError(
            "applications.reason_required", _("请填写驳回或不通过的原因，考生将看到该原因。"), field="reason"
        )
    return reason


def review_approve(*, actor: Any, application: Application, reason: str = "", on_site: bool = False) -> None:
    """审核通过 at the application's current level: the next level's queue receives it, or, after the
    last level, it awaits payment (or is 审核通过 where payment is taken on site)."""
    with transaction.atomic():
        application = _lock(application)
        step = _reviewable(actor, application, Action.APPROVE, on_site=on_site)
        _decide(step, actor=actor, status=StepStatus.APPROVED, reason=reason.strip())
        target = _advance(application, step.stage)
        _transition(
            application,
            actor=actor,
            actor_kind=ActorKind.REVIEWER,
            action=Action.APPROVE,
            target=target,
            stage=step.stage,
            reason=reason.strip(),
        )
    level = ReviewLevel(step.stage.level).label
    _notify(application, "application_approved", _("报名审核通过"), level=level, status=Status(target).label)
    pending = application.review_steps.filter(round=application.round, status=StepStatus.PENDING).first()
    if pending is not None and pending.mode == VerificationMode.ON_SITE:
        _notify_on_site(application, pending)


def review_return(*, actor: Any, application: Application, reason: str, on_site: bool = False) -> None:
    """驳回修改: the candidate corrects and resubmits; where review restarts is the programme's rule."""
    reason = _reason_required(reason)
    with transaction.atomic():
        application = _lock(application)
        step = _reviewable(actor, application, Action.RETURN, on_site=on_site)
        _decide(step, actor=actor, status=StepStatus.RETURNED, reason=reason)
        _transition(
            application,
            actor=actor,
            actor_kind=ActorKind.REVIEWER,
            action=Action.RETURN,
            target=Status.RETURNED,
            stage=step.stage,
            reason=reason,
        )
    edit_windows = (batch_window(application.batch, a) for a in (WindowAction.MODIFY, WindowAction.REGISTER))
    deadline = max((w.closes_at for w in edit_windows if w is not None), default=None)
    _notify(
        application,
        "application_returned",
        _("报名被驳回，请修改"),
        level=ReviewLevel(step.stage.level).label,
        reason=reason,
        deadline=timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M") if deadline else _("规定时间"),
    )


def review_reject(*, actor: Any, application: Application, reason: str, on_site: bool = False) -> None:
    """审核不通过 (final): the application ends and its seats are released."""
    reason = _reason_required(reason)
    with transaction.atomic():
        application = _lock(application)
        step = _reviewable(actor, application, Action.REJECT, on_site=on_site)
        _decide(step, actor=actor, status=StepStatus.REJECTED, reason=reason)
        application.current_stage = None
        _transition(
            application,
            actor=actor,
            actor_kind=ActorKind.REVIEWER,
            action=Action.REJECT,
            target=Status.REJECTED,
            stage=step.stage,
            reason=reason,
        )
        # Receivers (the payments app's refund) write first: seat counters are the last locks taken.
        application_rejected.send(sender=Application, application=application, actor=actor)
        seats.seats_release(application)
    _notify(
        application,
        "application_rejected",
        _("报名审核不通过"),
        level=ReviewLevel(step.stage.level).label,
        reason=reason,
    )


@dataclass
class BulkResult:
    approved: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def review_bulk_approve(*, actor: Any, applications: Iterable[Application]) -> BulkResult:
    """Approve each of a filtered selection, each in its own transaction: one that cannot be approved
    (changed meanwhile, on-site only, out of scope) is reported with its reason and the rest go on."""
    result = BulkResult()
    for application in applications:
        try:
            review_approve(actor=actor, application=application)
        except KaowuError as error:
            result.refused[application.pk] = error.message
        else:
            result.approved.append(application.pk)
    return result


# --- 失信 list (APP-5) -------------------------------------------------------------------------------


def dishonest_entry_add(
    *,
    actor: Any,
    programme: Any,
    document_hash: str,
    document_masked: str,
    name: str,
    reason: str = "",
    valid_until: date | None = None,
) -> DishonestEntry:
    """Add (or refresh) one person on a programme's 失信 list; ``valid_until`` empty means no end date.
    Audit ``applications.dishonest.add`` / ``.update`` (masked number only)."""
    with transaction.atomic():
        entry, created = DishonestEntry.objects.update_or_create(
            programme=programme,
            document_hash=document_hash,
            defaults={
                "document_masked": document_masked,
                "name": name,
                "reason": reason,
                "valid_until": valid_until,
                "imported_by": actor,
            },
        )
        audit_record(
            actor=actor,
            action="applications.dishonest.add" if created else "applications.dishonest.update",
            obj=entry,
            after={
                "document": document_masked,
                "programme": programme.pk,
                "valid_until": valid_until.isoformat() if valid_until else None,
            },
        )
    return entry


# --- Seats left behind (system job) ----------------------------------------------------------------


def seats_release_after_edit_window(*, at: datetime | None = None) -> int:
    """Release the seats of applications that can no longer come back: recalled to 填写中 or returned for
    changes, and their batch's edit window (修改, else 报名) has closed without a resubmission. Without
    this a recall would keep a seat at a full site for ever. Run periodically (Celery beat, or the
    ``release_stale_seats`` command from cron). Each release is audited and the candidate told.
    Returns how many applications gave seats back."""
    at = at or timezone.now()
    released = 0
    candidates = Application.objects.filter(
        status__in=EDITABLE_STATES, round__gt=0, seat_holds__isnull=False
    ).distinct()
    for pk in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            application = _lock(Application(pk=pk))
            window = batch_window(application.batch, _edit_window(application))
            if application.status not in EDITABLE_STATES or (window is not None and window.closes_at > at):
                continue
            count = seats.seats_release(application)
            if not count:
                continue
            audit_record(actor=None, action="applications.seats_released", obj=application, after={"seats": count})
        released += 1
        _notify(application, "application_seats_released", _("报名未重新提交，考位已释放"))
    return released
