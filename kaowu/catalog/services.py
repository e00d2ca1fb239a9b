"""Every write to programme configuration (CAT-1 … CAT-7), the one window check, and eligibility.

Each service is keyword-only, runs in one transaction and writes an audit row. Failures a person can
fix raise ``KaowuError`` with the form field they belong to and a Chinese message saying what to do.

``batch_is_open`` is the only place that decides whether a batch's window (报名、缴费、打印准考证 …) is
open; every candidate action calls it, usually through ``require_window``. It lives here rather than in
``selectors.py`` although it only reads, because it is the gate every later service passes first.

Times are stored aware (UTC in the database) and shown in Asia/Shanghai (``TIME_ZONE``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, models, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kaowu.accounts.models import Degree, EducationLevel
from kaowu.core.audit import audit_record
from kaowu.core.context import current_ip
from kaowu.core.errors import KaowuError

from .models import (
    Batch,
    BatchWindow,
    EligibilityRule,
    NoticeAcceptance,
    NoticeKind,
    NoticeVersion,
    Position,
    Programme,
    Site,
    SiteCapacity,
    Sitting,
    WindowAction,
)
from .selectors import batch_window

# --- Windows (CAT-2) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowSpec:
    """One dated window of a batch, as entered in the back office (aware datetimes)."""

    action: str
    opens_at: datetime
    closes_at: datetime


def _local_text(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _action_label(action: str) -> str:
    return _label(WindowAction, action)


def _now_or(at: datetime | None) -> datetime:
    if at is None:
        return timezone.now()
    if timezone.is_naive(at):
        raise ValueError("window checks need an aware datetime")
    return at


def batch_is_open(batch: Batch, action: str, at: datetime | None = None) -> bool:
    """Whether ``action`` is open for ``batch`` at ``at`` (default: now): ``opens_at <= at < closes_at``.

    The only window check in the product. A batch without a window for the action is closed for it.
    Publication is not checked here: an unpublished batch is simply not offered to candidates.
    """
    return _window_contains(batch_window(batch, action), _now_or(at))


def _window_contains(window: BatchWindow | None, at: datetime) -> bool:
    # The one comparison behind ``batch_is_open`` and ``require_window``.
    return window is not None and window.opens_at <= at < window.closes_at


def require_window(batch: Batch, action: str, at: datetime | None = None) -> None:
    """Raise ``KaowuError("catalog.window_closed", status=409)`` unless ``batch_is_open``.

    The message gives the window in local time (Asia/Shanghai), e.g.
    "报名时间为 2026-03-01 09:00 至 2026-03-10 17:00，当前不在办理时间内。", or says the batch has no
    such window at all.
    """
    at = _now_or(at)
    window = batch_window(batch, action)
    if window is None:
        raise KaowuError(
            "catalog.window_closed", _("本批次未安排该事项。"), status=409, params={"action": _action_label(action)}
        )
    if not _window_contains(window, at):
        raise KaowuError(
            "catalog.window_closed",
            _("%(action)s时间为 %(opens)s 至 %(closes)s，当前不在办理时间内。"),
            status=409,
            params={
                "action": _action_label(action),
                "opens": _local_text(window.opens_at),
                "closes": _local_text(window.closes_at),
            },
        )


# (subject, edge, relation, other, other edge): "subject.edge must not be earlier (>=) / later (<=) than
# other.edge". A rule is checked only when both windows are present. Windows are half-open, so a window
# may open at the very moment another one closes.
_OPENS, _CLOSES = "opens_at", "closes_at"
_WINDOW_RULES: tuple[tuple[str, str, str, str, str], ...] = (
    (WindowAction.MODIFY, _OPENS, ">=", WindowAction.REGISTER, _OPENS),
    (WindowAction.REVIEW, _OPENS, ">=", WindowAction.REGISTER, _OPENS),
    (WindowAction.PAY, _OPENS, ">=", WindowAction.REGISTER, _OPENS),
    (WindowAction.REFUND, _OPENS, ">=", WindowAction.PAY, _OPENS),
    (WindowAction.REFUND, _CLOSES, "<=", WindowAction.EXAM, _OPENS),
    (WindowAction.CHANGE_SITE, _OPENS, ">=", WindowAction.PAY, _OPENS),
    (WindowAction.CHANGE_SITE, _CLOSES, "<=", WindowAction.EXAM, _OPENS),
    (WindowAction.TICKET, _OPENS, ">=", WindowAction.REGISTER, _CLOSES),
    (WindowAction.TICKET, _CLOSES, "<=", WindowAction.EXAM, _CLOSES),
    (WindowAction.EXAM, _OPENS, ">=", WindowAction.REGISTER, _CLOSES),
    (WindowAction.SCORES, _OPENS, ">=", WindowAction.EXAM, _CLOSES),
)
_EDGE_LABELS = {_OPENS: _("开始时间"), _CLOSES: _("结束时间")}


def _windows_error(message: Any, **params: Any) -> KaowuError:
    return KaowuError("catalog.windows_out_of_order", message, field="windows", params=params)


def batch_windows_validate(windows: Iterable[WindowSpec]) -> None:
    """Check a batch's windows against each other; raise ``KaowuError("catalog.windows_out_of_order")``.

    Rules: every window opens before it closes; one window per action; 修改、审核、缴费 open no earlier
    than 报名; 退费 and 更换考区 open no earlier than 缴费 and close no later than 考试 opens; 打印准考证
    opens once 报名 has closed and closes no later than 考试 closes; 考试 opens once 报名 has closed;
    成绩发布 opens no earlier than 考试 closes. Rules involving an absent window are skipped. The message
    names both windows and their times.
    """
    by_action: dict[str, WindowSpec] = {}
    for spec in windows:
        if spec.action not in WindowAction.values:
            raise _windows_error(_("未知的事项“%(action)s”。"), action=spec.action)
        if timezone.is_naive(spec.opens_at) or timezone.is_naive(spec.closes_at):
            raise ValueError("window times must be aware datetimes")
        label = _action_label(spec.action)
        if spec.action in by_action:
            raise _windows_error(_("“%(action)s”安排了两次，每个事项只能安排一个时间段。"), action=label)
        if spec.opens_at >= spec.closes_at:
            raise _windows_error(
                _("“%(action)s”的结束时间（%(closes)s）须晚于开始时间（%(opens)s），请调整后再保存。"),
                action=label,
                opens=_local_text(spec.opens_at),
                closes=_local_text(spec.closes_at),
            )
        by_action[spec.action] = spec
    for action, edge, relation, other_action, other_edge in _WINDOW_RULES:
        subject, other = by_action.get(action), by_action.get(other_action)
        if subject is None or other is None:
            continue
        mine, theirs = getattr(subject, edge), getattr(other, other_edge)
        if (relation == ">=" and mine < theirs) or (relation == "<=" and mine > theirs):
            raise _windows_error(
                _(
                    "“%(a)s”的%(a_edge)s（%(a_time)s）不能%(relation)s“%(b)s”的%(b_edge)s（%(b_time)s），请调整后再保存。"
                ),
                a=_action_label(action),
                a_edge=_EDGE_LABELS[edge],
                a_time=_local_text(mine),
                relation=_("早于") if relation == ">=" else _("晚于"),
                b=_action_label(other_action),
                b_edge=_EDGE_LABELS[other_edge],
                b_time=_local_text(theirs),
            )


def _windows_snapshot(windows: Iterable[BatchWindow | WindowSpec]) -> dict[str, list[str]]:
    return {
        w.action: [timezone.localtime(w.opens_at).isoformat(), timezone.localtime(w.closes_at).isoformat()]
        for w in sorted(windows, key=lambda w: (w.opens_at, w.action))
    }


def _create_windows(batch: Batch, windows: Iterable[WindowSpec]) -> None:
    BatchWindow.objects.bulk_create(
        BatchWindow(batch=batch, action=w.action, opens_at=w.opens_at, closes_at=w.closes_at) for w in windows
    )


def _check_batch_fields(*, programme: Programme, code: str, name: str, year: int) -> None:
    try:
        validate_slug(code)
    except ValidationError as error:
        raise KaowuError(
            "catalog.batch_code_invalid", _("批次代码只能包含字母、数字、连字符和下划线，如 2027-1。"), field="code"
        ) from error
    if not name.strip():
        raise KaowuError("catalog.batch_name_required", _("请填写批次名称。"), field="name")
    if not 2000 <= year <= 9998:
        raise KaowuError("catalog.batch_year_invalid", _("请填写四位数的年度，如 2027。"), field="year")
    if Batch.objects.filter(programme=programme, code=code).exists():
        raise _batch_code_taken(code)


def _batch_code_taken(code: str) -> KaowuError:
    return KaowuError(
        "catalog.batch_code_taken",
        _("本项目已有代码为“%(code)s”的批次，请换一个代码。"),
        field="code",
        status=409,
        params={"code": code},
    )


def batch_create(
    *, actor: Any, programme: Programme, code: str, name: str, year: int, windows: Sequence[WindowSpec] = ()
) -> Batch:
    """Create an unpublished batch of ``programme`` with ``windows``.

    Preconditions: ``code`` is a slug unique within the programme; windows pass ``batch_windows_validate``.
    Side effects: Batch and BatchWindow rows; audit ``catalog.batch.created``.
    """
    code, name = code.strip(), name.strip()
    windows = list(windows)
    _check_batch_fields(programme=programme, code=code, name=name, year=year)
    batch_windows_validate(windows)
    try:
        with transaction.atomic():
            batch = Batch.objects.create(programme=programme, code=code, name=name, year=year)
            _create_windows(batch, windows)
            audit_record(
                actor=actor,
                action="catalog.batch.created",
                obj=batch,
                after={
                    "programme": programme.code,
                    "code": code,
                    "name": name,
                    "year": year,
                    "windows": _windows_snapshot(windows),
                },
            )
    except IntegrityError as error:  # the same code was taken between the check and the insert
        raise _batch_code_taken(code) from error
    return batch


def batch_set_windows(*, actor: Any, batch: Batch, windows: Sequence[WindowSpec]) -> None:
    """Replace all windows of ``batch`` with ``windows`` at once.

    Preconditions: windows pass ``batch_windows_validate``. Side effects: the batch row is locked, its
    BatchWindow rows are deleted and recreated; audit ``catalog.batch.windows_set`` with the windows
    before and after (local times). Candidates' ``batch_is_open`` sees either all old or all new windows.
    """
    windows = list(windows)
    batch_windows_validate(windows)
    with transaction.atomic():
        Batch.objects.select_for_update().filter(pk=batch.pk).first()
        before = _windows_snapshot(BatchWindow.objects.filter(batch=batch))
        after = _windows_snapshot(windows)
        BatchWindow.objects.filter(batch=batch).delete()
        _create_windows(batch, windows)
        audit_record(
            actor=actor,
            action="catalog.batch.windows_set",
            obj=batch,
            before={"windows": before},
            after={"windows": after},
        )
    if hasattr(batch, "_prefetched_objects_cache"):
        batch._prefetched_objects_cache.pop("windows", None)


def batch_publish(*, actor: Any, batch: Batch) -> None:
    """Offer ``batch`` to candidates (``is_published``; ``selectors.open_batches`` lists it while its
    报名 window is open).

    Preconditions: the batch has a 报名 (REGISTER) window, otherwise
    ``KaowuError("catalog.batch_no_register_window", status=409)``. Idempotent: publishing a published
    batch changes and records nothing. Side effects: the batch row is locked and updated; audit
    ``catalog.batch.published``. ``batch.is_published`` is updated in place.
    """
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if not locked.is_published:
            if not BatchWindow.objects.filter(batch=locked, action=WindowAction.REGISTER).exists():
                raise KaowuError(
                    "catalog.batch_no_register_window",
                    _("发布前请先设置报名时间。"),
                    field="windows",
                    status=409,
                )
            locked.is_published = True
            locked.save(update_fields=["is_published"])
            audit_record(
                actor=actor,
                action="catalog.batch.published",
                obj=locked,
                before={"is_published": False},
                after={"is_published": True},
            )
    batch.is_published = True


def batch_unpublish(*, actor: Any, batch: Batch) -> None:
    """Stop offering ``batch`` to candidates (``selectors.open_batches`` no longer lists it).

    Idempotent: unpublishing an unpublished batch changes and records nothing. Side effects: the batch
    row is locked and updated; audit ``catalog.batch.unpublished``. ``batch.is_published`` is updated
    in place.
    """
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.is_published:
            locked.is_published = False
            locked.save(update_fields=["is_published"])
            audit_record(
                actor=actor,
                action="catalog.batch.unpublished",
                obj=locked,
                before={"is_published": True},
                after={"is_published": False},
            )
    batch.is_published = False


def _shift_years(moment: datetime, years: int) -> datetime:
    """The same local wall-clock time ``years`` calendar years later; 29 February becomes 28 February."""
    local = timezone.localtime(moment)
    try:
        return local.replace(year=local.year + years)
    except ValueError:  # 29 February into a year without one
        return local.replace(year=local.year + years, day=28)


def batch_copy(*, actor: Any, source: Batch, code: str, name: str, year: int) -> Batch:
    """Start a new batch (usually next year's) from ``source``: "照上一期新建".

    Copies the windows, sittings with their subjects, sites with their capacity per copied sitting, and
    positions. Every date and time moves by ``year - source.year`` calendar years at the same local
    time (29 February → 28 February). The copy is unpublished and records ``copied_from=source``;
    nothing of the source changes. Preconditions: ``code`` is free within the programme; the shifted
    windows still pass ``batch_windows_validate``. Side effects: the new rows; audit
    ``catalog.batch.copied``.
    """
    code, name = code.strip(), name.strip()
    programme = source.programme
    _check_batch_fields(programme=programme, code=code, name=name, year=year)
    years = year - source.year
    windows = [
        WindowSpec(w.action, _shift_years(w.opens_at, years), _shift_years(w.closes_at, years))
        for w in source.windows.all()
    ]
    batch_windows_validate(windows)
    try:
        with transaction.atomic():
            batch = Batch.objects.create(
                programme=programme, code=code, name=name, year=year, is_published=False, copied_from=source
            )
            _create_windows(batch, windows)
            sittings: dict[int, Sitting] = {}
            for old in source.sittings.prefetch_related("subjects"):
                new = Sitting.objects.create(
                    batch=batch,
                    name=old.name,
                    starts_at=_shift_years(old.starts_at, years),
                    ends_at=_shift_years(old.ends_at, years),
                )
                new.subjects.set(old.subjects.all())
                sittings[old.pk] = new
            site_count = 0
            for old_site in source.sites.prefetch_related("capacities"):
                site = Site.objects.create(
                    batch=batch, region_id=old_site.region_id, name=old_site.name, address=old_site.address
                )
                site_count += 1
                SiteCapacity.objects.bulk_create(
                    SiteCapacity(site=site, sitting=sittings[cap.sitting_id], capacity=cap.capacity)
                    for cap in old_site.capacities.all()
                    if cap.sitting_id in sittings
                )
            positions = Position.objects.bulk_create(
                Position(
                    batch=batch,
                    code=p.code,
                    name=p.name,
                    unit=p.unit,
                    posts=p.posts,
                    requirements=p.requirements,
                )
                for p in source.positions.all()
            )
            audit_record(
                actor=actor,
                action="catalog.batch.copied",
                obj=batch,
                before={"source": source.code, "source_year": source.year},
                after={
                    "programme": programme.code,
                    "code": code,
                    "name": name,
                    "year": year,
                    "windows": _windows_snapshot(windows),
                    "sittings": len(sittings),
                    "sites": site_count,
                    "positions": len(positions),
                },
            )
    except IntegrityError as error:
        raise _batch_code_taken(code) from error
    return batch


# --- Notices (CAT-5) -------------------------------------------------------------------------------


def _next_notice_version(programme: Programme | None, kind: str) -> int:
    latest = NoticeVersion.objects.filter(programme=programme, kind=kind).aggregate(Max("version"))["version__max"]
    return (latest or 0) + 1


def notice_publish(*, actor: Any, programme: Programme | None, kind: str, title: str, body: str) -> NoticeVersion:
    """Publish a new version of a notice (``programme=None``: platform-wide, e.g. the user agreement).

    Versions count 1, 2, 3 … per (programme, kind). Published versions are never edited, so an
    acceptance always points at exactly the text the candidate read. Preconditions: a known ``kind``,
    non-empty title and body. Concurrency: the programme row (or, platform-wide, the latest version) is
    locked while numbering, and the unique constraints catch what the lock cannot (the very first
    version); a collision is retried once, then refused with a 409. Side effects: a NoticeVersion row;
    audit ``catalog.notice.published``.
    """
    if kind not in NoticeKind.values:
        raise KaowuError("catalog.notice_kind_invalid", _("请选择须知类型。"), field="kind")
    title, body = title.strip(), body.strip()
    if not title:
        raise KaowuError("catalog.notice_title_required", _("请填写标题。"), field="title")
    if not body:
        raise KaowuError("catalog.notice_body_required", _("请填写正文。"), field="body")
    with transaction.atomic():
        if programme is not None:
            Programme.objects.select_for_update().filter(pk=programme.pk).first()
        else:
            NoticeVersion.objects.select_for_update().filter(programme=None, kind=kind).order_by("-version").first()
        for attempt in range(2):
            version = _next_notice_version(programme, kind)
            try:
                with transaction.atomic():
                    notice = NoticeVersion.objects.create(
                        programme=programme,
                        kind=kind,
                        version=version,
                        title=title,
                        body=body,
                        published_at=timezone.now(),
                        published_by=actor if getattr(actor, "pk", None) else None,
                    )
                break
            except IntegrityError as error:
                if attempt:
                    raise KaowuError(
                        "catalog.notice_conflict",
                        _("其他人刚刚发布了同一须知的新版本，请刷新页面核对后再发布。"),
                        status=409,
                    ) from error
        audit_record(
            actor=actor,
            action="catalog.notice.published",
            obj=notice,
            after={
                "programme": programme.code if programme is not None else None,
                "kind": kind,
                "version": notice.version,
                "title": title,
            },
        )
    return notice


def notice_accept(*, user: Any, notice: NoticeVersion) -> NoticeAcceptance:
    """Record that ``user`` accepted exactly this version of a notice, now, from the request's IP.

    Precondition: ``notice`` is still the current version of its (programme, kind); if a newer one was
    published while the candidate was reading, they are asked to read the new one (409). Side effects:
    a NoticeAcceptance row; audit ``catalog.notice.accepted``.
    """
    with transaction.atomic():
        newer = NoticeVersion.objects.filter(
            programme_id=notice.programme_id, kind=notice.kind, version__gt=notice.version
        ).exists()
        if newer:
            raise KaowuError(
                "catalog.notice_outdated",
                _("《%(title)s》已发布新版本，请阅读新版本后再确认。"),
                status=409,
                params={"title": notice.title},
            )
        acceptance = NoticeAcceptance.objects.create(
            user=user, notice=notice, accepted_at=timezone.now(), ip=current_ip()
        )
        audit_record(
            actor=user,
            action="catalog.notice.accepted",
            obj=acceptance,
            after={"notice": notice.pk, "kind": notice.kind, "version": notice.version},
        )
    return acceptance


# --- Eligibility (CAT-6) ---------------------------------------------------------------------------


class EducationRecordLike(Protocol):
    """What eligibility reads of an education record (``accounts.EducationRecord`` fits)."""

    level: str
    degree: str
    major: str
    study_mode: str


@dataclass(frozen=True)
class EligibilityFacts:
    """What the candidate declared: education records, years of professional work, full-time student."""

    education: Sequence[EducationRecordLike]
    work_years: int | None = None
    is_full_time_student: bool = False


class EligibilityStatus(models.TextChoices):
    PASS = "pass", _("符合报考条件")
    FAIL = "fail", _("不符合报考条件")
    NEEDS_PROOF = "needs_proof", _("须上传证明材料")


@dataclass(frozen=True)
class EligibilityResult:
    """``status`` is ``pass``, ``fail`` or ``needs_proof``; ``reasons`` are Chinese sentences for the candidate."""

    status: str
    reasons: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == EligibilityStatus.PASS


# TextChoices keep declaration order: highest first, so a smaller index is a higher qualification.
_EDUCATION_RANK = {value: index for index, value in enumerate(EducationLevel.values)}
_DEGREE_RANK = {value: index for index, value in enumerate(Degree.values)}


def _label(choices: type[models.TextChoices], value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _normalise_major(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def _reason(message: Any, **params: Any) -> str:
    # Rendered now (in the active language): results are values that outlive the request.
    return str(message) % params if params else str(message)


def _rule_reasons(rule: EligibilityRule, facts: EligibilityFacts) -> tuple[list[str], list[str]]:
    """The failures and the proofs to upload for one rule."""
    failures: list[str] = []
    proofs: list[str] = []
    records = list(facts.education)
    if rule.min_education:
        required = _label(EducationLevel, rule.min_education)
        ranks = [_EDUCATION_RANK.get(r.level, len(_EDUCATION_RANK)) for r in records]
        if not records:
            failures.append(_reason(_("报考该级别须具备%(required)s及以上学历，请先填写学历信息。"), required=required))
        elif min(ranks) > _EDUCATION_RANK[rule.min_education]:
            best = records[ranks.index(min(ranks))].level
            failures.append(
                _reason(
                    _("报考该级别须具备%(required)s及以上学历，您填写的最高学历为%(actual)s。"),
                    required=required,
                    actual=_label(EducationLevel, best),
                )
            )
    if rule.min_degree:
        required = _label(Degree, rule.min_degree)
        degrees = [r.degree for r in records if r.degree in _DEGREE_RANK and r.degree != Degree.NONE]
        if not degrees:
            failures.append(
                _reason(_("报考该级别须具备%(required)s及以上学位，您填写的学历均无学位。"), required=required)
            )
        elif min(_DEGREE_RANK[d] for d in degrees) > _DEGREE_RANK[rule.min_degree]:
            best = min(degrees, key=_DEGREE_RANK.__getitem__)
            failures.append(
                _reason(
                    _("报考该级别须具备%(required)s及以上学位，您填写的最高学位为%(actual)s。"),
                    required=required,
                    actual=_label(Degree, best),
                )
            )
    keywords = [k for k in (str(k).strip() for k in rule.allowed_majors or []) if k]
    if keywords:
        majors = [r.major.strip() for r in records if r.major.strip()]
        if not any(_normalise_major(k) in _normalise_major(m) for k in keywords for m in majors):
            failures.append(
                _reason(
                    _("报考条件限定所学专业为%(allowed)s相关专业，您填写的所学专业为%(actual)s。"),
                    allowed="、".join(keywords),
                    actual="、".join(majors) or str(_("（未填写）")),
                )
            )
    if rule.min_work_years:
        if facts.work_years is None:
            failures.append(
                _reason(
                    _("报考该级别须具备 %(years)d 年及以上专业工作年限，请填写专业工作年限。"),
                    years=rule.min_work_years,
                )
            )
        elif facts.work_years < rule.min_work_years:
            failures.append(
                _reason(
                    _("报考该级别须具备 %(years)d 年及以上专业工作年限，您填写的为 %(actual)d 年。"),
                    years=rule.min_work_years,
                    actual=facts.work_years,
                )
            )
    if rule.full_time_students_need_certificate and facts.is_full_time_student:
        proofs.append(_reason(_("全日制在校生须上传学校出具的在校证明。")))
    return failures, proofs


def eligibility_evaluate(*, rules: Iterable[EligibilityRule], facts: EligibilityFacts) -> EligibilityResult:
    """Apply eligibility rules to what a candidate declared. Pure: reads nothing, writes nothing.

    Every rule given must be met (pass the level's rules together with the chosen specialty's, see
    ``selectors.eligibility_rules_for``); an empty field of a rule is no requirement. Each unmet
    requirement adds a Chinese reason. ``fail`` (some requirement unmet) beats ``needs_proof`` (met, but
    a certificate must be uploaded, e.g. a full-time student's 在校证明) beats ``pass``. With ``fail``
    only the failures are given as reasons; with ``needs_proof`` the proofs to upload.
    """
    failures: list[str] = []
    proofs: list[str] = []
    for rule in rules:
        rule_failures, rule_proofs = _rule_reasons(rule, facts)
        failures += [r for r in rule_failures if r not in failures]
        proofs += [r for r in rule_proofs if r not in proofs]
    if failures:
        return EligibilityResult(EligibilityStatus.FAIL, tuple(failures))
    if proofs:
        return EligibilityResult(EligibilityStatus.NEEDS_PROOF, tuple(proofs))
    return EligibilityResult(EligibilityStatus.PASS, ())
