"""Candidate account pages. Each view parses input, fetches with a permission check, calls one service
and renders; a ``KaowuError`` becomes a message on the field it names."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate as django_authenticate
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from kaowu.catalog.models import NoticeKind, NoticeVersion
from kaowu.catalog.selectors import notice_current
from kaowu.core.errors import KaowuError

from . import selectors, services
from .forms import (
    SECURITY_QUESTIONS,
    AgreementForm,
    ChangePhoneForm,
    ConfirmationForm,
    ContactForm,
    EducationForm,
    LoginForm,
    NewPasswordFieldsForm,
    PasswordChangeForm,
    PhotoForm,
    RecoveryAnswerForm,
    RecoveryLookupForm,
    RecoverySmsForm,
    RegistrationForm,
    ScanForm,
    SecurityQuestionForm,
)
from .models import User

REGISTRATION_SESSION_KEY = "kaowu_registration"
RECOVERY_SESSION_KEY = "kaowu_recovery"
RECOVERY_LOOKUP_SESSION_KEY = "kaowu_recovery_lookup"
RECOVERY_TTL = timedelta(minutes=10)

POST_LIMIT = "30/h"  # per IP, for every anonymous form that checks identity or sends a code


def _apply_error(form, error: KaowuError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def _send_code(
    request: HttpRequest, form, send: Callable[[str], None], *, sent_text: str | None = None
) -> HttpResponse | None:
    """Handle the "获取验证码" button of a form with a phone field.

    With htmx the button posts only the phone and gets back a status line; without JavaScript it submits
    the whole form, which is shown again with the status. Returns None when the request is not a send.
    """
    if request.POST.get("action") != "send_code":
        return None
    ok, text = False, ""
    try:
        send(form.fields["phone"].clean(request.POST.get(form.add_prefix("phone"), "")))
        ok, text = True, sent_text or _("验证码已发送，5 分钟内有效。如未收到，请 1 分钟后重新获取。")
    except KaowuError as error:
        text = error.message
    except ValidationError as error:
        text = " ".join(error.messages)
    context = {"ok": ok, "text": text}
    if request.htmx:
        return render(request, "accounts/_sms_status.html", context)
    form.sms_status = context
    return None


# --- Registration --------------------------------------------------------------------------------------


def _registration(request: HttpRequest) -> dict:
    return request.session.get(REGISTRATION_SESSION_KEY, {})


def _save_registration(request: HttpRequest, state: dict) -> None:
    request.session[REGISTRATION_SESSION_KEY] = state


def _platform_notice(kind: str) -> NoticeVersion:
    notice = notice_current(None, kind)
    if notice is None:
        raise KaowuError(
            "accounts.registration_unavailable",
            _("平台尚未发布用户协议或注册须知，暂时无法注册。请稍后再试或联系考试机构。"),
            status=503,
        )
    return notice


@ratelimit(key="ip", rate=POST_LIMIT, method="POST", block=True)
def register_agreement(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:home")
    agreement = _platform_notice(NoticeKind.USER_AGREEMENT)
    form = AgreementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _save_registration(request, {"notices": [agreement.pk], "step": "notice"})
        return redirect("accounts:register_notice")
    return render(request, "accounts/register_agreement.html", {"form": form, "step": 1, "notice": agreement})


def register_notice(request: HttpRequest) -> HttpResponse:
    state = _registration(request)
    if not state:
        return redirect("accounts:register")
    notice = _platform_notice(NoticeKind.REGISTRATION_NOTICE)
    if request.method == "POST":
        # The version shown is the one accepted; recorded when the account is created.
        state.update(step="form", notices=[state["notices"][0], notice.pk])
        _save_registration(request, state)
        return redirect("accounts:register_form")
    return render(request, "accounts/register_notice.html", {"step": 2, "notice": notice})


@ratelimit(key="ip", rate=POST_LIMIT, method="POST", block=True)
def register_form(request: HttpRequest) -> HttpResponse:
    state = _registration(request)
    if state.get("step") not in {"form", "confirm"}:
        return redirect("accounts:register")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST":
        sent = _send_code(request, form, lambda phone: services.registration_sms_send(phone=phone))
        if sent is not None:
            return sent
        if getattr(form, "sms_status", None) is None and form.is_valid():
            data = form.cleaned_data
            try:
                pending = services.registration_start(
                    username=data["username"],
                    doc_type=data["doc_type"],
                    doc_number=data["doc_number"],
                    real_name=data["real_name"],
                    gender=data["gender"],
                    birth_date=data["birth_date"],
                    phone=data["phone"],
                    sms_code=data["sms_code"],
                    email=data["email"],
                    password=data["password1"],
                    security_question=data["security_question"],
                    security_answer=data["security_answer"],
                    education=form.education_data(),
                    accepted_notices=state["notices"],
                )
            except KaowuError as error:
                _apply_error(form, error)
            else:
                state.update(step="confirm", pending=pending.to_session())
                _save_registration(request, state)
                return redirect("accounts:register_confirm")
    return render(
        request,
        "accounts/register_form.html",
        {"form": form, "step": 3, "security_questions": SECURITY_QUESTIONS},
    )


@ratelimit(key="ip", rate=POST_LIMIT, method="POST", block=True)
def register_confirm(request: HttpRequest) -> HttpResponse:
    state = _registration(request)
    if state.get("step") != "confirm" or "pending" not in state:
        return redirect("accounts:register")
    pending = services.PendingRegistration.from_session(state["pending"])
    form = ConfirmationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.candidate_register(pending=pending, confirmation=form.confirmation())
        except KaowuError as error:
            if error.code == "catalog.notice_outdated":
                # A new version came out while they were filling in: they must read and accept it.
                del request.session[REGISTRATION_SESSION_KEY]
                messages.warning(request, error.message)
                return redirect("accounts:register")
            _apply_error(form, error)
        else:
            del request.session[REGISTRATION_SESSION_KEY]
            messages.success(request, _("注册成功！请使用用户名或证件号码登录。"))
            return redirect("accounts:login")
    return render(request, "accounts/register_confirm.html", {"form": form, "step": 4, "pending": pending})


# --- Login and logout -------------------------------------------------------------------------------------


def lockout_response(request: HttpRequest, original_response=None, credentials=None, *args, **kwargs) -> HttpResponse:
    """django-axes' answer to a locked-out login: when the person may try again, status 429."""
    until = timezone.localtime(timezone.now() + timedelta(hours=settings.AXES_COOLOFF_TIME))
    message = _("登录失败次数过多，账户已暂时锁定。请于 %(time)s 后再试，或通过“找回密码/账户”重置密码。") % {
        "time": until.strftime("%H:%M")
    }
    return render(request, "core/error.html", {"error": {"message": message, "code": "locked"}}, status=429)


