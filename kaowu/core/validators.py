"""Validators for Chinese identity document numbers, credit codes and mobile numbers.

The check-digit logic here is written in-house on purpose:

* Off-the-shelf validators (e.g. ``python-stdnum``'s ``cn.ric``) check positions 1-6 against a bundled list of
  county codes. Counties are merged and abolished all the time, but people keep the ID number they were issued,
  so such a list rejects real, valid numbers. We only check the province-level prefix, which is stable.
* The rules are short, fully specified by national standards (GB 11643-1999, GB 32100-2015) and easy to test
  exhaustively, so owning them costs less than working around a dependency's policy choices.

Mobile numbers are the exception: carrier number ranges change often, so that check defers to ``phonenumbers``
(kept current by upstream metadata releases) on top of a simple shape check.

All user-facing messages are Chinese, say what is wrong and what to do, and every ``ValidationError`` carries a
stable ``code`` so that forms and API clients can react to the specific problem.
"""

from __future__ import annotations

import datetime
import re
import unicodedata

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kaowu.core.documents import DocumentType

__all__ = [
    "id_card_birth_date",
    "id_card_gender",
    "normalize_document_number",
    "normalize_mobile",
    "validate_document_number",
    "validate_id_card_number",
    "validate_mainland_mobile",
    "validate_uscc",
]

# --- GB 11643-1999 (citizen identity number) -------------------------------------------------------------------

#: Province-level administrative division codes (GB/T 2260) valid as the first two digits of an ID number.
#: 71 = 台湾, 81 = 香港, 82 = 澳门; 83 is used by 港澳台居民居住证 for Taiwan residents.
PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82", "83",
    }
)  # fmt: skip

#: Prefixes of 港澳台居民居住证 numbers (810000 香港, 820000 澳门, 830000 台湾).
HMT_RESIDENCE_PREFIXES = frozenset({"81", "82", "83"})

# ISO 7064 MOD 11-2 as specified by GB 11643-1999: weight of position i is 2**(17 - i) mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_ID_SHAPE_RE = re.compile(r"[0-9]{17}[0-9X]")
_EARLIEST_BIRTH_DATE = datetime.date(1900, 1, 1)

# --- Other document types (patterns apply to normalised, upper-case values) ------------------------------------

_PASSPORT_RE = re.compile(r"[A-Z0-9]{5,20}")
_HK_MACAO_PERMIT_RE = re.compile(r"[HM][0-9]{8}(?:[0-9]{2})?")
_TAIWAN_PERMIT_RE = re.compile(r"[0-9]{8}(?:[0-9]{2})?")
_FOREIGNER_PR_NEW_RE = re.compile(r"9[0-9]{16}[0-9X]")
_FOREIGNER_PR_OLD_RE = re.compile(r"[A-Z]{3}[0-9]{12}")
# Letters, digits and CJK ideographs (basic block and extension A), e.g. "军字第12345678号".
_OFFICER_RE = re.compile(r"[A-Z0-9\u3400-\u4dbf\u4e00-\u9fff]{4,20}")

# --- GB 32100-2015 (unified social credit code) ----------------------------------------------------------------

_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, Z, S, V
_USCC_VALUES = {char: index for index, char in enumerate(_USCC_CHARSET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3**i mod 31
_USCC_AUTHORITIES = frozenset("123456789ANY")  # 登记管理部门代码
_USCC_ORG_TYPES = frozenset("123456789")  # 机构类别代码

# --- Mobile numbers --------------------------------------------------------------------------------------------

_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
_MOBILE_SEPARATORS_RE = re.compile(r"[\s\-]+")
_MOBILE_COUNTRY_PREFIX_RE = re.compile(r"(?:\+86|0086|86)(?=[0-9]{11}$)")
_MOBILE_TYPES = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})

_ID_NOUN = _("身份证号码")
_HMT_NOUN = _("居住证号码")
_FOREIGNER_PR_NOUN = _("永久居留身份证号码")


