"""From a raw row to a clean record: every cell cleaned, every repair noted, identity decided.

A row is rejected only when it identifies no one (or names a place/school that does not exist);
a person with a missing or unusable ID number is kept and flagged 证件号待核正.
"""

import datetime as dt
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from kongchuo.core.choices import ETHNICITIES, ETHNICITY_BY_NAME
from kongchuo.imports import cleaning
from kongchuo.imports.headers import FIELD_LABELS
from kongchuo.people.identity import IdNumber, normalise_id_number
from kongchuo.people.names import name_pinyin

PENDING_ID = "证件号待核正"


@dataclass(slots=True)
class Record:
    row: int  # the row number the user sees in Excel (1-based)
    raw: list  # the cells as read; `original()` gives them JSON-ready for the error report
    values: dict[str, Any] = field(default_factory=dict)
    repairs: list[tuple[str, str]] = field(default_factory=list)  # (column label, note)
    flags: list[tuple[str, str]] = field(default_factory=list)
    error: tuple[str, str] | None = None  # (column label, reason) when rejected
    id_raw: str = ""  # the unusable ID value kept for review
    id_checked: IdNumber | None = None  # what cleaning the ID number learnt (birth date, gender)
    pinyin: tuple[str, str, str] | None = None  # (name, its pinyin, initials), worked out while preparing (with_pinyin)

    def reject(self, column: str, message: str) -> None:
        if self.error is None:
            self.error = (column, message)

    @property
    def rejected(self) -> bool:
        return self.error is not None

    def __reduce__(self):
        # What an import's writing half needs, as a plain tuple (preparing in a child process pickles every record):
        # not `id_checked`, which only settle_identity reads.
        return (Record, (self.row, self.raw, self.values, self.repairs, self.flags, self.error, self.id_raw, None, self.pinyin))

    def original(self) -> list:
        return [_plain(c) for c in self.raw]


class Records(list):
    """A chunk of records. Preparing in a child process pickles every chunk, and this pickles it column by column:
    a list of each attribute, not a tuple per record, takes half as long to unpickle (measured 2026-12-01 on a
    200,000-row list: 0.5 s against 1.0 s, and a quarter less to pickle).

    `rest`: where a lagging preparer stopped (prepare._cleaned): the index of the first of the sheet's columns it left
    to the writing half to clean, and the identity to settle; None for a chunk prepared to the end. Such a chunk
    keeps each record's `id_checked` across, which settling reads."""

    rest: int | None = None

    def __reduce__(self):
        sent = _SENT if self.rest is None else (*_SENT, "id_checked")
        return (_records, (self.rest, *([getattr(r, name) for r in self] for name in sent)))


_SENT = ("row", "raw", "values", "repairs", "flags", "error", "id_raw", "pinyin")  # not `id_checked`, as Record.__reduce__


def _records(rest: int | None, *columns) -> Records:
    if len(columns) == len(_SENT):  # a chunk prepared to the end: no id_checked
        columns = (*columns, [None] * len(columns[0]))
    records = Records([Record(row, raw, values, repairs, flags, error, id_raw, checked, pinyin)
                       for row, raw, values, repairs, flags, error, id_raw, pinyin, checked in zip(*columns, strict=True)])
    records.rest = rest
    return records


def label(fieldname: str, labels: dict[str, str]) -> str:
    return labels.get(fieldname) or FIELD_LABELS.get(fieldname, fieldname)


def clean_ethnicity(cell) -> cleaning.Cleaned:
    text = cleaning.clean_text(cell).value or ""
    if not text:
        return cleaning.Cleaned(None, (), None)
    if text.isdigit() and text.zfill(2) in dict(ETHNICITIES):
        return cleaning.Cleaned(text.zfill(2), (), None)
    for candidate in (text, text + "族"):
        if candidate in ETHNICITY_BY_NAME:
            return cleaning.Cleaned(ETHNICITY_BY_NAME[candidate], () if candidate == text else (f"民族“{text}”按“{candidate}”记",), None)
    return cleaning.Cleaned(None, (f"民族“{text}”无法识别，未采用",), None)


