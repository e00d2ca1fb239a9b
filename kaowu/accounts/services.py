"""Every write to candidate accounts (ACC-1 … ACC-8).

Each service is keyword-only, runs in one transaction, writes an audit row with personal numbers
masked, and sends notifications only after commit. Failures a user can fix raise ``KaowuError`` with the
name of the form field they belong to.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from typing import Any

from axes.utils import reset as axes_reset
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kaowu.catalog.models import NoticeKind, NoticeVersion
from kaowu.catalog.services import notice_accept
from kaowu.core import crypto
from kaowu.core.audit import audit_record
from kaowu.core.documents import GB11643_TYPES
from kaowu.core.errors import KaowuError
from kaowu.core.masking import mask_document_number, mask_phone
from kaowu.core.validators import id_card_birth_date, id_card_gender
from kaowu.notifications.models import SmsPurpose
from kaowu.notifications.services import notify, sms_code_send, sms_code_verify

from .imaging import PhotoReport, check_and_standardise_photo, inspect_scan
from .models import CandidateProfile, EducationRecord, Photo, Scan, User
from .selectors import document_number_hash, find_candidate, find_user_by_document

# A candidate accepts the current version of each of these platform-wide notices before registering
# (seed 002: 网上报名协议 → 注册须知); each acceptance is recorded with its exact version (CAT-5).
REGISTRATION_NOTICE_KINDS = (NoticeKind.USER_AGREEMENT, NoticeKind.REGISTRATION_NOTICE)

MAX_SCANS_PER_USER = 20
RECOVERY_ANSWER_ATTEMPTS = 5


# --- Data carried between steps -------------------------------------------------------------------


@dataclass(frozen=True)
class EducationData:
    level: str
    degree: str
    school: str
    major: str
    graduated_on: date
    study_mode: str


@dataclass(frozen=True)
class PendingRegistration:
    """Everything the registration form collected and checked, waiting for the second confirmation.

    It lives in the session between the two steps, so secrets in it are already hashed.
    """

    username: str
    doc_type: str
    doc_number: str
    real_name: str
    gender: str
    birth_date: date
    phone: str
    email: str
    password_hash: str
    security_question: str
    security_answer_hash: str
    education: EducationData
    accepted_notices: tuple[int, ...]

    def to_session(self) -> dict[str, Any]:
        data = asdict(self)
        data["doc_number"] = crypto.encrypt(self.doc_number)  # sessions are rows too: never in clear (ADR 0002)
        data["birth_date"] = self.birth_date.isoformat()
        data["education"]["graduated_on"] = self.education.graduated_on.isoformat()
        return data

    @classmethod
    def from_session(cls, data: dict[str, Any]) -> PendingRegistration:
        education = dict(data["education"], graduated_on=date.fromisoformat(data["education"]["graduated_on"]))
        return cls(
            **{
                **data,
                "doc_number": crypto.decrypt(data["doc_number"]),
                "birth_date": date.fromisoformat(data["birth_date"]),
                "accepted_notices": tuple(data["accepted_notices"]),
                "education": EducationData(**education),
            }
        )


@dataclass(frozen=True)
class IdentityConfirmation:
    """What the candidate types again in the second confirmation (seed 002, ACC-3)."""

    real_name: str
    doc_type: str
    doc_number: str
    education_level: str
    degree: str


# --- Helpers --------------------------------------------------------------------------------------


def normalise_name(name: str) -> str:
    # NFC keeps rare characters (CJK extension planes) intact while unifying composed forms.
    return unicodedata.normalize("NFC", name).strip()


def _normalise_answer(answer: str) -> str:
    return "".join(unicodedata.normalize("NFKC", answer).casefold().split())


def _now_text() -> str:
    return timezone.localtime().strftime("%Y-%m-%d %H:%M")


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    changed = [key for key in after if before.get(key) != after[key]]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


def _delete_file_after_commit(name: str) -> None:
    from django.core.files.storage import default_storage

    transaction.on_commit(lambda: default_storage.delete(name))


def _phone_taken() -> KaowuError:
    return KaowuError(
        "accounts.phone_taken",
        _("该手机号已绑定其他账户。一个手机号只能绑定一个账户，如是您本人的账户，请通过“找回密码/账户”登录。"),
        field="phone",
        status=409,
    )


def _check_available(*, username: str, doc_number: str, phone: str) -> None:
    if find_user_by_document(doc_number) is not None:
        raise KaowuError(
            "accounts.document_taken",
            _("该证件号码已注册。一个证件号码只能注册一次，如是您本人注册的账户，请通过“找回密码/账户”登录。"),
            field="doc_number",
            status=409,
        )
    if User.objects.filter(phone=phone).exists():
        raise _phone_taken()
    if User.objects.filter(username__iexact=username).exists():
        raise KaowuError("accounts.username_taken", _("该用户名已被使用，请换一个。"), field="username", status=409)


# Django 5.2 changed the msgid of MinimumLengthValidator's message and its Chinese catalogue has no
# translation for the new one, so that message would reach candidates in English.
_PASSWORD_TOO_SHORT = _("密码长度太短。密码必须包含至少 %(min_length)d 个字符。")


def _validate_new_password(password: str, user: User, *, field: str) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        messages = [
            _PASSWORD_TOO_SHORT % item.params if item.code == "password_too_short" else " ".join(item.messages)
            for item in error.error_list
        ]
        raise KaowuError("accounts.weak_password", " ".join(messages), field=field) from error


# --- Registration (ACC-1, ACC-2, ACC-3) -------------------------------------------------------------


def registration_start(
    *,
    username: str,
    doc_type: str,
    doc_number: str,
    real_name: str,
    gender: str,
    birth_date: date | None,
    phone: str,
    sms_code: str,
    email: str,
    password: str,
    security_question: str,
    security_answer: str,
    education: EducationData,
    accepted_notices: Sequence[int],
) -> PendingRegistration:
    """Check a filled-in registration form and return it ready for the second confirmation.

    Preconditions: fields are individually valid (the form ran the document-number, mobile and e-mail
    validators). Checks that the number, phone and user name are free and the password is acceptable,
    then consumes the SMS code — last, so a code is not spent on a form that fails for another reason.
    For ID cards and residence permits, gender and birth date come from the number, not the input.
    """
    real_name = normalise_name(real_name)
    if doc_type in GB11643_TYPES:
        gender, birth_date = id_card_gender(doc_number), id_card_birth_date(doc_number)
    if birth_date is None or not gender:
        raise KaowuError("accounts.birth_date_required", _("请填写性别和出生日期。"), field="birth_date")
    _check_available(username=username, doc_number=doc_number, phone=phone)
    candidate = User(username=username, real_name=real_name, email=email)
    candidate.pending_document_number = doc_number  # read by NotDocumentNumberValidator
    _validate_new_password(password, candidate, field="password1")
    sms_code_verify(phone=phone, purpose=SmsPurpose.REGISTER, code=sms_code)
    return PendingRegistration(
        username=username,
        doc_type=doc_type,
        doc_number=doc_number,
        real_name=real_name,
        gender=gender,
        birth_date=birth_date,
        phone=phone,
        email=email,
        password_hash=make_password(password),
        security_question=security_question.strip(),
        security_answer_hash=make_password(_normalise_answer(security_answer)),
        education=education,
        accepted_notices=tuple(accepted_notices),
    )


_CONFIRMATION_LABELS = {
    "real_name": _("姓名"),
    "doc_type": _("证件类型"),
    "doc_number": _("证件号码"),
    "education_level": _("学历"),
    "degree": _("学位"),
}


def _registration_notices(accepted: Sequence[int]) -> list[NoticeVersion]:
    """The platform notices a registration accepted: exactly one of each kind in REGISTRATION_NOTICE_KINDS."""
    notices = list(NoticeVersion.objects.filter(pk__in=accepted, programme__isnull=True))
    if sorted(n.kind for n in notices) != sorted(REGISTRATION_NOTICE_KINDS):
        raise KaowuError(
            "accounts.notices_not_accepted",
            _("请先阅读并同意用户协议和注册须知，再提交注册。"),
            status=409,
        )
    return notices


def candidate_register(*, pending: PendingRegistration, confirmation: IdentityConfirmation) -> User:
    """Create the account once the second confirmation matches what was filled in.

    After this the identity fields (name, document type and number, gender, birth date) never change.
    Side effects: User, CandidateProfile and the first EducationRecord rows; a NoticeAcceptance for each
    accepted platform notice (refused with ``catalog.notice_outdated`` if a newer version was published
    meanwhile); audit row ``accounts.candidate.registered``. Raises ``KaowuError`` on any mismatch
    (naming the fields, never their values) or if the number, phone or user name was taken meanwhile.
    """
    expected = {
        "real_name": pending.real_name,
        "doc_type": pending.doc_type,
        "doc_number": pending.doc_number,
        "education_level": pending.education.level,
        "degree": pending.education.degree,
    }
    given = asdict(replace(confirmation, real_name=normalise_name(confirmation.real_name)))
    mismatched = [str(_CONFIRMATION_LABELS[f.name]) for f in fields(confirmation) if given[f.name] != expected[f.name]]
    if mismatched:
        raise KaowuError(
            "accounts.confirmation_mismatch",
            _("以下信息与您填写的不一致：%(fields)s。请核对后重新输入；如填写有误，请返回上一步修改。"),
            params={"fields": str(_("、")).join(mismatched)},
        )
    try:
        with transaction.atomic():
            _check_available(username=pending.username, doc_number=pending.doc_number, phone=pending.phone)
            user = User.objects.create(
                username=pending.username,
                password=pending.password_hash,
                real_name=pending.real_name,
                email=pending.email,
                phone=pending.phone,
            )
            profile = CandidateProfile.objects.create(
                user=user,
                doc_type=pending.doc_type,
                doc_number_encrypted=crypto.encrypt(pending.doc_number),
                doc_number_hash=document_number_hash(pending.doc_number),
                doc_number_masked=mask_document_number(pending.doc_number),
                gender=pending.gender,
                birth_date=pending.birth_date,
                identity_confirmed_at=timezone.now(),
                security_question=pending.security_question,
                security_answer_hash=pending.security_answer_hash,
            )
            EducationRecord.objects.create(user=user, **asdict(pending.education))
            for notice in _registration_notices(pending.accepted_notices):
                notice_accept(user=user, notice=notice)
            audit_record(
                actor=user,
                action="accounts.candidate.registered",
                obj=profile,
                after={
                    "username": user.username,
                    "doc_type": profile.doc_type,
                    "doc_number": profile.doc_number_masked,
                    "phone": mask_phone(pending.phone),
                    "notices": list(pending.accepted_notices),
                },
            )
    except IntegrityError as error:
        # Someone registered the same number, phone or name between our check and the insert.
        raise KaowuError(
            "accounts.duplicate",
            _("证件号码、手机号或用户名刚刚已被注册。如是您本人的账户，请通过“找回密码/账户”登录。"),
            status=409,
        ) from error
    return user


# --- Profile maintenance (ACC-6) -------------------------------------------------------------------


def candidate_update_contact(
    *, actor: User, user: User, email: str, address: str, postcode: str, work_unit: str
) -> None:
    """Change contact data; identity fields are not touched here (they are immutable)."""
    with transaction.atomic():
        profile = CandidateProfile.objects.select_for_update().get(user=user)
        before = {
            "email": user.email,
            "address": profile.address,
            "postcode": profile.postcode,
            "work_unit": profile.work_unit,
        }
        after = {"email": email, "address": address, "postcode": postcode, "work_unit": work_unit}
        old, new = _changes(before, after)
        if not new:
            return
        user.email = email
        user.save(update_fields=["email"])
        profile.address, profile.postcode, profile.work_unit = address, postcode, work_unit
        profile.save(update_fields=["address", "postcode", "work_unit", "updated_at"])
        audit_record(actor=actor, action="accounts.contact.changed", obj=profile, before=old, after=new)


def candidate_change_phone(*, actor: User, user: User, new_phone: str, sms_code: str) -> None:
    """Bind a new mobile number after a code sent to that number is verified.

    Side effects: audit ``accounts.phone.changed`` (masked); inbox message and an SMS to the *old*
    number, so a hijacked session cannot silently take over the account.
    """
    old_phone = user.phone
    if new_phone == old_phone:
        raise KaowuError("accounts.phone_same", _("新手机号与当前绑定的手机号相同。"), field="phone")
    if User.objects.filter(phone=new_phone).exclude(pk=user.pk).exists():
        raise _phone_taken()
    sms_code_verify(phone=new_phone, purpose=SmsPurpose.CHANGE_PHONE, code=sms_code)
    try:
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=user.pk).update(phone=new_phone)
            user.phone = new_phone
            audit_record(
                actor=actor,
                action="accounts.phone.changed",
                obj=user,
                before={"phone": mask_phone(old_phone or "")},
                after={"phone": mask_phone(new_phone)},
            )
            notify(
                user=user,
                event="phone_changed",
                title=str(_("绑定手机号已更换")),
                params={"time": _now_text(), "new_phone": mask_phone(new_phone)},
                sms_phone=old_phone,
            )
    except IntegrityError as error:
        user.phone = old_phone
        raise _phone_taken() from error


def candidate_change_security_question(
    *, actor: User, user: User, current_password: str, question: str, answer: str
) -> None:
    if not user.check_password(current_password):
        raise KaowuError("accounts.password_wrong", _("当前密码不正确。"), field="current_password")
    with transaction.atomic():
        profile = CandidateProfile.objects.select_for_update().get(user=user)
        old_question = profile.security_question
        profile.security_question = question.strip()
        profile.security_answer_hash = make_password(_normalise_answer(answer))
        profile.save(update_fields=["security_question", "security_answer_hash", "updated_at"])
        audit_record(
            actor=actor,
            action="accounts.security_question.changed",
            obj=profile,
            before={"security_question": old_question},
            after={"security_question": profile.security_question},
        )


def _set_password(*, actor: User, user: User, new_password: str, action: str) -> None:
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        audit_record(actor=actor, action=action, obj=user)
        notify(user=user, event="password_changed", title=str(_("账户密码已修改")), params={"time": _now_text()})


def password_change(*, actor: User, user: User, old_password: str, new_password: str) -> None:
    """Change a signed-in user's password (the view keeps the session valid afterwards)."""
    if not user.check_password(old_password):
        raise KaowuError("accounts.password_wrong", _("当前密码不正确。"), field="old_password")
    _validate_new_password(new_password, user, field="new_password1")
    _set_password(actor=actor, user=user, new_password=new_password, action="accounts.password.changed")


