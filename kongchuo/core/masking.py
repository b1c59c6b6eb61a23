"""How ID numbers appear wherever a person is not entitled to the full value (DESIGN.md §9)."""

import datetime as dt
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
# ("身份证号500229…"), and a G student number puts a letter in front of it. \d is any decimal digit,
# full-width ones (５００２２９…) included. Between the groups of one number a typist puts up to three of: any
# space (no-break, tab, ideographic…), a hyphen or dash, a dot or interpunct, an underscore or a slash
# ("500229 20120305 4010", "500229_20120305_4010"): every separator the importer strips (people.identity,
# imports.cleaning, after NFKC), and "/".
_X = "XxＸｘ"
_MARKS = (
    r"\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d"  # hyphens and dashes: ‐ ‑ ‒ – — ― − ﹘ ﹣ －
    r".\u2024-\u2026\ufe19\ufe30\ufe52\uff0e"  # dots and leaders: ․ ‥ … ︙ ︰ ﹒ ．
    r"\u00b7\u0387\u2022\u2027\u2219\u22c5\u30fb\uff65"  # interpuncts: · · • ‧ ∙ ⋅ ・ ･
    r"_\ufe33\ufe34\ufe4d-\ufe4f\uff3f/\uff0f"  # underscores and slashes: ︳ ︴ ﹍ ﹎ ﹏ ＿ ／
)
_GAP = rf"[\s{_MARKS}]{{0,3}}"
_DIGIT_RUN = re.compile(rf"(?<!\d)\d(?:{_GAP}\d){{14,}}(?:{_GAP}[{_X}](?![A-Za-z]))?")
_GROUP = re.compile(rf"\d+(?:{_GAP}[{_X}]$)?")
# A number of 15 digits or more written by Excel or Python: 5.00229201203054e+17 keeps 15 of an ID's digits.
_SCIENTIFIC = re.compile(r"(?<![\d.])(\d[.．]\d{5})(\d+)([eE]\+?(\d+))")


def mask_in_text(text: str) -> str:
    """Mask anything shaped like an ID number inside free text (reasons, summaries, a spreadsheet's cells):
    first 6 and last 4 digits shown as mask_id_number does, separators kept where the typist put them."""
    return _DIGIT_RUN.sub(_mask_run, _SCIENTIFIC.sub(_mask_scientific, text))


def mask_in_cell(value) -> str:
    """A spreadsheet cell as text, masked as mask_in_text; a number below 10**14 has no ID number in it
    (fewer than 15 digits before the point), so its decimals are left alone."""
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e14:
        return str(value)
    return mask_in_text(str(value))


def _mask_scientific(m: re.Match) -> str:
    if int(m.group(4)) < 14:
        return m.group(0)  # fewer than 15 digits before the point; any long run in it is masked as text
    return m.group(1) + "*" * len(m.group(2)) + m.group(3)


def _mask_run(m: re.Match) -> str:
    """Hide each stretch of groups that could be one ID number: one unbroken number of 15 digits or more, or
    groups whose digits read as an ID number (_could_be_id_number); stretches that share a group are hidden as
    one. A date range, a landline with its extension, two phone numbers side by side are not one."""
    run = m.group(0)
    groups = [(g.start(), g.end()) for g in _GROUP.finditer(run)]
    stretches: list[list[int]] = []  # [first, last] group of each, in order
    for first in range(len(groups)):
        mobile = _mobile_beside(run, groups, first)
        for last in range(first, len(groups)):
            chars = _id_chars(run[groups[first][0] : groups[last][1]])
            if len(chars) > 18 and last > first:
                break
            if not (len(chars) >= 15 if last == first else _could_be_id_number(chars)):
                continue
            if mobile is not None and last > mobile and len(chars) < 17:
                continue  # a mobile and a landline or extension after it (13800001111 0813-5922123), not an old number
            if stretches and first <= stretches[-1][1]:
                stretches[-1][1] = max(stretches[-1][1], last)
            else:
                stretches.append([first, last])
    out, done = [], 0
    for first, last in stretches:
        start, end = groups[first][0], groups[last][1]
        out += [run[done:start], _mask_digits(run[start:end])]
        done = end
    return "".join(out) + run[done:]


_MOBILE = re.compile(r"1[3-9]\d{9}")


def _mobile_beside(run: str, groups: list[tuple[int, int]], first: int) -> int | None:
    """The group with which a mobile number (11 digits, 1[3-9]…) ends, if groups from `first` on make exactly one
    and a landline follows it whole: an area code (0 and 2-3 digits) and the 7-8 digits of the number itself
    (13800001111 0813-5922123, 138 0000 1111 0813 5922123). Else None.

    Only then is the mobile with the area code not an old 15-digit ID number (13800001111 0813 reads as one); an
    old number of Hebei, Shanxi or Inner Mongolia typed 3-4-4-4 (130 1029 0031 0401: 11 digits that read as a
    mobile, then a group that starts with 0 for a day 10, 20 or 30) has no such number after it, and is hidden."""
    digits = ""
    for k in range(first, len(groups)):
        digits += _id_chars(run[groups[k][0] : groups[k][1]])
        if len(digits) >= 11:
            if len(digits) > 11 or not _MOBILE.fullmatch(digits) or k + 2 >= len(groups):
                return None
            area, number = (_id_chars(run[start:end]) for start, end in groups[k + 1 : k + 3])
            return k if area.startswith("0") and len(area) in (3, 4) and len(number) in (7, 8) else None
    return None


def _id_chars(text: str) -> str:
    """The digits of `text` as ASCII, a trailing X as X, separators dropped."""
    return "".join("X" if c in _X else str(int(c)) for c in text if c.isdecimal() or c in _X)


def _could_be_id_number(chars: str) -> bool:
    """18 characters (the last may be X) or 17 digits (X lost) with a birth date YYYYMMDD at 7-14, or 15 digits
    (the old number) with YYMMDD at 7-12. None starts with 0, as every landline's area code does."""
    if chars[0] == "0" or not (len(chars) == 18 or len(chars) in (15, 17) and chars.isdigit()):
        return False
    birth = chars[6:14] if len(chars) > 15 else "19" + chars[6:12]
    try:
        dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
    except ValueError:
        return False
    return "1900" <= birth < "2100"


def _mask_digits(text: str) -> str:
    """All but the first 6 and the last 4 digits (or X) of `text` as *, what separates them kept."""
    positions = [k for k, c in enumerate(text) if c.isdecimal() or c in _X]
    hide = set(positions[6:-4])
    return "".join("*" if k in hide else c for k, c in enumerate(text))


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
