"""A logging filter that masks ID-card numbers and mainland mobile numbers in every record.

Code should log masked values in the first place; this filter is the safety net for what slips
through (an exception message, a third-party library's debug line).
"""

from __future__ import annotations

import logging
import re

# 18-character ID numbers (last may be X) and 11-digit mobiles starting 1[3-9], not inside longer digit runs.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_text(text: str) -> str:
    text = _ID_RE.sub(lambda m: f"{m.group(1)}********{m.group(2)[-4:]}", text)
    return _MOBILE_RE.sub(r"\1****\2", text)


class MaskPersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix here
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