def password_reset(*, user: User, new_password: str) -> None:
    """Set a new password after account recovery proved who the person is (ACC-5).

    Also lifts a login lockout of the account: the lockout page offers recovery as the way back in.
    """
    _validate_new_password(new_password, user, field="new_password1")
    _set_password(actor=user, user=user, new_password=new_password, action="accounts.password.reset")
    axes_reset(username=user.username)


def education_record_add(*, actor: User, user: User, data: EducationData) -> EducationRecord:
    with transaction.atomic():
        record = EducationRecord.objects.create(user=user, **asdict(data))
        audit_record(actor=actor, action="accounts.education.added", obj=record, after=_education_audit(record))
    return record


def education_record_update(*, actor: User, record: EducationRecord, data: EducationData) -> None:
    with transaction.atomic():
        before = _education_audit(record)
        for key, value in asdict(data).items():
            setattr(record, key, value)
        record.save()
        old, new = _changes(before, _education_audit(record))
        if new:
            audit_record(actor=actor, action="accounts.education.changed", obj=record, before=old, after=new)


def education_record_delete(*, actor: User, record: EducationRecord) -> None:
    """Remove an education record; the last one cannot go (at least one is required, seed 002)."""
    with transaction.atomic():
        # Lock the owner's row so two concurrent deletes cannot both see "one more left".
        User.objects.select_for_update().filter(pk=record.user_id).first()
        if EducationRecord.objects.filter(user_id=record.user_id).count() <= 1:
            raise KaowuError(
                "accounts.education_last",
                _("至少需要保留一条学历信息。如需更正，请先添加正确的学历，再删除这一条。"),
                status=409,
            )
        before = _education_audit(record)
        record.delete()
        audit_record(actor=actor, action="accounts.education.deleted", before=before)