@ratelimit(key="ip", rate="60/h", method="POST", block=True)
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # django-axes counts failures per (username as given, IP): name the account itself, so that typing
        # "CAND1", "Cand1" or the ID number instead of "cand1" does not start a fresh count.
        identifier = form.cleaned_data["username"]
        account = selectors.find_user_by_login_identifier(identifier)
        user = django_authenticate(
            request,
            username=account.username if account is not None else identifier,
            password=form.cleaned_data["password"],
        )
        if user is None:
            form.add_error(None, _("用户名（或证件号码）或密码不正确。连续输错多次账户将被暂时锁定。"))
        else:
            login(request, user)
            next_url = request.POST.get("next") or request.GET.get("next")
            # Seed 002: a candidate without a photo goes to the photo page right after login.
            if user.is_candidate and not hasattr(user, "photo"):
                messages.info(request, _("请先上传证件照片，通过检查后即可报名。"))
                return redirect("accounts:photo")
            if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
                return redirect(next_url)
            return redirect(_landing_page(user))
    return render(request, "accounts/login.html", {"form": form, "next": request.GET.get("next", "")})


def _landing_page(user) -> str:
    """Where a login without ``next`` lands: candidates their centre, reviewers the review queue, finance
    staff the finance orders, other staff the back office."""
    from kaowu.applications.selectors import is_reviewer
    from kaowu.payments.finance.selectors import has_finance_role

    if user.is_candidate:
        return "accounts:home"
    if is_reviewer(user):
        return "review:queue"
    if has_finance_role(user):
        return "finance:orders"
    return "admin:index" if user.is_staff else "home"


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("home")


# --- Candidate centre (ACC-6) --------------------------------------------------------------------------


def candidate_required(view):
    """Login required, and the user must be a candidate (staff have the back office instead)."""

    @login_required
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_candidate:
            return render(
                request,
                "core/error.html",
                {"error": {"message": _("此页面仅供考生使用。"), "code": "not_candidate"}},
                status=403,
            )
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@candidate_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "accounts/home.html",
        {
            "profile": user.candidate_profile,
            "education_records": selectors.education_records_of(user),
            "has_photo": hasattr(user, "photo"),
            "notifications": user.notifications.all()[:5],
        },
    )


@candidate_required
def contact_edit(request: HttpRequest) -> HttpResponse:
    user, profile = request.user, request.user.candidate_profile
    initial = {
        "email": user.email,
        "address": profile.address,
        "postcode": profile.postcode,
        "work_unit": profile.work_unit,
    }
    form = ContactForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.candidate_update_contact(actor=user, user=user, **form.cleaned_data)
        messages.success(request, _("联系信息已保存。"))
        return redirect("accounts:home")
    return render(request, "accounts/form_page.html", {"form": form, "title": _("修改联系信息")})