def gb11643_check_char(body: str) -> str:
    """Return the MOD 11-2 check character for the first 17 digits of a GB 11643 number."""
    total = sum(int(digit) * weight for digit, weight in zip(body, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def _check_gb11643_birth_date(number: str, noun: str | Promise) -> None:
    """Check that positions 7-14 are a real calendar date between 1900-01-01 and today (local time)."""
    try:
        birth_date = id_card_birth_date(number)
    except ValueError:
        raise ValidationError(
            _("%(noun)s中的出生日期（第 7–14 位）不是有效日期，请核对后重新输入。"),
            code="id_birth_date",
            params={"noun": noun},
        ) from None
    if birth_date > timezone.localdate():
        raise ValidationError(
            _("%(noun)s中的出生日期（第 7–14 位）晚于今天，请核对后重新输入。"),
            code="id_birth_date",
            params={"noun": noun},
        )
    if birth_date < _EARLIEST_BIRTH_DATE:
        raise ValidationError(
            _("%(noun)s中的出生日期（第 7–14 位）早于 1900 年，请核对后重新输入。"),
            code="id_birth_date",
            params={"noun": noun},
        )


def _checkgb11643_check_char(number: str, noun: str | Promise) -> None:
    """Check the 18th character against the ISO 7064 MOD 11-2 check of the first 17 digits.

    Every weight is non-zero modulo the prime 11, so any single mistyped character changes the expected check
    character and is caught.
    """
    if gb11643_check_char(number[:17]) != number[17]:
        raise ValidationError(
            _("%(noun)s校验位不正确，请核对后重新输入。"),
            code="id_check_digit",
            params={"noun": noun},
        )


def _validate_gb11643(value: str, *, noun: str | Promise, regions: frozenset[str]) -> str:
    """Validate a GB 11643-1999 layout number and return it upper-cased.

    Checks, in order: length 18, 17 digits plus a digit or ``X``, a province-level prefix from ``regions``, a real
    birth date, and the check character. Positions 3-6 (county) are deliberately not checked against any list:
    numbers issued by since-abolished counties stay valid for life.
    """
    number = value.upper()
    if len(number) != 18:
        raise ValidationError(
            _("%(noun)s应为 18 位（17 位数字加最后 1 位数字或字母 X），请核对后重新输入。"),
            code="id_length",
            params={"noun": noun},
        )
    if not _ID_SHAPE_RE.fullmatch(number):
        raise ValidationError(
            _("%(noun)s前 17 位只能是数字，最后 1 位只能是数字或字母 X，请核对后重新输入。"),
            code="id_format",
            params={"noun": noun},
        )
    if number[:2] not in regions:
        raise ValidationError(
            _("%(noun)s前两位不是有效的省级行政区划代码，请核对后重新输入。"),
            code="id_region",
            params={"noun": noun},
        )
    _check_gb11643_birth_date(number, noun)
    _checkgb11643_check_char(number, noun)
    return number


def validate_id_card_number(value: str) -> None:
    """Validate a GB 11643-1999 citizen identity number (18 characters; lowercase ``x`` is accepted).

    Checks the length and shape, that the first two digits are a real province-level code (including 71, 81, 82
    and 83, which the Hong Kong/Macao/Taiwan residence permit uses), that positions 7-14 are a real birth date
    not before 1900-01-01 and not in the future, and the MOD 11-2 check character. The value is checked as given
    (no whitespace stripping); use :func:`validate_document_number` for raw user input.

    Raises ``ValidationError`` with code ``id_length``, ``id_format``, ``id_region``, ``id_birth_date`` or
    ``id_check_digit``.
    """
    _validate_gb11643(value, noun=_ID_NOUN, regions=PROVINCE_CODES)


def id_card_birth_date(number: str) -> datetime.date:
    """Return the birth date encoded in positions 7-14 (YYYYMMDD) of a GB 11643 number.

    Raises ``ValueError`` if those positions are not a real date; validate the number first.
    """
    digits = number[6:14]
    if len(digits) != 8 or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"positions 7-14 are not an 8-digit date: {digits!r}")
    return datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))


def id_card_gender(number: str) -> str:
    """Return ``"M"`` if the 17th digit of a GB 11643 number is odd, ``"F"`` if it is even."""
    return "M" if int(number[16]) % 2 else "F"