CLEANERS = {
    "name": cleaning.clean_name,
    "gender": cleaning.clean_gender,
    "birth_date": cleaning.clean_date,
    "date": functools.partial(cleaning.clean_date, what="日期"),  # an attendance day: not a birth date in messages
    "id_number": cleaning.clean_id_number,
    "guardian_name": cleaning.clean_optional_name,
    "guardian_phone": cleaning.clean_phone,
    "national_student_number": cleaning.clean_student_number,
    "school_code": cleaning.clean_school_code,
    "grade": cleaning.clean_grade,
    "ethnicity": clean_ethnicity,
    "household_address": functools.partial(cleaning.clean_text, max_length=cleaning.ADDRESS_LENGTH, what="户籍地址"),
    "current_address": functools.partial(cleaning.clean_text, max_length=cleaning.ADDRESS_LENGTH, what="现住址"),
}
# Cells whose failure to clean just drops the value (with a note) instead of deciding the row.
SOFT_FIELDS = {"guardian_phone", "guardian_name", "ethnicity"}
# In a record's values: why the row could not add a new child (gender or birth date missing), for apply.refuse_strangers.
INCOMPLETE = "incomplete"
# Cells a valid ID number decides anyway: one that cannot be read refuses the row only without one (settle_identity).
FROM_ID = ("gender", "birth_date")
# Columns whose values repeat from row to row: a county has a few dozen townships and a few thousand birth
# dates. (ID numbers, phones and addresses hardly ever repeat. Names do, but not enough: in a list of
# 200,000 children three names in five are new to a bounded cache, and a miss costs more than the usual
# name's cleaning, 0.6 µs: memoised, names took three times as long.)
REPEATING = {"gender", "birth_date", "date", "ethnicity", "township", "village", "guardian_relation",
             "grade", "school_code", "status", "category", "school_name", "school_type", "disability_grade", "study_place",
             "county_code"}


def cleaners_for(fields) -> dict[str, Callable[[Any], cleaning.Cleaned]]:
    """The cleaner of each field for one import, memoised where values repeat.

    Made afresh per import: a date's validity depends on the day the import runs.
    """
    today = timezone.localdate()  # once: the county's calendar day costs more to work out than a date to clean

    def cleaner_for(name):
        cleaner = CLEANERS.get(name, cleaning.clean_text)
        if getattr(cleaner, "func", cleaner) is cleaning.clean_date:
            cleaner = functools.partial(cleaner, today=today)
        return cleaning.memoised(cleaner) if name in REPEATING else cleaner

    return {name: cleaner_for(name) for name in fields}


def columns_for(columns: dict[str, int]) -> list[tuple[str, int, Callable[[Any], cleaning.Cleaned], dict | None]]:
    """(field, column index, cleaner, pool) for each mapped column of a sheet ({field: index}, as HeaderMatch.columns).

    `pool` (for the REPEATING columns) keeps, per distinct text or date cell, the first such cell and what cleaning
    it gave: clean_record puts that cell into the row in place of the equal one read, so that a prepared chunk
    crossing to the importing process (prepare.py) pickles 女, 汉族 or a village's name once, not once per row,
    and the other side decodes it once. (The cleaner, memoised too, serves the cells of other types: numbers.)"""
    cleaners = cleaners_for(columns)
    return [(name, index, cleaners[name], {} if name in REPEATING else None) for name, index in columns.items()]


POOLED = 65_536  # distinct cells a pool keeps (as `memoised`): past that, cells are left as read
POOLABLE = (str, dt.date, dt.datetime)  # as read, a date cell is a new object each row too


def clean_record(row: int, raw: list, columns: list[tuple[str, int, Callable, dict | None]], labels: dict[str, str]) -> Record:
    """Every mapped cell of `raw` cleaned (`columns` from columns_for; a short row gives "" for what it lacks), one
    cell after another: what clean_chunk, which an import uses, must give for each row."""
    record = Record(row=row, raw=raw)
    values = {}
    width = len(raw)
    for name, index, cleaner, pool in columns:
        cell = raw[index] if index < width else ""
        if pool is not None and type(cell) in POOLABLE:
            if (known := pool.get(cell)) is not None:
                cell, result = known[:2]  # the cell met first, and what cleaning it gave
                if index < width:  # a short row (a CSV line that stops early) has no cell there to replace
                    raw[index] = cell
            else:
                result = cleaner(cell)
                if len(pool) < POOLED:
                    pool[cell] = (cell, result, _plain_value(result))
        else:
            result = cleaner(cell)
        if (value := _take(record, name, cell, result, labels)) is not _ABSENT:
            values[name] = value
    values.update(record.values)
    record.values = values
    return record