def _education_audit(record: EducationRecord) -> dict[str, Any]:
    return {
        "id": record.pk,
        "level": record.level,
        "degree": record.degree,
        "school": record.school,
        "major": record.major,
        "graduated_on": record.graduated_on.isoformat(),
        "study_mode": record.study_mode,
    }


# --- Photo and scans (ACC-7, ACC-8) -----------------------------------------------------------------


def photo_upload(*, actor: User, user: User, data: bytes, size: int | None = None) -> PhotoReport:
    """Check an uploaded ID photo and, if every check passes, make its standard version the user's photo.

    Returns the report either way (the view shows each check). When a check fails nothing is stored.
    The upload itself is never kept, only the standard photo; a replaced photo's file is deleted after
    commit. Audit: ``accounts.photo.uploaded``.
    """
    report = check_and_standardise_photo(data, size=size)
    if not report.ok or report.photo is None:
        return report
    standard = report.photo
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        photo = Photo.objects.filter(user=user).first() or Photo(user=user)
        if photo.image:
            _delete_file_after_commit(photo.image.name)
        photo.width, photo.height, photo.size_bytes = standard.width, standard.height, len(standard.jpeg)
        photo.background = standard.background
        photo.source_width, photo.source_height = standard.source_width, standard.source_height
        photo.source_bytes = standard.source_bytes
        photo.image.save("photo.jpg", ContentFile(standard.jpeg), save=False)
        photo.save()
        audit_record(
            actor=actor,
            action="accounts.photo.uploaded",
            obj=photo,
            after={"background": photo.background, "size_bytes": photo.size_bytes},
        )
    return report


