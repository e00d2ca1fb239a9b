"""Template helpers of the finance pages, and the check behind the 财务管理 link in the main navigation."""

from __future__ import annotations

from typing import Any

from django import template

from kaowu.core.masking import mask_name

from ..finance.selectors import is_finance_staff
from ..providers import LABELS
from ..services import yuan as _yuan

register = template.Library()


@register.simple_tag
def finance_staff(user: Any) -> bool:
    """``{% finance_staff user as flag %}``: whether ``user`` may open the finance pages."""
    return is_finance_staff(user)


@register.filter
def yuan(fen: int | None) -> str:
    """Integer fen as yuan with two decimals (``12345`` → ``123.45``); empty for no amount."""
    return "" if fen is None else _yuan(fen)


@register.filter
def provider_label(code: str | None) -> str:
    return str(LABELS.get(code, code)) if code else ""


register.filter("mask_name", mask_name)