def normalize_document_number(doc_type: str, value: str) -> str:
    """Return ``value`` NFKC-normalised, with all whitespace removed and upper-cased.

    NFKC turns full-width digits, letters and spaces (common with Chinese input methods) into their ASCII forms.
    The same normalisation currently applies to every ``doc_type``; the parameter keeps call sites stable if a type
    ever needs its own rule.
    """
    normalized = unicodedata.normalize("NFKC", value)
    return "".join(normalized.split()).upper()


def _validate_id_card_document(number: str) -> None:
    validate_id_card_number(number)
    if number[:2] in HMT_RESIDENCE_PREFIXES:
        raise ValidationError(
            _("以 81、82、83 开头的是港澳台居民居住证号码，请将证件类型选为“港澳台居民居住证”。"),
            code="id_residence_permit_prefix",
        )


def _validate_hmt_residence(number: str) -> None:
    if len(number) == 18 and _ID_SHAPE_RE.fullmatch(number) and number[:2] not in HMT_RESIDENCE_PREFIXES:
        raise ValidationError(
            _("港澳台居民居住证号码应以 81、82 或 83 开头；如持内地居民身份证，请将证件类型选为“居民身份证”。"),
            code="hmt_region",
        )
    _validate_gb11643(number, noun=_HMT_NOUN, regions=HMT_RESIDENCE_PREFIXES)


def _validate_passport(number: str) -> None:
    if not _PASSPORT_RE.fullmatch(number):
        raise ValidationError(
            _("护照号码应为 5–20 位字母或数字，请按护照资料页上的号码填写。"),
            code="passport_format",
        )


def _validate_hk_macao_permit(number: str) -> None:
    if not _HK_MACAO_PERMIT_RE.fullmatch(number):
        raise ValidationError(
            _("港澳居民来往内地通行证号码应为字母 H 或 M 加 8 位或 10 位数字，请核对后重新输入。"),
            code="hk_macao_permit_format",
        )


def _validate_taiwan_permit(number: str) -> None:
    if not _TAIWAN_PERMIT_RE.fullmatch(number):
        raise ValidationError(
            _("台湾居民来往大陆通行证号码应为 8 位或 10 位数字，请核对后重新输入。"),
            code="taiwan_permit_format",
        )


def _validate_foreigner_pr(number: str) -> None:
    """Accept the 2023 18-character form (9 + GB 11643 layout) or the 2004 form (3 letters + 12 digits)."""
    if _FOREIGNER_PR_OLD_RE.fullmatch(number):
        return
    if _FOREIGNER_PR_NEW_RE.fullmatch(number):
        _check_gb11643_birth_date(number, _FOREIGNER_PR_NOUN)
        _checkgb11643_check_char(number, _FOREIGNER_PR_NOUN)
        return
    raise ValidationError(
        _("外国人永久居留身份证号码应为以 9 开头的 18 位号码，或 3 位字母加 12 位数字（旧版证件），请核对后重新输入。"),
        code="foreigner_pr_format",
    )


def _validate_officer(number: str) -> None:
    if not _OFFICER_RE.fullmatch(number):
        raise ValidationError(
            _("军官证号码应为 4–20 位汉字、字母或数字，请按证件上的号码填写。"),
            code="officer_format",
        )


_DOCUMENT_VALIDATORS = {
    DocumentType.ID_CARD: _validate_id_card_document,
    DocumentType.HMT_RESIDENCE: _validate_hmt_residence,
    DocumentType.PASSPORT: _validate_passport,
    DocumentType.HK_MACAO_PERMIT: _validate_hk_macao_permit,
    DocumentType.TAIWAN_PERMIT: _validate_taiwan_permit,
    DocumentType.FOREIGNER_PR: _validate_foreigner_pr,
    DocumentType.OFFICER: _validate_officer,
}