# Fields whose usual cell a quick path settles for a whole column (cleaning.quick_*), besides those clean_text
# reads (no CLEANERS of their own) and the REPEATING ones.
QUICK = {
    "name": cleaning.quick_names,
    "guardian_name": cleaning.quick_names,
    "guardian_phone": cleaning.quick_phones,
    "household_address": functools.partial(cleaning.quick_texts, max_length=cleaning.ADDRESS_LENGTH),
    "current_address": functools.partial(cleaning.quick_texts, max_length=cleaning.ADDRESS_LENGTH),
}
_ABSENT = cleaning.SLOW  # in a column's values: a blank cell, or one that gave no value


def clean_chunk(items: list[tuple[int, list]], columns: list[tuple[str, int, Callable, dict | None]], labels: dict) -> list[Record]:
    """`clean_record(index + 1, row, …)` for each (index, row) of `items`, worked out column by column: a column's
    usual cells (the ID numbers with nothing to repair, names of letters only, plain text, repeated cells already
    met) are settled by one comprehension over the column, and only the others go through the cleaner and
    `_take` one by one, in the order clean_record takes them (the first error of a row is the one it keeps).
    Here the rows of a large list spend a third of the time clean_record would take."""
    rows = [raw for _, raw in items]
    noted: dict[int, Record] = {}  # the records of rows with a blank or an unusual cell, made as `_take` needs them

    def record_for(i: int) -> Record:
        if (record := noted.get(i)) is None:
            record = noted[i] = Record(items[i][0] + 1, rows[i])
        return record

    names, taken, checked = _clean_columns(rows, columns, labels, record_for)
    given = [dict(zip(names, values, strict=True)) for values in zip(*taken, strict=True)] if taken else [{} for _ in items]
    for i, record in noted.items():  # a row with a blank or an unusual cell
        values = {name: value for name, value in given[i].items() if value is not _ABSENT}
        record.values = {**values, **record.values}  # and what `_take` noted beside them (an unreadable ID number…)
        if record.id_checked is None and checked:
            record.id_checked = checked[i]
    return [noted.get(i) or Record(index + 1, raw, values, id_checked=checked[i] if checked else None)
            for i, ((index, raw), values) in enumerate(zip(items, given, strict=True))]


def clean_rest(records: list[Record], columns: list[tuple[str, int, Callable, dict | None]], labels: dict) -> None:
    """The cells of `columns` cleaned onto `records`, which clean_chunk made from the columns before them (a lagging
    preparer leaves the rest of a chunk to the writing half: prepare.py), as clean_chunk would have cleaned them
    with the others: a later column's repairs after an earlier one's, and a row's first error the first."""
    noted = set()

    def record_for(i: int) -> Record:
        noted.add(i)
        return records[i]

    names, taken, checked = _clean_columns([r.raw for r in records], columns, labels, record_for)
    if not taken:
        return
    for i, (record, values) in enumerate(zip(records, zip(*taken, strict=True), strict=True)):
        if i in noted:
            record.values.update({name: value for name, value in zip(names, values, strict=True) if value is not _ABSENT})
        else:
            record.values.update(zip(names, values, strict=True))
        if record.id_checked is None and checked:
            record.id_checked = checked[i]