def scan_upload(
    *, actor: User, user: User, kind: str, name: str, data: bytes, size: int | None = None, description: str = ""
) -> Scan:
    """Store a scan after checking its real type (by content) and size. Audit: ``accounts.scan.uploaded``.

    ``size`` is the upload's real size when ``data`` was read only up to just past the limit.
    """
    info = inspect_scan(data, size=size)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        if Scan.objects.filter(user=user).count() >= MAX_SCANS_PER_USER:
            raise KaowuError(
                "accounts.too_many_scans",
                _("扫描件已达 %(limit)s 份上限，请先删除不再需要的扫描件。"),
                params={"limit": MAX_SCANS_PER_USER},
                status=409,
            )
        scan = Scan(
            user=user,
            kind=kind,
            content_type=info.content_type,
            size_bytes=len(data),
            original_name=name[-200:],
            description=description,
        )
        scan.file.save(f"scan.{info.extension}", ContentFile(data), save=False)
        scan.save()
        audit_record(
            actor=actor,
            action="accounts.scan.uploaded",
            obj=scan,
            after={"kind": kind, "content_type": info.content_type, "size_bytes": len(data)},
        )
    return scan


def candidate_file_access_record(*, actor: User, obj: Photo | Scan) -> None:
    """Record that staff opened a candidate's photo or scan (X-5: access to personal data is logged).

    A candidate looking at their own files is not recorded. Audit: ``accounts.photo.viewed`` or
    ``accounts.scan.viewed``.
    """
    if actor.pk == obj.user_id:
        return
    kind = "photo" if isinstance(obj, Photo) else "scan"
    audit_record(actor=actor, action=f"accounts.{kind}.viewed", obj=obj, after={"owner": obj.user_id})


