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


# Not \b: in Chinese text an ID number sits between CJK characters, which are word characters too
# ("身份证号500229…"), and a G student number puts a letter in front of it.
_ID_LIKE = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dA-Za-z])|(?<!\d)\d{15}(?!\d)")


def mask_in_text(text: str) -> str:
    """Mask anything shaped like an ID number inside free text (reasons, summaries)."""
    return _ID_LIKE.sub(lambda m: mask_id_number(m.group(0)), text)


def _masked_value(value):
    if isinstance(value, str):
        return mask_in_text(value)
    if isinstance(value, dict):
        return masked_snapshot(value)
    if isinstance(value, (list, tuple)):
        return [_masked_value(v) for v in value]
    return value


def masked_snapshot(values: dict) -> dict:
    """Mask ID-number fields by name and ID-shaped text anywhere, nested values included
    (an export's filters carry the search text, which may be a full ID number)."""
    out = {}
    for key, value in values.items():
        if key in MASK_FIELDS and not isinstance(value, (dict, list, tuple)):
            out[key] = mask_student_number(value) if key == "national_student_number" else mask_id_number(value)
        else:
            out[key] = _masked_value(value)
    return out