def _clean_columns(rows: list[list], columns: list, labels: dict, record_for: Callable[[int], Record]):
    """(names, their values column by column, the IdNumber of each row or None) for `columns` of `rows` (clean_chunk):
    _ABSENT where a cell gave no plain value, whose repairs and error went to `record_for(row's index, …)`."""
    width = min(map(len, rows), default=0)
    names, taken, checked = [], [], None
    for name, index, cleaner, pool in columns:
        cells = [raw[index] for raw in rows] if index < width else [raw[index] if index < len(raw) else "" for raw in rows]
        if pool is not None:
            values = _pooled(cells, rows, index, cleaner, pool, whole=index < width)
        elif name == "id_number":
            values, checked = cleaning.quick_id_numbers(cells)
        elif quick := QUICK.get(name, cleaning.quick_texts if name not in CLEANERS else None):
            values = quick(cells)
        else:  # a cleaner without a quick path (student numbers): every cell goes to it
            values = [_ABSENT] * len(cells)
        if _ABSENT in values:  # (a cleaned value is text, a date or a number: none equals the marker)
            for i in [i for i, value in enumerate(values) if value is _ABSENT]:
                cell = cells[i]
                result = pool[cell][1] if pool is not None and type(cell) in POOLABLE and cell in pool else cleaner(cell)
                values[i] = _take(record_for(i), name, cell, result, labels)
        names.append(name)
        taken.append(values)
    return names, taken, checked


def _pooled(cells: list, rows: list, index: int, cleaner: Callable, pool: dict, *, whole: bool) -> list:
    """A REPEATING column's values (clean_chunk), each distinct cell cleaned once per import, the cell met first put
    into the row in place of the equal one read (columns_for); _ABSENT for a cell that gave no plain value."""
    get = pool.get  # its keys are POOLABLE: a number finds nothing
    known = [get(cell) for cell in cells]
    for i in [i for i, entry in enumerate(known) if entry is None]:
        cell = cells[i]
        if type(cell) not in POOLABLE:
            known[i] = (cell, None, _ABSENT)  # a number: the memoised cleaner, through _take
        elif (entry := get(cell)) is not None:  # met earlier in this chunk
            known[i] = entry
        else:
            result = cleaner(cell)
            known[i] = entry = (cell, result, _plain_value(result))
            if len(pool) < POOLED:
                pool[cell] = entry
    if whole:  # every row reaches the column
        for row, entry in zip(rows, known, strict=True):
            row[index] = entry[0]
    else:  # a short row (a CSV line that stops early) has no cell there to replace
        for row, entry in zip(rows, known, strict=True):
            if index < len(row):
                row[index] = entry[0]
    return [entry[2] for entry in known]


def _plain_value(result: cleaning.Cleaned):
    """A cleaning result's value where nothing was repaired or refused, else _ABSENT (a pool keeps it: _pooled)."""
    return result.value if not result.repairs and result.error is None and result.value not in (None, "") else _ABSENT


def _take(record: Record, name: str, cell, result: cleaning.Cleaned, labels: dict[str, str]):
    """What clean_record does with one cell's cleaning `result`: its repairs and error noted on `record`; returns
    the value, or _ABSENT."""
    if result.repairs:
        column = label(name, labels)
        record.repairs.extend((column, note) for note in result.repairs)
    if result.error:
        if name == "id_number":
            record.id_raw = str(_plain(cell))[:40]
            record.values["id_error"] = result.error
        elif name in SOFT_FIELDS:
            record.repairs.append((label(name, labels), f"{result.error}，未采用"))
        elif name in FROM_ID:
            record.values[name + "_error"] = result.error
        else:
            record.reject(label(name, labels), result.error)
        return _ABSENT
    value = result.value
    if value is None or value == "":
        return _ABSENT
    if name == "id_number":
        record.id_checked = result.detail
    return value


def _plain(cell):
    """A cell as JSON holds it (a row's original cells in its row issue): what is not text or a finite number,
    as it reads. A reader gives times for a time cell (and for a date cell of 1900-01-01) and durations too."""
    if cell is None:
        return ""
    if isinstance(cell, str | int) or (isinstance(cell, float) and math.isfinite(cell)):
        return cell
    if isinstance(cell, dt.date | dt.time):  # a datetime is a date
        return cell.isoformat()
    return str(cell)