def scan_delete(*, actor: User, scan: Scan) -> None:
    with transaction.atomic():
        before = {"id": scan.pk, "kind": scan.kind, "original_name": scan.original_name}
        _delete_file_after_commit(scan.file.name)
        scan.delete()
        audit_record(actor=actor, action="accounts.scan.deleted", before=before)


# --- Recovery (ACC-5) ---------------------------------------------------------------------------------

_RECOVERY_FAILED = _("姓名、证件号码、手机号或验证码不正确，请核对后重试。")


def recovery_send_code(*, real_name: str, doc_number: str, phone: str) -> None:
    """Text a recovery code to ``phone`` if it is the bound phone of the account with this name and number.

    The caller always answers the same way ("if the details match, a code was sent"), and a non-match
    still counts towards the rate limits, so neither reveals whether such an account exists.
    """
    user = find_candidate(real_name=real_name, doc_number=doc_number)
    matched = user is not None and user.phone == phone
    sms_code_send(phone=phone, purpose=SmsPurpose.RECOVER, deliver=matched)


def recovery_verify_sms(*, real_name: str, doc_number: str, phone: str, sms_code: str) -> User:
    """The account that the name, number, bound phone and recovery code prove; one generic error otherwise."""
    try:
        sms_code_verify(phone=phone, purpose=SmsPurpose.RECOVER, code=sms_code)
    except KaowuError as error:
        raise KaowuError("accounts.recovery_failed", _RECOVERY_FAILED, field="sms_code") from error
    user = find_candidate(real_name=real_name, doc_number=doc_number)
    if user is None or user.phone != phone or not user.is_active:
        raise KaowuError("accounts.recovery_failed", _RECOVERY_FAILED, field="sms_code")
    return user