@candidate_required
@ratelimit(key="user", rate="20/h", method="POST", block=True)
def phone_change(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ChangePhoneForm(request.POST or None)
    if request.method == "POST":
        sent = _send_code(request, form, lambda phone: services.change_phone_sms_send(user=user, phone=phone))
        if sent is not None:
            return sent
        if getattr(form, "sms_status", None) is None and form.is_valid():
            try:
                services.candidate_change_phone(
                    actor=user, user=user, new_phone=form.cleaned_data["phone"], sms_code=form.cleaned_data["sms_code"]
                )
            except KaowuError as error:
                _apply_error(form, error)
            else:
                messages.success(request, _("手机号已更换。原手机号将收到一条提醒短信。"))
                return redirect("accounts:home")
    return render(request, "accounts/phone_change.html", {"form": form})


@candidate_required
def security_question_change(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = SecurityQuestionForm(request.POST or None, initial={"question": user.candidate_profile.security_question})
    if request.method == "POST" and form.is_valid():
        try:
            services.candidate_change_security_question(actor=user, user=user, **form.cleaned_data)
        except KaowuError as error:
            _apply_error(form, error)
        else:
            messages.success(request, _("密码找回问题已修改。"))
            return redirect("accounts:home")
    return render(
        request,
        "accounts/form_page.html",
        {"form": form, "title": _("修改密码找回问题"), "security_questions": SECURITY_QUESTIONS},
    )


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(
                actor=user,
                user=user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"],
            )
        except KaowuError as error:
            _apply_error(form, error)
        else:
            update_session_auth_hash(request, user)
            messages.success(request, _("密码已修改。"))
            return redirect("accounts:home" if user.is_candidate else "home")
    return render(request, "accounts/form_page.html", {"form": form, "title": _("修改密码")})


@candidate_required
def education_add(request: HttpRequest) -> HttpResponse:
    form = EducationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.education_record_add(actor=request.user, user=request.user, data=form.education_data())
        messages.success(request, _("学历信息已添加。"))
        return redirect("accounts:home")
    return render(request, "accounts/form_page.html", {"form": form, "title": _("添加学历学位")})


@candidate_required
def education_edit(request: HttpRequest, pk: int) -> HttpResponse:
    record = selectors.get_education_record_for(request.user, pk)
    form = EducationForm.for_record(record, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.education_record_update(actor=request.user, record=record, data=form.education_data())
        messages.success(request, _("学历信息已保存。"))
        return redirect("accounts:home")
    return render(
        request, "accounts/form_page.html", {"form": form, "title": _("修改学历学位"), "delete_record": record}
    )


@candidate_required
@require_POST
def education_delete(request: HttpRequest, pk: int) -> HttpResponse:
    record = selectors.get_education_record_for(request.user, pk)
    try:
        services.education_record_delete(actor=request.user, record=record)
    except KaowuError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("学历信息已删除。"))
    return redirect("accounts:home")


# --- Photo and scans (ACC-7, ACC-8) -----------------------------------------------------------------------


def _read_upload(upload, limit: int) -> bytes:
    # Read one byte past the limit: enough for the size check to refuse, never the whole of a huge file.
    return upload.read(limit + 1)


@candidate_required
@ratelimit(key="user", rate="30/h", method="POST", block=True)
def photo(request: HttpRequest) -> HttpResponse:
    form = PhotoForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["photo"]
        data = _read_upload(upload, settings.KAOWU_PHOTO["MAX_UPLOAD_BYTES"])
        report = services.photo_upload(actor=request.user, user=request.user, data=data, size=upload.size)
        if report.ok:
            messages.success(request, _("照片已通过检查，并已自动处理为标准证件照。"))
            return redirect("accounts:photo")
    current = getattr(request.user, "photo", None)
    return render(request, "accounts/photo.html", {"form": form, "report": report, "current": current})


@login_required
def photo_image(request: HttpRequest, user_id: int) -> FileResponse:
    found = selectors.get_photo_for(request.user, user_id)
    services.candidate_file_access_record(actor=request.user, obj=found)
    response = FileResponse(found.image.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


@candidate_required
@ratelimit(key="user", rate="60/h", method="POST", block=True)
def scans(request: HttpRequest) -> HttpResponse:
    form = ScanForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            services.scan_upload(
                actor=request.user,
                user=request.user,
                kind=form.cleaned_data["kind"],
                name=upload.name,
                data=_read_upload(upload, settings.KAOWU_SCAN["MAX_UPLOAD_BYTES"]),
                size=upload.size,
                description=form.cleaned_data["description"],
            )
        except KaowuError as error:
            _apply_error(form, error)
        else:
            messages.success(request, _("扫描件已上传。"))
            return redirect("accounts:scans")
    return render(request, "accounts/scans.html", {"form": form, "scans": request.user.scans.all()})


@login_required
def scan_file(request: HttpRequest, pk: int) -> FileResponse:
    scan = selectors.get_scan_for(request.user, pk)
    services.candidate_file_access_record(actor=request.user, obj=scan)
    response = FileResponse(scan.file.open("rb"), content_type=scan.content_type)
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@candidate_required
@require_POST
def scan_delete(request: HttpRequest, pk: int) -> HttpResponse:
    scan = selectors.get_scan_for(request.user, pk)
    if scan.user_id != request.user.pk:  # staff may view a scan, never delete a candidate's
        return redirect("accounts:scans")
    services.scan_delete(actor=request.user, scan=scan)
    messages.success(request, _("扫描件已删除。"))
    return redirect("accounts:scans")


# --- Recovery (ACC-5) -------------------------------------------------------------------------------------


def recover(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/recover.html")


def _start_reset(request: HttpRequest, user: User) -> HttpResponse:
    request.session[RECOVERY_SESSION_KEY] = {"user": user.pk, "at": timezone.now().isoformat()}
    request.session.pop(RECOVERY_LOOKUP_SESSION_KEY, None)
    return redirect("accounts:recover_reset")


def _session_user(request: HttpRequest, key: str) -> User | None:
    state = request.session.get(key)
    if not state or timezone.now() - datetime.fromisoformat(state["at"]) > RECOVERY_TTL:
        request.session.pop(key, None)
        return None
    return User.objects.filter(pk=state["user"], is_active=True).first()


@ratelimit(key="ip", rate=POST_LIMIT, method="POST", block=True)
def recover_sms(request: HttpRequest) -> HttpResponse:
    form = RecoverySmsForm(request.POST or None)
    if request.method == "POST":

        def send(phone: str) -> None:
            services.recovery_send_code(
                real_name=request.POST.get("real_name", ""), doc_number=request.POST.get("doc_number", ""), phone=phone
            )

        sent = _send_code(
            request, form, send, sent_text=_("如姓名、证件号码与该手机号属于同一账户，验证码已发送，5 分钟内有效。")
        )
        if sent is not None:
            return sent
        if getattr(form, "sms_status", None) is None and form.is_valid():
            data = form.cleaned_data
            try:
                user = services.recovery_verify_sms(
                    real_name=data["real_name"],
                    doc_number=data["doc_number"],
                    phone=data["phone"],
                    sms_code=data["sms_code"],
                )
            except KaowuError as error:
                _apply_error(form, error)
            else:
                return _start_reset(request, user)
    return render(request, "accounts/recover_sms.html", {"form": form})


@ratelimit(key="ip", rate=POST_LIMIT, method="POST", block=True)
def recover_question(request: HttpRequest) -> HttpResponse:
    form = RecoveryLookupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = selectors.find_candidate(
            real_name=form.cleaned_data["real_name"], doc_number=form.cleaned_data["doc_number"]
        )
        if user is None:
            form.add_error(None, _("未找到与该姓名和证件号码匹配的账户，请核对后重试，或重新注册。"))
        else:
            request.session[RECOVERY_LOOKUP_SESSION_KEY] = {"user": user.pk, "at": timezone.now().isoformat()}
            return redirect("accounts:recover_answer")
    return render(request, "accounts/form_page.html", {"form": form, "title": _("通过密码找回问题找回")})


@ratelimit(key="ip", rate=POST_LIMIT, method="POST", block=True)
def recover_answer(request: HttpRequest) -> HttpResponse:
    user = _session_user(request, RECOVERY_LOOKUP_SESSION_KEY)
    if user is None:
        return redirect("accounts:recover_question")
    form = RecoveryAnswerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.recovery_check_answer(user=user, answer=form.cleaned_data["answer"])
        except KaowuError as error:
            _apply_error(form, error)
        else:
            return _start_reset(request, user)
    return render(
        request,
        "accounts/form_page.html",
        {"form": form, "title": _("回答密码找回问题"), "lead": user.candidate_profile.security_question},
    )


@ratelimit(key="ip", rate=POST_LIMIT, method="POST", block=True)
def recover_reset(request: HttpRequest) -> HttpResponse:
    user = _session_user(request, RECOVERY_SESSION_KEY)
    if user is None:
        messages.info(request, _("找回流程已过期，请重新验证身份。"))
        return redirect("accounts:recover")
    form = NewPasswordFieldsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_reset(user=user, new_password=form.cleaned_data["new_password1"])
        except KaowuError as error:
            _apply_error(form, error)
        else:
            del request.session[RECOVERY_SESSION_KEY]
            messages.success(request, _("密码已重置，请使用新密码登录。"))
            return redirect(reverse("accounts:login"))
    return render(request, "accounts/recover_reset.html", {"form": form, "recovered": user})