def settle_identity(record: Record, labels: dict[str, str], *, needs_person_fields: bool = True) -> None:
    """Decide who the row is: a valid ID, or name + birth date (or a student number) flagged 证件号待核正."""
    if record.rejected:
        return
    v = record.values
    checked = record.id_checked
    if checked is not None and v.get("birth_date") == checked.birth_date and v.get("gender") == checked.gender and "name" in v:
        return  # the usual row: a valid ID number that birth date and gender agree with, nothing to do
    id_col = label("id_number", labels)
    unread = {name: v.pop(name + "_error") for name in FROM_ID if name + "_error" in v}
    if "id_number" in v:
        checked = record.id_checked or normalise_id_number(v["id_number"])
        for name, error in unread.items():  # the ID number says it: the row stands, the cell is flagged
            v[name] = getattr(checked, name)
            told = f"{v[name]:%Y-%m-%d}" if name == "birth_date" else ("男" if v[name] == "M" else "女")
            record.flags.append((label(name, labels), f"{error}；已按证件号取{told}"))
        _agree(record, checked, labels)
    elif unread:
        name, error = next(iter(unread.items()))
        record.reject(label(name, labels), error)
        return
    else:
        identifies = "name" in v and ("birth_date" in v or "national_student_number" in v)
        reason = v.pop("id_error", None)
        if not identifies:
            record.reject(id_col, (reason + "；" if reason else "缺少证件号；") + "姓名与出生日期（或学籍号）也不全，无法识别是谁")
            return
        record.flags.append((id_col, f"{PENDING_ID}：{reason}" if reason else f"{PENDING_ID}：缺少证件号"))
    if "name" not in v:
        record.reject(label("name", labels), "姓名为空")
        return
    if needs_person_fields:
        # Only a row without an ID number can lack these. It can still name a child the county has (by name and
        # birth date, or student number), not add one: the writing half, which can look, decides (apply.refuse_strangers).
        if "gender" not in v:
            v[INCOMPLETE] = (label("gender", labels), "性别为空，且没有可推断性别的证件号")
        elif "birth_date" not in v:
            v[INCOMPLETE] = (label("birth_date", labels), "出生日期为空，且没有可推断出生日期的证件号")


def with_pinyin(records: list[Record]) -> None:
    """Each named record's pinyin, for the child it may add (apply._new_child_row): worked out by the process that
    prepares the rows, which on a large list has time to spare while the importing one writes (prepare.py)."""
    for record in records:
        if (name := record.values.get("name")) and record.error is None:
            record.pinyin = (name, *name_pinyin(name))


def _agree(record: Record, checked, labels: dict[str, str]) -> None:
    """The ID number decides birth date and gender; a disagreeing cell is flagged, not trusted."""
    v = record.values
    if "birth_date" not in v:
        v["birth_date"] = checked.birth_date
        if "birth_date" in labels:  # a list without the column is not repaired, just read through the ID
            record.repairs.append((label("birth_date", labels), "出生日期为空，已按证件号补全"))
    else:
        if told := id_disagrees(record, "birth_date", v["birth_date"], checked):
            record.flags.append((label("birth_date", labels), f"出生日期{v['birth_date']:%Y-%m-%d}与证件号中的{told}不一致，以证件号为准"))
        v["birth_date"] = checked.birth_date
    if "gender" not in v:
        v["gender"] = checked.gender
        if "gender" in labels:
            record.repairs.append((label("gender", labels), "性别为空，已按证件号补全"))
    else:
        if told := id_disagrees(record, "gender", v["gender"], checked):
            record.flags.append((label("gender", labels), f"性别与证件号不一致，以证件号为准（{told}）"))
        v["gender"] = checked.gender


def id_disagrees(record: Record, name: str, given, checked) -> str | None:
    """What the ID number (`checked`) says of `name` (birth_date or gender) as the user reads it (2013-03-04, 男),
    where the row's `given` value is otherwise; None where it agrees, as a birth date given to the month only
    (a repair says so) does within the number's month."""
    says = getattr(checked, name)
    if given == says:
        return None
    if name == "gender":
        return "男" if says == "M" else "女"
    month_only = any("只到月" in note for _, note in record.repairs)
    return None if month_only and (given.year, given.month) == (says.year, says.month) else f"{says:%Y-%m-%d}"
