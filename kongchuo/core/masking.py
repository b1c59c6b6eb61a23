"""How ID numbers appear wherever a person is not entitled to the full value (DESIGN.md §9)."""

import re

MASK_FIELDS = frozenset({"id_number", "id_number_raw", "national_student_number"})


def mask_id_number(value: str | None) -> str:
    """Show at most the first 6 and the last 4 characters: 500229********0012."""
    if not value:
        return ""
    value = str(value)
    if len(value) <= 10:
        return value[:2] + "*" * max(len(value) - 2, 0)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_student_number(value: str | None) -> str:
    """A G-number embeds the ID number: mask it the same way, keeping the letter."""
    if not value:
        return ""
    return value[0] + mask_id_number(value[1:]) if value[0].isalpha() else mask_id_number(value)


_ID_LIKE = re.compile(r"\b\d{17}[\dXx]\b|\b\d{15}\b")


def mask_in_text(text: str) -> str:
    """Mask anything shaped like an ID number inside free text (reasons, summaries)."""
    return _ID_LIKE.sub(lambda m: mask_id_number(m.group(0)), text)


def masked_snapshot(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if key in MASK_FIELDS:
            out[key] = mask_student_number(value) if key == "national_student_number" else mask_id_number(value)
        elif isinstance(value, str):
            out[key] = mask_in_text(value)
        else:
            out[key] = value
    return out
