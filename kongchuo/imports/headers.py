"""Finding the header of a list: title rows above it, one or two header rows, column names that vary.

`detect_header` looks at the first rows of a sheet and returns which row(s) hold the header, where the
data starts and which column holds each canonical field. Labels are compared after `normalise_label`,
so "性 别", "*身份证号", "乡镇（街道）" and "出生日期：" all match their field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "学生姓名", "儿童姓名", "儿童少年姓名", "幼儿姓名", "残疾人姓名"),
    "gender": ("性别", "学生性别"),
    "birth_date": ("出生日期", "出生年月", "出生年月日", "生日", "出生时间"),
    "id_number": (
        "身份证号", "身份证号码", "公民身份号码", "公民身份证号", "公民身份证号码", "证件号码", "证件号",
        "身份证件号", "身份证件号码", "居民身份证号", "居民身份证号码", "学生身份证号", "学生身份证件号",
        "儿童身份证号",
    ),
    "ethnicity": ("民族",),
    "household_address": ("户籍地址", "户籍所在地", "户口所在地", "住址", "户籍地", "户口地址", "户籍住址"),
    "current_address": ("现住址", "居住地址", "现居住地址", "现居住地", "家庭住址", "家庭地址"),
    "township": ("乡镇", "乡镇(街道)", "所属乡镇", "街道", "乡镇街道", "所属乡镇(街道)", "镇(乡)", "乡(镇)"),
    "village": ("村", "村(社区)", "所属村", "社区", "村社区", "村(居)", "村居", "所属村(社区)"),
    "guardian_name": (
        "监护人", "监护人姓名", "家长姓名", "家长", "监护人名字", "父母姓名", "第一监护人", "第一监护人姓名",
    ),
    "guardian_relation": (
        "与学生关系", "关系", "监护人关系", "与监护人关系", "与儿童关系", "监护人与学生关系", "与本人关系",
        "家长与学生关系", "监护人与儿童关系",
    ),
    "guardian_phone": (
        "联系电话", "电话", "监护人电话", "手机号", "手机号码", "联系方式", "监护人联系电话", "监护人手机号",
        "监护人手机", "家长电话", "家长联系电话", "家长手机号", "手机", "联系电话(手机)",
    ),
    "national_student_number": ("全国学籍号", "学籍号", "学籍辅号", "全国学籍号码", "学生学籍号", "学籍编号"),
    "school_code": ("学校标识码", "学校代码", "学校识别码", "学校标识号"),
    "school_name": ("学校名称", "学校", "就读学校", "所在学校", "就读学校名称", "现就读学校"),
    "grade": ("年级", "就读年级", "所在年级"),
    "class_name": ("班级", "班级名称", "班别", "所在班级", "班"),
    "status": ("学生状态", "学籍状态", "状态", "考勤状态", "出勤状态", "在校状态"),
    "date": ("日期", "考勤日期", "缺勤日期", "出勤日期"),
    "school_type": ("办学类型", "学校类型", "学校类别"),
    "county_code": ("所属区县代码", "区县代码", "县区代码", "区县行政区划代码", "所属区县"),
    "category": (
        "类别", "残疾类别", "困难类型", "人员类别", "救助类别", "帮扶类别", "困难类别", "户类型", "群体类别",
    ),
    "disability_grade": ("残疾等级", "等级", "残疾级别"),
    "certificate_no": ("残疾证号", "证件编号", "残疾人证号", "残疾证号码", "残疾人证号码"),
    "study_place": ("就读地", "就读省市", "就读地区", "就读省份", "就读地点", "就读地址"),
}

# What the user is shown for a field: its first synonym.
FIELD_LABELS: dict[str, str] = {f: synonyms[0] for f, synonyms in FIELD_SYNONYMS.items()}

# Header words that group the columns below them; a child "姓名" under "监护人" is the guardian's name.
_GUARDIAN_GROUPS = (
    "监护人", "家长", "父母", "父亲", "母亲", "第一监护人", "监护人信息", "监护人情况", "家长信息",
)
_GROUPS = _GUARDIAN_GROUPS + (
    "学生信息", "基本信息", "学生基本信息", "儿童信息", "学籍信息", "户籍信息", "家庭信息", "学校信息",
    "就读信息", "残疾信息", "联系方式", "个人信息", "身份信息",
)
_GUARDIAN_CHILD = {
    "name": "guardian_name", "guardian_phone": "guardian_phone", "guardian_relation": "guardian_relation",
}

_SPACE = re.compile(r"\s+")
_PARENTHESISED = re.compile(r"\([^()]*\)")
_DIGITS = re.compile(r"\d+")


class HeaderNotFound(Exception):
    """No row looks like the header the import needs; `str(exc)` says what is missing, in Chinese."""


def normalise_label(cell: Any) -> str:
    """NFKC (full-width brackets and colons become ASCII); no whitespace, "*" markers or trailing ":"."""
    if cell is None:
        return ""
    text = unicodedata.normalize("NFKC", str(cell))
    text = _SPACE.sub("", text).replace("*", "")
    return text.rstrip(":")


_LOOKUP: dict[str, str] = {}
for _field, _synonyms in FIELD_SYNONYMS.items():
    for _synonym in _synonyms:
        _LOOKUP.setdefault(normalise_label(_synonym), _field)


def label_field(label: str) -> str | None:
    """The field a normalised label names: exactly, else without a parenthesised note or numbering."""
    if not label:
        return None
    if label in _LOOKUP:
        return _LOOKUP[label]
    for variant in (_PARENTHESISED.sub("", label), _DIGITS.sub("", label)):
        if variant and variant in _LOOKUP:
            return _LOOKUP[variant]
    return None


@dataclass
class HeaderMatch:
    header_rows: tuple[int, ...]
    data_start: int
    columns: dict[str, int]
    labels: list[str]
    unknown: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # labels of a field a column to the left has
    missing: list[str] = field(default_factory=list)  # requested optional fields not found
    parts: list[tuple[str, str]] = field(default_factory=list, repr=False)  # (upper, lower) label per column
    header_cells: frozenset[str] = field(default=frozenset(), repr=False)  # header texts, raw and normalised

    def record(self, row: list) -> dict[str, Any]:
        """{field: cell} for one data row; a short row gives "" for the columns it lacks."""
        return {f: (row[i] if i < len(row) else "") for f, i in self.columns.items()}

    def is_header_repeat(self, row: list, filled: list | None = None) -> bool:
        """A printout repeats its header (or one of its two rows) on every page; such rows are not data.
        (`filled`: the row's non-blank cells, stripped, when the caller has them.)"""
        # Most rows share no cell with the header: a set lookup settles them before any normalising.
        if self.header_cells and self.header_cells.isdisjoint(_filled_cells(row) if filled is None else filled):
            return False
        labelled = hits = 0
        for j, cell in enumerate(row):
            label = normalise_label(cell)
            if not label:
                continue
            labelled += 1
            if j < len(self.parts) and label in (self.parts[j][0], self.parts[j][1], "".join(self.parts[j])):
                hits += 1
        return hits == labelled > 0 or (hits >= 2 and hits * 2 > labelled)


def detect_header(
    rows: list[list],
    fields: Collection[str],
    *,
    required: Collection[str] = (),
    override: dict[str, str] | None = None,
    scan_rows: int = 20,
) -> HeaderMatch:
    """Find the header among the first `scan_rows` rows and map `fields` to columns.

    Title rows (one filled cell, as a merged title leaves) are skipped; a second header row below a
    row of group labels (监护人 over 姓名 | 联系电话) is combined with it. `override` maps field → header
    label as the user saved it for this source (the combined label for two-row headers, as in
    `HeaderMatch.labels`); it wins over synonyms. Raises HeaderNotFound if no row matches anything or a
    `required` field has no column.
    """
    wanted = set(fields) | set(required) | set(override or {})
    overridden = {normalise_label(label): f for f, label in (override or {}).items()}
    head = [list(r) for r in rows[:scan_rows]]

    best: HeaderMatch | None = None
    best_score = (0, 0, 0)
    for i, row in enumerate(head):
        if _filled(row) < 2 and not (len(wanted) == 1 and _filled(row) == 1):
            continue  # blank, or a title row (a merged title leaves one non-empty cell)
        candidates = [((i,), [(normalise_label(c), "") for c in row])]
        if i + 1 < len(head) and _is_group_row(row, overridden) and _is_subheader(head[i + 1], overridden):
            candidates.append(((i, i + 1), _combine(row, head[i + 1])))
        for header_rows, parts in candidates:
            match = _assign(parts, wanted, overridden)
            match.header_rows = header_rows
            match.data_start = header_rows[-1] + 1
            score = (len(set(required) & match.columns.keys()), len(match.columns), len(header_rows))
            if match.columns and score > best_score:
                best, best_score = match, score

    if best is None:
        seen = [label for row in head for c in row if (label := normalise_label(c))]
        raise HeaderNotFound(
            f"在前 {scan_rows} 行中没有找到表头（应包含{_field_names(required or fields)}等列）；"
            f"表中看到的内容：{_quote(seen)}"
        )
    missing_required = [f for f in required if f not in best.columns]
    if missing_required:
        raise HeaderNotFound(
            f"缺少必需的列：{_field_names(missing_required)}；表头中看到的列名：{_quote(best.labels)}。"
            "请检查表头，或手动指定各列对应的字段"
        )
    best.missing = [f for f in fields if f not in best.columns]
    raw = {str(c).strip() for r in best.header_rows for c in head[r] if not _blank(c)}
    best.header_cells = frozenset(raw | {p for part in best.parts for p in part if p})
    return best


def _filled(row: list) -> int:
    return sum(1 for c in row if not _blank(c))


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _known(label: str, overridden: dict[str, str]) -> bool:
    return label in overridden or label_field(label) is not None


def _is_group_row(row: list, overridden: dict[str, str]) -> bool:
    """The upper row of a two-row header: field labels and group labels, no free text."""
    labels = [normalise_label(c) for c in row if not _blank(c)]
    known = sum(1 for lb in labels if _known(lb, overridden) or _DIGITS.sub("", lb) in _GROUPS)
    return bool(labels) and known * 2 >= len(labels)


def _is_subheader(row: list, overridden: dict[str, str]) -> bool:
    """The lower row of a two-row header: mostly field labels, not data."""
    labels = [normalise_label(c) for c in row if not _blank(c)]
    known = sum(1 for lb in labels if _known(lb, overridden))
    return bool(labels) and known * 2 >= len(labels)


def _combine(top: list, bottom: list) -> list[tuple[str, str]]:
    """(upper, lower) per column; a group label spans the blank cells to its right that have a label below."""
    parts = []
    parent = ""
    for j in range(max(len(top), len(bottom))):
        upper = normalise_label(top[j]) if j < len(top) else ""
        lower = normalise_label(bottom[j]) if j < len(bottom) else ""
        if upper:
            parent = upper if lower else ""  # a label with nothing below was merged down, and groups nothing
            parts.append((upper, lower))
        elif lower:
            parts.append((parent, lower))
        else:
            parent = ""
            parts.append(("", ""))
    return parts


def _assign(parts: list[tuple[str, str]], wanted: set[str], overridden: dict[str, str]) -> HeaderMatch:
    labels = [upper + lower for upper, lower in parts]
    columns: dict[str, int] = {}
    for j, label in enumerate(labels):  # a saved mapping wins: its columns are taken first
        f = overridden.get(label)
        if f and f not in columns:
            columns[f] = j
    taken = set(columns.values())
    resolved = [_resolve(upper, lower, overridden) for upper, lower in parts]
    unknown: list[str] = []
    duplicates: list[str] = []
    for j, f in enumerate(resolved):
        if j in taken or not labels[j]:
            continue
        if f is None or f not in wanted:
            unknown.append(labels[j])
            continue
        if f == "name" and "name" in columns:
            f = _second_name(j, resolved)
        if f in columns:
            duplicates.append(labels[j])
            continue
        columns[f] = j
    return HeaderMatch(
        header_rows=(), data_start=0, columns=columns, labels=labels, unknown=unknown, duplicates=duplicates,
        parts=parts,
    )


def _resolve(upper: str, lower: str, overridden: dict[str, str]) -> str | None:
    whole = upper + lower
    if whole in overridden:
        return overridden[whole]
    if f := label_field(whole):
        return f
    if not (upper and lower):
        return None
    child = label_field(lower)
    if _DIGITS.sub("", upper) in _GUARDIAN_GROUPS:
        return _GUARDIAN_CHILD.get(child or "")  # the guardian's own ID number is not the child's
    return child or label_field(upper)


def _second_name(j: int, resolved: list[str | None]) -> str:
    """A second 姓名 column next to the guardian's phone or relation is the guardian's name."""
    neighbours = {resolved[k] for k in (j - 1, j + 1, j + 2) if 0 <= k < len(resolved)}
    return "guardian_name" if neighbours & {"guardian_phone", "guardian_relation"} else "name"


def _field_names(fields: Iterable[str]) -> str:
    return "、".join(f"“{FIELD_LABELS.get(f, f)}”" for f in fields)


def _quote(labels: list[str], limit: int = 30) -> str:
    """Cells for a message, none with a run of digits in it: the cells of a sheet without a header may be a
    child's (an ID number, a birth date), and a message is shown and stored."""
    shown = [lb for lb in labels if lb and not _DIGIT_RUN.search(lb)][:limit]
    return "、".join(shown) if shown else "（空）"


_DIGIT_RUN = re.compile(r"\d{4}")


# -- rows that are not data ------------------------------------------------------------------------

_FOOTER_WORDS = (
    "制表", "填表", "审核", "负责人", "填报", "统计", "经办人", "复核", "校长签字", "签字",
    "签名", "盖章", "联系人",
)  # in the row's first cell (制表人：…, 制表：…, 审核：…, 填报日期：…)
# What a cell of a signature line starts with; two such cells in a row make it one wherever they stand.
_SIGNATURE_STARTS = (*_FOOTER_WORDS, "日期", "时间", "联系电话", "电话", "单位", "打印", "导出")
_FIRST_CELL_FOOTER = re.compile(r"^((日期|时间|打印|导出)|第\d+页)")
_LIST_TITLE = re.compile(r"名单|花名册|名册|统计表|一览表|汇总表|台账")
_TOTAL_PREFIXES = ("合计", "总计", "小计", "共计")
_NOTE_PREFIXES = ("备注:", "注:", "说明:", "填表说明", "备注")


def is_blank_row(row: Iterable[Any]) -> bool:
    return all(_blank(c) for c in row)


def _filled_cells(row: list) -> list:
    """The row's non-blank cells, in order, text stripped (every row of a file comes here: _blank(c), inlined)."""
    return [s for c in row if (s := c.strip() if isinstance(c, str) else c) is not None and s != ""]


def is_footer_row(row: list) -> bool:
    """Signature lines (制表人：… 审核人：… 日期：…), totals (合计/总计), notes (备注/注：) under the data."""
    return _is_footer(_filled_cells(row))


def _is_footer(filled: list) -> bool:
    """Whether a row's non-blank cells (`filled`) are not data: a signature line (制表人：… 审核人：… 日期：…),
    a total (合计), a note (注/备注：…), a page number, or the title of the next block of a list pasted
    together from several (城口县坪坝镇困难儿童名单). A row with a 15-digit number in it (an ID number) is
    always data.

    A signature line is told by its first cell (制表人：…), or by two cells that start as its cells do
    (单位：… 制表人：…). One such cell further along is a child's remark (联系人：村主任, 监护人已签字确认):
    a department's list of three or four columns must not lose that child."""
    if not filled or not isinstance(filled[0], str):
        return False
    first = normalise_label(filled[0])
    if first.startswith(_TOTAL_PREFIXES):
        return not _names_someone(filled)
    if len(filled) > 8:  # a data row, however sparse, has more (and most rows of a household list stop here)
        return False
    raw = unicodedata.normalize("NFKC", filled[0]).replace(" ", "")
    footer = (
        raw.startswith(_NOTE_PREFIXES)
        or any(word in first for word in _FOOTER_WORDS)
        or _FIRST_CELL_FOOTER.match(raw)
        or (len(filled) == 1 and _LIST_TITLE.search(first))
        or sum(1 for c in filled if isinstance(c, str) and normalise_label(c).startswith(_SIGNATURE_STARTS)) >= 2
    )
    return bool(footer) and not _names_someone(filled)


# 15 digits or more, or such a number as Excel writes it in text (5.00229E+17)
_LONG_NUMBER = re.compile(r"\d{15}|\d\.\d+[eE]\+?1[4-9]")


def _names_someone(cells: list) -> bool:
    """Whether a cell holds a number of 15 digits or more (an ID number, a student number's digits)."""
    for cell in cells:
        if isinstance(cell, int | float) and not isinstance(cell, bool):
            if abs(cell) >= 1e14:
                return True
        elif isinstance(cell, str) and _LONG_NUMBER.search(unicodedata.normalize("NFKC", cell).replace(" ", "")):
            return True
    return False


# -- sheets without a header -------------------------------------------------------------------------


def likely_header(head: list[list]) -> list[str]:
    """The cells of the row among `head` that looks most like a header whose titles no synonym knows: the most
    cells of text without a run of digits (a child's row has an ID number, a birth date), the first of equals
    (a header comes before its rows)."""
    texts = [[c.strip() if isinstance(c, str) and not _DIGIT_RUN.search(c) else "" for c in row] for row in head]
    return max(texts, key=lambda row: sum(1 for t in row if t), default=[])  # max keeps the first of equals


def holds_ids(head: list[list]) -> bool:
    """Whether two or more of these rows hold an ID number (15 digits or more): a list, not notes."""
    return sum(1 for row in head if _names_someone(row)) >= 2


def iter_data_rows(rows: Iterable[list], match: HeaderMatch) -> Iterator[tuple[int, list]]:
    """(row index, row) for each data row of a sheet, from `match.data_start` on.

    `rows` is the whole sheet from its first row (the same iterator the header was read from is fine if
    it is restarted, or use itertools.chain(head, rest)). Blank rows, footer rows and repeated headers are
    skipped.
    """
    header = match.header_cells
    mapped = sorted(match.columns.values())
    for index, row in enumerate(rows):
        if index < match.data_start:
            continue
        if (row and type(row[0]) in (int, float) and header and header.isdisjoint(map(_strip, filter(_is_text, row)))
                and _fills_a_column(row, mapped)):
            # The usual row of a numbered list (序号): not blank, no footer (its first cell is not text), no text of the
            # header in it (what is_header_repeat looks for first), something in a column read: as the tests below find.
            yield index, row
            continue
        filled = _filled_cells(row)  # once for the tests: every row of the file comes here
        if filled and not _is_footer(filled) and not match.is_header_repeat(row, filled) and not says_nothing(row, mapped):
            yield index, row


_is_text, _strip = str.__instancecheck__, str.strip  # iter_data_rows: each row's text cells, stripped, without a loop in Python


def _fills_a_column(row: list, mapped: list[int]) -> bool:
    """Whether a cell of the row in one of the `mapped` columns is not blank (the first, a name, mostly is not)."""
    width = len(row)
    for j in mapped:
        if j < width and (cell := row[j]) is not None and cell != "" and (type(cell) is not str or cell.strip()):
            return True
    return False


def says_nothing(row: list, mapped: list[int]) -> bool:
    """Whether the row's only filled cells are numbers outside the `mapped` columns: a template's row numbers (序号)
    printed down a sheet that was filled in only so far. Such a row is blank, not a child without a name."""
    if _fills_a_column(row, mapped):
        return False
    for cell in row:
        if isinstance(cell, str):
            if (text := cell.strip()) and not text.isdigit():
                return False
        elif cell is not None and not isinstance(cell, int | float):
            return False
    return True


def iter_records(rows: Iterable[list], match: HeaderMatch) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row index, {field: cell}) for each data row of a sheet (iter_data_rows)."""
    for index, row in iter_data_rows(rows, match):
        yield index, match.record(row)
