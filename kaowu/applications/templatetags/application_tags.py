"""Template filters of the application pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def yuan(fen: int | None) -> str:
    """An amount in fen shown in yuan with two decimals: 8000 → "80.00"."""
    if fen is None:
        return ""
    return f"{Decimal(fen) / 100:.2f}"
