"""Masking of personal data for display, logs and exports.

Masking works on user-perceived characters rather than UTF-16 units or bytes: Python strings index by code point,
so supplementary-plane ideographs (CJK extension B and beyond, common in personal names) count as one character,
and combining marks or variation selectors stay attached to the character they modify.
"""

from __future__ import annotations

import unicodedata

__all__ = ["mask_document_number", "mask_name", "mask_phone"]

MASK_CHAR = "*"


def _is_attached(char: str) -> bool:
    """Return True for code points that modify the preceding character instead of standing alone."""
    code_point = ord(char)
    return (
        unicodedata.combining(char) != 0
        or 0xFE00 <= code_point <= 0xFE0F  # variation selectors
        or 0xE0100 <= code_point <= 0xE01EF  # ideographic variation selectors (IVS), used for rare name characters
        or char == "\u200d"  # zero-width joiner
    )


def _characters(value: str) -> list[str]:
    """Split ``value`` into characters, keeping combining marks and variation selectors with their base."""
    characters: list[str] = []
    for char in unicodedata.normalize("NFC", value):
        if characters and _is_attached(char):
            characters[-1] += char
        else:
            characters.append(char)
    return characters


def _keep_ends(characters: list[str], head: int, tail: int) -> str:
    """Keep ``head`` leading and ``tail`` trailing characters and star the rest (at least one star)."""
    hidden = len(characters) - head - tail
    if hidden < 1:
        return MASK_CHAR * len(characters)
    return "".join(characters[:head]) + MASK_CHAR * hidden + "".join(characters[len(characters) - tail :])


def mask_document_number(value: str) -> str:
    """Mask an identity document number.

    18-character numbers (GB 11643 layout) keep the first 6 (region) and last 4: ``110101********1234``.
    Other numbers keep the first 2 and last 2 with at least one star in between; numbers of 4 characters or fewer
    are fully starred, since showing any part would reveal most of them.
    """
    characters = _characters(value)
    if len(characters) == 18:
        return _keep_ends(characters, 6, 4)
    if len(characters) <= 4:
        return MASK_CHAR * len(characters)
    return _keep_ends(characters, 2, 2)


def mask_phone(value: str) -> str:
    """Mask a phone number.

    11-character numbers keep the first 3 and last 4: ``138****5678``. Other lengths keep the first 3 and last 2
    where that leaves at least one star; 5-character values keep only the first and last, and 4 or fewer are fully
    starred.
    """
    characters = _characters(value)
    length = len(characters)
    if length == 11:
        return _keep_ends(characters, 3, 4)
    if length >= 6:
        return _keep_ends(characters, 3, 2)
    if length == 5:
        return _keep_ends(characters, 1, 1)
    return MASK_CHAR * length


def mask_name(value: str) -> str:
    """Keep the first character of a name and star the rest: ``王晓明`` → ``王**``, ``𠀀明`` → ``𠀀*``.

    A single-character name is returned unchanged (there is nothing after the first character to hide).
    """
    characters = _characters(value)
    if not characters:
        return ""
    return characters[0] + MASK_CHAR * (len(characters) - 1)
