"""Masking of personal data for display: pages, admin, exports, `__str__` and the audit trail."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """Surname and a star per remaining character: 张伟 → 张*, 欧阳娜娜 → 欧***.

    Company names are not personal data and are shown in full by the caller.
    """
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_middle(value: str, *, keep_start: int, keep_end: int) -> str:
    """Keep the first and last characters, star the middle: 13812345678 → 138****5678."""
    value = value or ""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end:]
