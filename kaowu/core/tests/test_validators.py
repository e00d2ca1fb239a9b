"""Tests for kaowu.core.validators.

Check characters are computed here by an independent implementation of the standards, so a mistake in the
validator's tables would not be mirrored by the tests.
"""

from __future__ import annotations

import datetime
import string

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from kaowu.core.documents import DocumentType
from kaowu.core.validators import (
    id_card_birth_date,
    id_card_gender,
    normalize_document_number,
    normalize_mobile,
    validate_document_number,
    validate_id_card_number,
    validate_mainland_mobile,
    validate_uscc,
)

PROVINCES = (
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43",
    "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83",
)  # fmt: skip
MAINLAND_PROVINCES = tuple(p for p in PROVINCES if p not in {"81", "82", "83"})
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def id_check_char(body: str) -> str:
    """ISO 7064 MOD 11-2 per GB 11643-1999: weights 2**(17-i) mod 11, check = (12 - sum mod 11) mod 11."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(body))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def uscc_check_char(body: str) -> str:
    """GB 32100-2015: weights 3**i mod 31, check = 31 - sum mod 31 (31 → 0)."""
    total = sum(USCC_CHARSET.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return USCC_CHARSET[(31 - total % 31) % 31]


def with_id_check(body: str) -> str:
    assert len(body) == 17
    return body + id_check_char(body)


@st.composite
def id_numbers(draw: st.DrawFn, provinces: tuple[str, ...] = PROVINCES) -> str:
    province = draw(st.sampled_from(provinces))
    county = draw(st.text(string.digits, min_size=4, max_size=4))
    birth = draw(st.dates(min_value=datetime.date(1900, 1, 1), max_value=timezone.localdate()))
    sequence = draw(st.text(string.digits, min_size=3, max_size=3))
    return with_id_check(f"{province}{county}{birth:%Y%m%d}{sequence}")


@st.composite
def usccs(draw: st.DrawFn) -> str:
    authority = draw(st.sampled_from("123456789ANY"))
    org_type = draw(st.sampled_from("123456789"))
    region = draw(st.text(string.digits, min_size=6, max_size=6))
    org_code = draw(st.text(USCC_CHARSET, min_size=9, max_size=9))
    body = f"{authority}{org_type}{region}{org_code}"
    return body + uscc_check_char(body)


def error_code(excinfo: pytest.ExceptionInfo[ValidationError]) -> str | None:
    return excinfo.value.code


# --- GB 11643 ID numbers: property-based ------------------------------------------------------------------------


def test_independent_check_char_matches_the_standard_example() -> None:
    assert with_id_check("11010519491231002") == "11010519491231002X"


@given(id_numbers())
def test_generated_id_numbers_pass_and_derive_birth_date_and_gender(number: str) -> None:
    validate_id_card_number(number)
    assert id_card_birth_date(number) == datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    assert id_card_gender(number) == ("M" if int(number[16]) % 2 == 1 else "F")


@given(id_numbers())
def test_every_single_character_substitution_is_rejected(number: str) -> None:
    for position in range(18):
        alphabet = string.digits + ("X" if position == 17 else "")
        for replacement in alphabet:
            if replacement == number[position]:
                continue
            altered = number[:position] + replacement + number[position + 1 :]
            # The check character alone catches it: every weight is non-zero mod 11.
            assert id_check_char(altered[:17]) != altered[17]
            with pytest.raises(ValidationError) as excinfo:
                validate_id_card_number(altered)
            if 2 <= position <= 5 or position >= 14:
                # County, sequence and check positions cannot break region or birth date checks.
                assert error_code(excinfo) == "id_check_digit"
            else:
                assert error_code(excinfo) in {"id_region", "id_birth_date", "id_check_digit"}


@given(id_numbers(MAINLAND_PROVINCES))
def test_generated_id_numbers_pass_validate_document_number(number: str) -> None:
    assert validate_document_number(DocumentType.ID_CARD, number) == number


# --- GB 11643 ID numbers: hand-written cases ---------------------------------------------------------------------


def test_standard_example_passes() -> None:
    validate_id_card_number("11010519491231002X")
    assert id_card_birth_date("11010519491231002X") == datetime.date(1949, 12, 31)
    assert id_card_gender("11010519491231002X") == "F"
    assert id_card_gender("110103198001011235") == "M"


def test_lowercase_x_is_accepted() -> None:
    validate_id_card_number("11010519491231002x")
    assert validate_document_number(DocumentType.ID_CARD, "11010519491231002x") == "11010519491231002X"


def test_abolished_county_still_passes() -> None:
    # 110103 北京市崇文区 and 110104 宣武区 were abolished in 2010; their residents keep these numbers.
    validate_id_card_number("110103198001011235")
    validate_id_card_number("110104197511150421")


def test_full_width_input_is_normalised() -> None:
    raw = "　１１０１０５　１９４９１２３１　００２ｘ "
    assert normalize_document_number(DocumentType.ID_CARD, raw) == "11010519491231002X"
    assert validate_document_number(DocumentType.ID_CARD, raw) == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "id_length"),
        ("11010519491231002", "id_length"),
        ("11010519491231002X1", "id_length"),
        ("11010519491231A02X", "id_format"),
        ("X10105194912310021", "id_format"),
        ("11010519491231002Y", "id_format"),
        ("１１０１０５１９４９１２３１００２X", "id_format"),  # full-width digits are not normalised here
        (with_id_check("00010519900307123"), "id_region"),
        (with_id_check("99010519900307123"), "id_region"),
        (with_id_check("11010519900230123"), "id_birth_date"),  # 30 February
        (with_id_check("11010519001301123"), "id_birth_date"),  # month 13
        (with_id_check("11010518991231123"), "id_birth_date"),  # before 1900
        (with_id_check("44052418800101001"), "id_birth_date"),  # GB 11643's own 1880 example is out of range
        ("110105194912310021", "id_check_digit"),
    ],
)
def test_invalid_id_numbers(value: str, code: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_id_card_number(value)
    assert error_code(excinfo) == code


def test_future_birth_date_is_rejected() -> None:
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError) as excinfo:
        validate_id_card_number(with_id_check(f"110105{tomorrow:%Y%m%d}123"))
    assert error_code(excinfo) == "id_birth_date"
    assert "晚于今天" in excinfo.value.messages[0]


def test_birth_date_today_is_accepted() -> None:
    validate_id_card_number(with_id_check(f"110105{timezone.localdate():%Y%m%d}123"))


def test_check_digit_message_is_specific() -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_id_card_number("110105194912310021")
    assert excinfo.value.messages == ["身份证号码校验位不正确，请核对后重新输入。"]


def test_february_29_only_in_leap_years() -> None:
    validate_id_card_number(with_id_check("11010520000229123"))
    with pytest.raises(ValidationError) as excinfo:
        validate_id_card_number(with_id_check("11010519000229123"))  # 1900 is not a leap year
    assert error_code(excinfo) == "id_birth_date"


def test_id_card_birth_date_rejects_malformed_numbers() -> None:
    with pytest.raises(ValueError):
        id_card_birth_date(with_id_check("11010519900230123"))


# --- validate_document_number by type ----------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["810000199003070015", "830000198506120028", "82000020000229003X"])
def test_id_card_type_refuses_residence_permit_prefixes(number: str) -> None:
    validate_id_card_number(number)  # a valid GB 11643 number …
    with pytest.raises(ValidationError) as excinfo:
        validate_document_number(DocumentType.ID_CARD, number)  # … but not a mainland ID card
    assert error_code(excinfo) == "id_residence_permit_prefix"
    assert "港澳台居民居住证" in excinfo.value.messages[0]


@pytest.mark.parametrize("number", ["810000199003070015", "830000198506120028", "82000020000229003x"])
def test_hmt_residence_valid(number: str) -> None:
    assert validate_document_number(DocumentType.HMT_RESIDENCE, number) == number.upper()


@given(id_numbers(("81", "82", "83")))
def test_generated_hmt_residence_numbers_pass(number: str) -> None:
    assert validate_document_number(DocumentType.HMT_RESIDENCE, number) == number


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("11010519491231002X", "hmt_region"),
        ("71000019900307001" + id_check_char("71000019900307001"), "hmt_region"),
        ("81000019900307001", "id_length"),
        ("810000199003070016", "id_check_digit"),
        (with_id_check("81000019900230001"), "id_birth_date"),
    ],
)
def test_hmt_residence_invalid(number: str, code: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_document_number(DocumentType.HMT_RESIDENCE, number)
    assert error_code(excinfo) == code


@pytest.mark.parametrize(
    ("doc_type", "raw", "expected"),
    [
        (DocumentType.PASSPORT, "E12345678", "E12345678"),
        (DocumentType.PASSPORT, "ea 1234567", "EA1234567"),
        (DocumentType.PASSPORT, "12345", "12345"),
        (DocumentType.PASSPORT, "A" * 20, "A" * 20),
        (DocumentType.HK_MACAO_PERMIT, "H12345678", "H12345678"),
        (DocumentType.HK_MACAO_PERMIT, "m1234567801", "M1234567801"),
        (DocumentType.TAIWAN_PERMIT, "12345678", "12345678"),
        (DocumentType.TAIWAN_PERMIT, "１２３４５６７８９０", "1234567890"),
        (DocumentType.FOREIGNER_PR, "931156198501010016", "931156198501010016"),
        (DocumentType.FOREIGNER_PR, "usa110050101001", "USA110050101001"),
        (DocumentType.OFFICER, "军字第12345678号", "军字第12345678号"),
        (DocumentType.OFFICER, "南 字 1234", "南字1234"),
        (DocumentType.OFFICER, "ab12", "AB12"),
    ],
)
def test_other_document_types_valid(doc_type: str, raw: str, expected: str) -> None:
    assert validate_document_number(doc_type, raw) == expected


@pytest.mark.parametrize(
    ("doc_type", "raw", "code"),
    [
        (DocumentType.PASSPORT, "E123", "passport_format"),
        (DocumentType.PASSPORT, "A" * 21, "passport_format"),
        (DocumentType.PASSPORT, "E1234-5678", "passport_format"),
        (DocumentType.PASSPORT, "护照12345", "passport_format"),
        (DocumentType.HK_MACAO_PERMIT, "A12345678", "hk_macao_permit_format"),
        (DocumentType.HK_MACAO_PERMIT, "H1234567", "hk_macao_permit_format"),
        (DocumentType.HK_MACAO_PERMIT, "H123456789", "hk_macao_permit_format"),
        (DocumentType.TAIWAN_PERMIT, "1234567", "taiwan_permit_format"),
        (DocumentType.TAIWAN_PERMIT, "123456789", "taiwan_permit_format"),
        (DocumentType.TAIWAN_PERMIT, "T1234567", "taiwan_permit_format"),
        (DocumentType.TAIWAN_PERMIT, "١٢٣٤٥٦٧٨", "taiwan_permit_format"),  # Arabic-Indic digits are not ASCII
        (DocumentType.FOREIGNER_PR, "831156198501010016", "foreigner_pr_format"),
        (DocumentType.FOREIGNER_PR, "US110050101001", "foreigner_pr_format"),
        (DocumentType.FOREIGNER_PR, "931156198501010017", "id_check_digit"),
        (DocumentType.FOREIGNER_PR, with_id_check("93115619850230001"), "id_birth_date"),
        (DocumentType.OFFICER, "军字1", "officer_format"),
        (DocumentType.OFFICER, "军" * 21, "officer_format"),
        (DocumentType.OFFICER, "军字第1234-5678号", "officer_format"),
        (DocumentType.ID_CARD, "   ", "document_number_required"),
        ("driving_licence", "12345678", "document_type_invalid"),
    ],
)
def test_other_document_types_invalid(doc_type: str, raw: str, code: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_document_number(doc_type, raw)
    assert error_code(excinfo) == code
    assert excinfo.value.messages[0].endswith("。")


# --- GB 32100 unified social credit codes ------------------------------------------------------------------------

REAL_USCCS = [
    "91350100M000100Y43",
    "91110000600037341L",
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "914403001922038216",  # 华为技术有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
]


@pytest.mark.parametrize("code", REAL_USCCS)
def test_real_usccs_pass(code: str) -> None:
    assert uscc_check_char(code[:17]) == code[17]
    validate_uscc(code)
    validate_uscc(code.lower())


@given(usccs())
def test_generated_usccs_pass(code: str) -> None:
    validate_uscc(code)


@given(usccs())
def test_every_single_uscc_substitution_is_rejected(code: str) -> None:
    for position in range(18):
        for replacement in USCC_CHARSET:
            if replacement == code[position]:
                continue
            altered = code[:position] + replacement + code[position + 1 :]
            # Every weight is non-zero mod 31, so the check character alone catches it.
            assert uscc_check_char(altered[:17]) != altered[17]
            with pytest.raises(ValidationError) as excinfo:
                validate_uscc(altered)
            if position >= 8:
                assert error_code(excinfo) == "uscc_check_digit"
            else:
                assert error_code(excinfo) in {"uscc_format", "uscc_check_digit"}


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V", "i", "o"])
def test_uscc_refuses_excluded_letters(letter: str) -> None:
    code = "91350100M000100Y43"
    with pytest.raises(ValidationError) as excinfo:
        validate_uscc(code[:8] + letter + code[9:])
    assert error_code(excinfo) == "uscc_charset"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "uscc_length"),
        ("91350100M000100Y4", "uscc_length"),
        ("91350100M000100Y431", "uscc_length"),
        ("91350100M000100Y4-", "uscc_charset"),
        ("91350100M000100Y4 ", "uscc_charset"),
        ("01350100M000100Y43", "uscc_format"),
        ("B1350100M000100Y43", "uscc_format"),
        ("90350100M000100Y43", "uscc_format"),
        ("9135A100M000100Y43", "uscc_format"),
        ("91350100M000100Y44", "uscc_check_digit"),
    ],
)
def test_invalid_usccs(value: str, code: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_uscc(value)
    assert error_code(excinfo) == code


# --- Mobile numbers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["13800138000", "15012345678", "17612345678", "18912345678", "19912345678"])
def test_valid_mobiles(number: str) -> None:
    validate_mainland_mobile(number)


@pytest.mark.parametrize(
    "number",
    [
        "",
        "12345678901",  # no 12x mobile range
        "10012345678",
        "1380013800",  # 10 digits
        "138001380001",  # 12 digits
        "1380013800a",
        "+8613800138000",  # not normalised
        "138 0013 8000",
        "１３８００１３８０００",  # full-width, not normalised
        "15412345678",  # right shape, but 154 is not an allocated mobile range
        "01012345678",  # Beijing landline
    ],
)
def test_invalid_mobiles(number: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_mainland_mobile(number)
    assert error_code(excinfo) == "mobile_invalid"
    assert excinfo.value.messages == ["请输入正确的 11 位手机号码。"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("+86-13800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("１３８　００１３　８０００", "13800138000"),
        ("86138001380", "86138001380"),  # 11 digits: nothing to strip
    ],
)
def test_normalize_mobile(raw: str, expected: str) -> None:
    assert normalize_mobile(raw) == expected
