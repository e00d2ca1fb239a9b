"""Tests for kaowu.core.masking."""

from __future__ import annotations

import pytest

from kaowu.core.masking import mask_document_number, mask_name, mask_phone


@pytest.mark.parametrize("mask", [mask_document_number, mask_phone, mask_name])
def test_empty_string_stays_empty(mask) -> None:
    assert mask("") == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("110101199003071234", "110101********1234"),
        ("11010519491231002X", "110105********002X"),
        ("E12345678", "E1*****78"),
        ("H1234567801", "H1*******01"),
        ("USA110050101001", "US***********01"),
        ("A" * 20, "AA" + "*" * 16 + "AA"),
        ("军字第12345678号", "军字********8号"),
        ("12345", "12*45"),
        ("1234", "****"),
        ("12", "**"),
        ("1", "*"),
    ],
)
def test_mask_document_number(value: str, expected: str) -> None:
    assert mask_document_number(value) == expected
    assert len(mask_document_number(value)) == len(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", "138****5678"),
        ("01012345678", "010****5678"),
        ("12345678", "123***78"),
        ("123456", "123*56"),
        ("12345", "1***5"),
        ("1234", "****"),
        ("1", "*"),
        ("8613812345678", "861********78"),
    ],
)
def test_mask_phone(value: str, expected: str) -> None:
    assert mask_phone(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("王晓明", "王**"),
        ("李四", "李*"),
        ("王", "王"),
        ("欧阳娜娜", "欧***"),
        ("阿依古丽·买买提", "阿*******"),
        ("𠀀明", "𠀀*"),  # U+20000, CJK extension B: one character, not a surrogate pair
        ("明𠀀𪚥", "明**"),
        ("Zoë", "Z**"),
        ("Zoe\u0308", "Z**"),  # decomposed ë counts as one character
        ("葛\U000e0100明", "葛\U000e0100*"),  # ideographic variation selector stays with its base
    ],
)
def test_mask_name(value: str, expected: str) -> None:
    assert mask_name(value) == expected
