"""Forms parse and validate single fields; business rules (uniqueness, codes, passwords) live in services."""

from __future__ import annotations

from captcha.fields import CaptchaField
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from kaowu.core.documents import GB11643_TYPES, DocumentType
from kaowu.core.forms import KaowuForm
from kaowu.core.validators import (
    normalize_document_number,
    normalize_mobile,
    validate_document_number,
    validate_mainland_mobile,
)

from .models import Degree, EducationLevel, EducationRecord, Gender, ScanKind, StudyMode, username_validator
from .services import EducationData, IdentityConfirmation

SECURITY_QUESTIONS = [
    _("我母亲的姓名是？"),
    _("我父亲的姓名是？"),
    _("我的小学校名是？"),
    _("我的出生地是？"),
    _("我最喜欢的一本书是？"),
    _("我配偶的生日是？"),
]


def _captcha() -> CaptchaField:
    return CaptchaField(
        label=_("图片验证码"),
        help_text=_("请输入图片中的字符，看不清可点击“换一张”。"),
        error_messages={"invalid": _("图片验证码不正确，请重新输入。")},
    )


class MobileField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("手机号码"))
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "tel", "autocomplete": "tel"})

    def clean(self, value):
        value = normalize_mobile(super().clean(value) or "")
        if value:
            validate_mainland_mobile(value)
        return value


class SmsCodeField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(label=_("短信验证码"), max_length=6, min_length=6, **kwargs)
        self.widget.attrs.update({"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]{6}"})


class DocumentNumberField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(label=_("证件号码"), max_length=40, **kwargs)
        self.widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})


class EducationFieldsMixin(forms.Form):
    """The fields of one education record (学历学位), shared by registration and profile maintenance."""

    edu_level = forms.ChoiceField(label=_("学历"), choices=EducationLevel.choices)
    edu_degree = forms.ChoiceField(label=_("学位"), choices=Degree.choices)
    edu_school = forms.CharField(label=_("毕业院校"), max_length=100)
    edu_major = forms.CharField(label=_("所学专业"), max_length=100)
    edu_graduated_on = forms.DateField(
        label=_("毕业时间"), widget=forms.DateInput(attrs={"type": "date"}), help_text=_("以毕业证书上的日期为准。")
    )
    edu_study_mode = forms.ChoiceField(label=_("学习形式"), choices=StudyMode.choices)

    def education_data(self) -> EducationData:
        data = self.cleaned_data
        return EducationData(
            level=data["edu_level"],
            degree=data["edu_degree"],
            school=data["edu_school"].strip(),
            major=data["edu_major"].strip(),
            graduated_on=data["edu_graduated_on"],
            study_mode=data["edu_study_mode"],
        )


class AgreementForm(KaowuForm):
    accept = forms.BooleanField(
        label=_("我已仔细阅读并同意《用户协议》"),
        error_messages={"required": _("请先阅读并勾选同意用户协议。")},
    )