def recovery_check_answer(*, user: User, answer: str) -> None:
    """Accept the security answer or raise; after 5 wrong answers within an hour, refuse for an hour."""
    key = f"kaowu:recovery-answer:{user.pk}"
    failures = cache.get(key, 0)
    if failures >= RECOVERY_ANSWER_ATTEMPTS:
        raise KaowuError(
            "accounts.recovery_locked",
            _("答案错误次数过多，请一小时后再试，或改用短信验证码找回。"),
            field="answer",
            status=429,
        )
    if not check_password(_normalise_answer(answer), user.candidate_profile.security_answer_hash):
        cache.set(key, failures + 1, timeout=60 * 60)
        raise KaowuError("accounts.answer_wrong", _("答案不正确，请重新输入。"), field="answer")
    cache.delete(key)


def registration_sms_send(*, phone: str) -> None:
    """Send a registration code, refusing at once if the phone is already bound (as the seeds do)."""
    if User.objects.filter(phone=phone).exists():
        raise _phone_taken()
    sms_code_send(phone=phone, purpose=SmsPurpose.REGISTER)


def change_phone_sms_send(*, user: User, phone: str) -> None:
    if phone == user.phone:
        raise KaowuError("accounts.phone_same", _("新手机号与当前绑定的手机号相同。"), field="phone")
    if User.objects.filter(phone=phone).exists():
        raise _phone_taken()
    sms_code_send(phone=phone, purpose=SmsPurpose.CHANGE_PHONE)