def validate_document_number(doc_type: str, value: str) -> str:
    """Normalise ``value`` (see :func:`normalize_document_number`), validate it for ``doc_type`` and return it.

    * ``id_card``: :func:`validate_id_card_number`; 81/82/83 prefixes are refused with a hint to choose the
      residence permit type (code ``id_residence_permit_prefix``).
    * ``hmt_residence``: GB 11643 checks with an 81/82/83 prefix (code ``hmt_region`` for other prefixes).
    * ``passport``: 5–20 letters or digits.
    * ``hk_macao_permit``: H or M followed by 8 or 10 digits.
    * ``taiwan_permit``: 8 or 10 digits.
    * ``foreigner_pr``: 18 characters starting with 9 (GB 11643 birth date and check character), or the old
      3 letters + 12 digits form.
    * ``officer``: 4–20 letters, digits or CJK characters.

    Raises ``ValidationError`` (codes ``document_type_invalid``, ``document_number_required``, or the type's own
    codes) with a Chinese message.
    """
    try:
        validator = _DOCUMENT_VALIDATORS[DocumentType(doc_type)]
    except ValueError:
        raise ValidationError(_("请选择有效的证件类型。"), code="document_type_invalid") from None
    number = normalize_document_number(doc_type, value)
    if not number:
        raise ValidationError(_("请输入证件号码。"), code="document_number_required")
    validator(number)
    return number


def validate_uscc(value: str) -> None:
    """Validate a GB 32100-2015 unified social credit code (统一社会信用代码); lowercase is accepted.

    Checks the length (18), the 31-character alphabet (digits and upper-case letters except I, O, Z, S, V),
    the registration authority (1-9, A, N, Y) and organisation type (1-9) in positions 1-2, digits for the
    administrative division in positions 3-8, and the MOD 31 check character in position 18. The weights are
    3**i mod 31, all non-zero modulo the prime 31, so any single mistyped character is caught. Callers storing
    the code should upper-case it.

    Raises ``ValidationError`` with code ``uscc_length``, ``uscc_charset``, ``uscc_format`` or
    ``uscc_check_digit``.
    """
    code = value.upper()
    if len(code) != 18:
        raise ValidationError(_("统一社会信用代码应为 18 位，请核对后重新输入。"), code="uscc_length")
    if any(char not in _USCC_VALUES for char in code):
        raise ValidationError(
            _("统一社会信用代码只能包含数字和大写字母（不含 I、O、Z、S、V），请核对后重新输入。"),
            code="uscc_charset",
        )
    if code[0] not in _USCC_AUTHORITIES or code[1] not in _USCC_ORG_TYPES:
        raise ValidationError(
            _("统一社会信用代码前两位（登记管理部门和机构类别代码）不正确，请核对后重新输入。"),
            code="uscc_format",
        )
    if not code[2:8].isdigit():
        raise ValidationError(
            _("统一社会信用代码第 3–8 位（登记管理机关行政区划码）应为数字，请核对后重新输入。"),
            code="uscc_format",
        )
    total = sum(_USCC_VALUES[char] * weight for char, weight in zip(code[:17], _USCC_WEIGHTS, strict=True))
    if _USCC_CHARSET[(31 - total % 31) % 31] != code[17]:
        raise ValidationError(_("统一社会信用代码校验位不正确，请核对后重新输入。"), code="uscc_check_digit")


def normalize_mobile(value: str) -> str:
    """Return ``value`` NFKC-normalised with spaces and hyphens removed and a leading +86/0086/86 stripped.

    The country prefix is only stripped when 11 digits follow it, so a bare 11-digit number is never shortened.
    """
    number = _MOBILE_SEPARATORS_RE.sub("", unicodedata.normalize("NFKC", value))
    return _MOBILE_COUNTRY_PREFIX_RE.sub("", number, count=1)


def validate_mainland_mobile(value: str) -> None:
    """Validate a mainland China mobile number given as 11 digits (normalise with :func:`normalize_mobile` first).

    The shape check (``1[3-9]`` + 9 digits) is complemented by ``phonenumbers``, which knows which ranges are
    actually allocated to mobile carriers. Raises ``ValidationError`` with code ``mobile_invalid``.
    """
    error = ValidationError(_("请输入正确的 11 位手机号码。"), code="mobile_invalid")
    if not _MOBILE_RE.fullmatch(value):
        raise error
    try:
        parsed = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        raise error from None
    if not phonenumbers.is_valid_number(parsed) or phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise error