class RegistrationForm(EducationFieldsMixin, KaowuForm):
    username = forms.CharField(
        label=_("用户名"),
        max_length=30,
        validators=[username_validator],
        help_text=_("4–30 位字母、数字或下划线，以字母开头。登录时也可使用证件号码。"),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    real_name = forms.CharField(
        label=_("真实姓名"),
        max_length=64,
        help_text=_("与证件一致。生僻字请直接输入（如“𠀀”），无法输入时用同音字加中括号代替，如 王晓[沛]。"),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    doc_type = forms.ChoiceField(label=_("证件类型"), choices=DocumentType.choices, initial=DocumentType.ID_CARD)
    doc_number = DocumentNumberField()
    gender = forms.ChoiceField(
        label=_("性别"),
        choices=[("", "—"), *Gender.choices],
        required=False,
        help_text=_("使用居民身份证或居住证时无需填写，系统根据证件号码确定。"),
    )
    birth_date = forms.DateField(
        label=_("出生日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("使用居民身份证或居住证时无需填写。"),
    )
    phone = MobileField(help_text=_("一个手机号只能绑定一个账户，注册后用于找回密码和接收通知。"))
    sms_code = SmsCodeField()
    email = forms.EmailField(label=_("电子邮箱"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = forms.CharField(
        label=_("密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("至少 8 位，须同时包含字母和数字，不能使用证件号码或常见密码。"),
    )
    password2 = forms.CharField(
        label=_("确认密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    security_question = forms.CharField(
        label=_("密码找回问题"),
        max_length=100,
        help_text=_("可从列表中选择，也可自己填写一个问题。"),
        widget=forms.TextInput(attrs={"list": "security-questions"}),
    )
    security_answer = forms.CharField(label=_("问题答案"), max_length=100)
    captcha = _captcha()

    field_order = [
        "username",
        "real_name",
        "doc_type",
        "doc_number",
        "gender",
        "birth_date",
        "phone",
        "sms_code",
        "email",
        "password1",
        "password2",
        "edu_level",
        "edu_degree",
        "edu_school",
        "edu_major",
        "edu_graduated_on",
        "edu_study_mode",
        "security_question",
        "security_answer",
        "captcha",
    ]

    def clean(self):
        data = super().clean()
        doc_type, number = data.get("doc_type"), data.get("doc_number")
        if doc_type and number:
            try:
                data["doc_number"] = validate_document_number(doc_type, number)
            except ValidationError as error:
                self.add_error("doc_number", error)
        if doc_type and doc_type not in GB11643_TYPES:
            if not data.get("gender"):
                self.add_error("gender", _("请选择性别。"))
            if not data.get("birth_date"):
                self.add_error("birth_date", _("请填写出生日期。"))
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", _("两次输入的密码不一致。"))
        return data


class ConfirmationForm(KaowuForm):
    """The second confirmation: the candidate types the identity fields again (seed 002, 图 1-6)."""

    real_name = forms.CharField(label=_("真实姓名"), max_length=64)
    doc_type = forms.ChoiceField(label=_("证件类型"), choices=DocumentType.choices)
    doc_number = DocumentNumberField()
    education_level = forms.ChoiceField(label=_("学历"), choices=EducationLevel.choices)
    degree = forms.ChoiceField(label=_("学位"), choices=Degree.choices)

    def confirmation(self) -> IdentityConfirmation:
        data = self.cleaned_data
        return IdentityConfirmation(
            real_name=data["real_name"],
            doc_type=data["doc_type"],
            doc_number=normalize_document_number(data["doc_type"], data["doc_number"]),
            education_level=data["education_level"],
            degree=data["degree"],
        )


class LoginForm(KaowuForm):
    username = forms.CharField(
        label=_("用户名或证件号码"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    captcha = _captcha()


class ContactForm(KaowuForm):
    email = forms.EmailField(label=_("电子邮箱"))
    address = forms.CharField(label=_("通讯地址"), max_length=200, required=False)
    postcode = forms.RegexField(
        label=_("邮政编码"),
        regex=r"^[0-9]{6}$",
        required=False,
        error_messages={"invalid": _("邮政编码为 6 位数字。")},
    )
    work_unit = forms.CharField(label=_("工作单位"), max_length=100, required=False)


class ChangePhoneForm(KaowuForm):
    phone = MobileField(label=_("新手机号码"))
    sms_code = SmsCodeField(help_text=_("验证码将发送到新手机号。"))


class SecurityQuestionForm(KaowuForm):
    current_password = forms.CharField(
        label=_("当前密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    question = forms.CharField(
        label=_("密码找回问题"), max_length=100, widget=forms.TextInput(attrs={"list": "security-questions"})
    )
    answer = forms.CharField(label=_("问题答案"), max_length=100)


class NewPasswordFieldsForm(KaowuForm):
    new_password1 = forms.CharField(
        label=_("新密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("至少 8 位，须同时包含字母和数字，不能使用证件号码或常见密码。"),
    )
    new_password2 = forms.CharField(
        label=_("确认新密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password2") and data["new_password1"] != data["new_password2"]:
            self.add_error("new_password2", _("两次输入的密码不一致。"))
        return data


class PasswordChangeForm(NewPasswordFieldsForm):
    old_password = forms.CharField(
        label=_("当前密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    field_order = ["old_password", "new_password1", "new_password2"]


class EducationForm(EducationFieldsMixin, KaowuForm):
    @classmethod
    def for_record(cls, record: EducationRecord, **kwargs) -> EducationForm:
        initial = {
            "edu_level": record.level,
            "edu_degree": record.degree,
            "edu_school": record.school,
            "edu_major": record.major,
            "edu_graduated_on": record.graduated_on,
            "edu_study_mode": record.study_mode,
        }
        return cls(initial=initial, **kwargs)


class PhotoForm(KaowuForm):
    photo = forms.FileField(
        label=_("选择照片"),
        help_text=_(
            "JPG/JPEG 格式，红色、白色或蓝色纯色背景，正面免冠，像素不小于 215×300。系统会自动裁剪压缩为标准证件照。"
        ),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg", "capture": "user"}),
    )


class ScanForm(KaowuForm):
    kind = forms.ChoiceField(label=_("材料类型"), choices=ScanKind.choices)
    file = forms.FileField(
        label=_("选择文件"),
        help_text=_("JPG、PNG 或 PDF，不超过 5 MB。身份证正反面可合并在一张图片中。"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"}),
    )
    description = forms.CharField(label=_("说明（选填）"), max_length=100, required=False)


class RecoverySmsForm(KaowuForm):
    real_name = forms.CharField(label=_("真实姓名"), max_length=64)
    doc_number = DocumentNumberField()
    phone = MobileField(label=_("注册时绑定的手机号码"))
    sms_code = SmsCodeField()
    captcha = _captcha()


class RecoveryLookupForm(KaowuForm):
    real_name = forms.CharField(label=_("真实姓名"), max_length=64)
    doc_number = DocumentNumberField()
    captcha = _captcha()


class RecoveryAnswerForm(KaowuForm):
    answer = forms.CharField(label=_("答案"), max_length=100)
