"""Cell cleaners: one raw spreadsheet cell in, a clean value out, with what was repaired or why it is refused.

Each cleaner returns `Cleaned(value, repairs, error)`. A blank cell is `Cleaned(None)` and no error except
for a name (the caller decides whether a field may be absent). Repairs and errors are in Chinese, for the
import preview and the error report.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from stdnum.cn import ric

from kongchuo.people import names
from kongchuo.people.identity import InvalidIdNumber, normalise_id_number, normalise_student_number, plain_id_number


@dataclass(slots=True)  # not frozen: a frozen dataclass takes three times as long to make, and an import makes millions
class Cleaned:
    value: Any
    repairs: tuple[str, ...] = ()
    error: str | None = None
    # What the cleaner learnt on the way (clean_id_number: the IdNumber with birth date and gender).
    detail: Any = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None


BLANK = Cleaned(None)


def memoised(cleaner: Callable[..., Cleaned], maxsize: int = 65_536) -> Callable[..., Cleaned]:
    """The cleaner with a cache, for one import's low-cardinality columns (gender, dates, township, village…).

    Results are shared, so a Cleaned is never changed once made; `typed` keeps 1, 1.0 and True apart.
    """
    return functools.lru_cache(maxsize=maxsize, typed=True)(cleaner)


_EXCEL_EPOCH = dt.date(1899, 12, 30)  # 1900 date system, past Excel's phantom 1900-02-29
_SPACES = re.compile(r"\s+")


def _is_blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _unwrap(text: str) -> str:
    """Without the marks used to force text in Excel: ="0123" (CSV exporters) and a leading apostrophe."""
    if text.startswith(('="', '＝"')) and text.endswith('"'):
        text = text[2:-1]
    return text.lstrip("'`‘’").strip()


def _text(cell: Any) -> str:
    text = unicodedata.normalize("NFKC", str(cell))
    if not text.isprintable():  # rare: a control or format character (what shows as nothing among them)
        text = names.without_invisible(text)
    return _unwrap(text.strip())


def _integral(value: int | float) -> int | None:
    if isinstance(value, int):
        return value
    return int(value) if math.isfinite(value) and value.is_integer() else None


# -- ID number -------------------------------------------------------------------------------------

_NUMERIC_NOTE = "证件号以数字形式保存，已转为文本"
_LOST_DIGITS = "证件号被Excel以科学计数法保存，后几位已丢失，请将该列设为文本后重新导出"
_DOT_ZERO = re.compile(r"^(\d+)\.0+$")
_SCIENTIFIC = re.compile(r"^\d+(\.\d+)?[eE][+]?\d+$")
_ID_SEPARATORS = re.compile(rf"[\s\-_·{names.INVISIBLE}]")
_PLAIN_ID = re.compile(r"[0-9]{17}[0-9X]\Z")


def clean_id_number(cell: Any) -> Cleaned:
    """An 18-character resident ID number (upper-case X), repairing what spreadsheets do to it.

    The value is the number as text; `detail` is the `identity.IdNumber` (birth date, gender).
    """
    if _is_blank(cell):
        return BLANK
    repairs: list[str] = []
    if isinstance(cell, bool):
        return Cleaned(None, error="证件号不能是逻辑值")
    if isinstance(cell, int):
        text = str(cell)
        repairs.append(_NUMERIC_NOTE)
    elif isinstance(cell, float):
        number = _integral(cell)
        if number is None:
            return Cleaned(None, error=_LOST_DIGITS if cell > 1e10 else "证件号不是有效的号码")
        if len(str(abs(number))) > 15:
            # A double keeps 15-17 significant digits and Excel 15: the last digits are gone.
            return Cleaned(None, error=_LOST_DIGITS)
        text = str(number)  # ≤15 digits survive exactly: a legacy number, upgraded below
        repairs.append(_NUMERIC_NOTE)
    else:
        raw = str(cell).strip()
        text = _unwrap(raw)
        if text != raw:
            repairs.append("已去除强制文本的引号或撇号")
        if _PLAIN_ID.match(text):  # the usual cell: none of the repairs below apply
            return _checked_id(text, repairs)
        folded = _ID_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
        if _SCIENTIFIC.match(folded):
            return Cleaned(None, error=_LOST_DIGITS)
        if m := _DOT_ZERO.match(folded):
            text = m.group(1)
            repairs.append("证件号带有“.0”后缀（曾以数字保存），已去除")
        # Otherwise normalise_id_number folds full-width digits, spaces and x itself, and says so.
    compact = _ID_SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()
    if not _ID_CHARACTERS.match(compact) and (number := _embedded_id(compact)):
        text = compact = number
        repairs.append(_EMBEDDED_NOTE)
    if len(compact) == 17 and compact.isdigit():
        if ric.calc_check_digit(compact + "0") != "X":
            return Cleaned(None, error="证件号只有17位，缺少末位校验码")
        text = compact + "X"
        repairs.append("证件号末位X丢失（曾以数字保存），已按校验码补回X")
    return _checked_id(text, repairs)


_ID_CHARACTERS = re.compile(r"^[0-9X]*$")
_EMBEDDED = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9X])")
_EMBEDDED_NOTE = "证件号单元格中还有其他文字（如“身份证：”、引号、备注），已取出其中的证件号"


def _embedded_id(compact: str) -> str | None:
    """The one 18-character number in a cell that has words or marks around it (身份证：…, "…", …（已核）), when no other
    digit is in the cell (a phone number or a date beside it: which is the number is not for us to guess)."""
    found = _EMBEDDED.findall(compact)
    if len(found) == 1 and sum(ch.isdigit() for ch in compact) == sum(ch.isdigit() for ch in found[0]):
        return found[0]
    return None


def _checked_id(text: str, repairs: list[str]) -> Cleaned:
    try:
        checked = normalise_id_number(text)
    except InvalidIdNumber as exc:
        return Cleaned(None, tuple(repairs), str(exc))
    return Cleaned(checked.number, tuple(repairs) + checked.repairs, detail=checked)


# -- dates -----------------------------------------------------------------------------------------

_TRAILING_TIME = re.compile(r"[ T]+\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
# Between year, month and day: what people type (a full-width comma or stop is one after NFKC); after the day, a
# stray separator (2012.3.5.) is dropped too.
_YMD = re.compile(r"^(\d{4})\s*[-./,年]\s*(\d{1,2})\s*[-./,月]\s*(\d{1,2})\s*[日号]?\s*[-./,。]?$")
_YMD_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_YM = re.compile(r"^(\d{4})\s*[-./,年]\s*(\d{1,2})\s*月?\s*[-./,。]?$")
_YM_COMPACT = re.compile(r"^(\d{4})(\d{2})$")
_SERIAL = re.compile(r"^(\d{4,5})(\.\d+)?$")


def clean_date(cell: Any, *, what: str = "出生日期", min_year: int = 1990, today: dt.date | None = None) -> Cleaned:
    """A date from an Excel date cell, an Excel serial number or text in the formats people type.

    `what` names the field in messages; dates before `min_year` or after `today` are refused.
    """
    if _is_blank(cell):
        return BLANK
    today = today or timezone.localdate()
    repairs: list[str] = []
    if isinstance(cell, bool):
        return Cleaned(None, error=f"{what}不能是逻辑值")
    if isinstance(cell, dt.datetime):
        value = cell.date()
    elif isinstance(cell, dt.date):
        value = cell
    elif isinstance(cell, int | float):
        parsed = _date_from_number(cell, what, today)
        if not parsed.ok:
            return parsed
        value, repairs = parsed.value, list(parsed.repairs)
    else:
        parsed = _date_from_text(_TRAILING_TIME.sub("", _text(cell)), what, today)
        if not parsed.ok:
            return parsed
        value, repairs = parsed.value, list(parsed.repairs)
    if value.year < min_year or value > today:
        return Cleaned(None, error=f"{what}{value:%Y-%m-%d}不在{min_year}年至今天的范围内")
    return Cleaned(value, tuple(repairs))


def _date_from_number(number: float, what: str, today: dt.date) -> Cleaned:
    whole = _integral(number)
    if whole is not None and 19000101 <= whole <= 29991231:
        return _date_from_text(str(whole), what, today)  # 20120305 typed as a number
    if whole is not None and 190001 <= whole <= 299912 and 1 <= whole % 100 <= 12:
        return _date_from_text(str(whole), what, today)  # 201203
    if whole is not None and 1900 <= whole <= today.year:
        return Cleaned(None, error=f"{what}只有年份（{whole}），缺少月和日")
    if not math.isfinite(number) or number < 1 or number >= 2958466:
        return Cleaned(None, error=f"{what}“{number}”不是日期")
    value = _EXCEL_EPOCH + dt.timedelta(days=int(number))
    return Cleaned(value, (f"{what}为Excel日期序号{int(number)}，已转换为{value:%Y-%m-%d}",))


def _date_from_text(text: str, what: str, today: dt.date) -> Cleaned:
    month_only = False
    if m := _DOT_ZERO.match(text):  # 20120305.0: a number exported as text
        text = m.group(1)
    if m := _YMD.match(text) or _YMD_COMPACT.match(text):
        year, month, day = (int(g) for g in m.groups())
    elif m := _YM.match(text) or _YM_COMPACT.match(text):
        (year, month), day, month_only = (int(g) for g in m.groups()), 1, True
    elif m := _SERIAL.match(text):
        return _date_from_number(float(text), what, today)
    else:
        return Cleaned(None, error=f"{what}“{text}”无法识别，请写成 2012-03-05 的形式")
    try:
        value = dt.date(year, month, day)
    except ValueError:
        return Cleaned(None, error=f"{what}“{text}”不存在")
    if month_only:
        note = f"{what}只到月，按1日计" + ("；以证件号为准" if what == "出生日期" else "")
        return Cleaned(value, (note,))
    return Cleaned(value)


# -- gender, name, phone ---------------------------------------------------------------------------

_GENDERS = {
    "男": "M",
    "男性": "M",
    "男生": "M",
    "男孩": "M",
    "M": "M",
    "MALE": "M",
    "1": "M",
    "女": "F",
    "女性": "F",
    "女生": "F",
    "女孩": "F",
    "F": "F",
    "FEMALE": "F",
    "2": "F",
}


def clean_gender(cell: Any) -> Cleaned:
    """ "M" or "F" from 男/女, 1/2 (GB/T 2261.1), M/F in any case."""
    if _is_blank(cell):
        return BLANK
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    key = _SPACES.sub("", _text(cell)).upper()
    if key.endswith(".0"):
        key = key[:-2]
    if key in _GENDERS:
        return Cleaned(_GENDERS[key])
    return Cleaned(None, error=f"性别“{cell}”无法识别，应为男或女")


NAME_LENGTH = 40  # as people_child.name and people_guardian.name hold (PostgreSQL refuses a longer one)
ADDRESS_LENGTH = 200  # as the children's addresses hold


# What a clerk types where there is no name: not a child called 无.
_PLACEHOLDERS = {"无", "空", "暂无", "不详", "未知", "待定", "待查", "待补", "缺", "略", "NULL", "NONE", "N/A", "NA",
                 "-", "--", "—", "——", "/", "\\", "?", "??", "？", "…", "……", "(空)", "(无)"}
PLACEHOLDER_NAMES = frozenset(_PLACEHOLDERS | {p.lower() for p in _PLACEHOLDERS} | {p.capitalize() for p in _PLACEHOLDERS})
_NAME_NOTE = re.compile(r"^(.+?)\s*\(([^()]*)\)$")  # 张三（女）, 李四(已转学): a remark after the name, in brackets
_NAME_MARKS = "*※#★☆△▲●◆■"  # marks a clerk puts before or after a name to pick a row out
_SEVERAL_NAMES = re.compile(r"[、,;/]")  # 张三、李四: two children in one cell


def clean_name(cell: Any) -> Cleaned:
    """A person's name: full-width folded, stray spaces dropped, interpunct unified (买买提·艾力); a remark in brackets
    after it, a mark around it or an apostrophe forcing text taken off (noted); a placeholder (无, 不详, /) is no name."""
    if (type(cell) is str and cell.isalpha() and unicodedata.is_normalized("NFKC", cell) and len(cell) <= NAME_LENGTH
            and cell not in PLACEHOLDER_NAMES):
        return Cleaned(cell)  # the usual cell (letters only: no space, digit or interpunct to fix), as below would find it
    if _is_blank(cell):
        return Cleaned(None, error="姓名为空")
    if not isinstance(cell, str):
        return Cleaned(None, error=f"姓名“{cell}”不是文字")
    repairs = []
    name = names.clean_name(_unwrap(cell.strip()))
    if name.upper() in PLACEHOLDER_NAMES:
        return Cleaned(None, error=f"姓名为空（填的是“{name}”）")
    if (stripped := name.strip(_NAME_MARKS)) != name:
        if not stripped:
            return Cleaned(None, error=f"姓名为空（填的是“{name}”）")
        name = stripped
        repairs.append("姓名前后的标记符号已去除")
    while (m := _NAME_NOTE.match(name)) and m[1].strip(_NAME_MARKS) and m[1].upper() not in PLACEHOLDER_NAMES:
        name = m[1]
        repairs.append(f"姓名后括号中的“{m[2]}”不是姓名的一部分，已去除")
    if _SEVERAL_NAMES.search(name):
        return Cleaned(None, error=f"姓名“{name}”像是几个人的名字，请每人一行")
    if "(" in name or ")" in name:
        return Cleaned(None, error=f"姓名“{name}”中有括号，请只填姓名")
    if not name:
        return Cleaned(None, error="姓名为空")
    if any(ch.isdigit() for ch in name):
        return Cleaned(None, error=f"姓名“{name}”含有数字")
    if len(name) > NAME_LENGTH:
        return Cleaned(None, error=f"姓名过长（超过{NAME_LENGTH}个字）")
    if not repairs and name != cell.strip():
        repairs.append("姓名中的空格或间隔号已规范")
    return Cleaned(name, tuple(repairs))


def clean_optional_name(cell: Any) -> Cleaned:
    """A name a row may leave out (a guardian's): blank is blank, not an error to report."""
    return BLANK if _is_blank(cell) else clean_name(cell)


_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^(0\d{2,3})-?(\d{7,8})$")
_LOCAL = re.compile(r"^\d{7,8}$")
_PHONE_SPLIT = re.compile(r"[/、,;，；\s]+|或")


def clean_phone(cell: Any) -> Cleaned:
    """A mobile (11 digits) or a landline (area code + 7-8 digits, kept as 023-12345678)."""
    if _is_blank(cell):
        return BLANK
    repairs: list[str] = []
    if isinstance(cell, bool):
        return Cleaned(None, error="联系电话格式不正确")
    if isinstance(cell, int | float):
        number = _integral(float(cell))
        if number is None:
            return Cleaned(None, error=f"联系电话“{cell}”格式不正确")
        text = str(number)
    else:
        text = _text(cell)
    if _MOBILE.match(text):
        return Cleaned(text)  # the usual case, as _phone would find it
    candidates = [p for p in _PHONE_SPLIT.split(text) if p]
    if len(candidates) > 1 and all(_phone(p) for p in candidates):
        repairs.append(f"填有多个号码，取第一个：{text}")
        text = candidates[0]
    value = _phone(text)
    if value is None:
        return Cleaned(None, error=f"联系电话“{text}”格式不正确（应为11位手机号或带区号的座机号）")
    return Cleaned(value, tuple(repairs))


_COUNTRY_CODE = re.compile(r"^(\+?86)(?=1[3-9]\d{9}$)")  # before a mobile number


def _phone(text: str) -> str | None:
    compact = _COUNTRY_CODE.sub("", re.sub(r"[\s()（）]", "", text))
    if _MOBILE.match(compact) or _LOCAL.match(compact):
        return compact
    if "-" in compact and _MOBILE.match(mobile := _COUNTRY_CODE.sub("", compact.replace("-", ""))):
        return mobile  # 138-0000-1111, +86-138…: a mobile number has no area code to keep apart
    if m := _LANDLINE.match(compact):
        return f"{m.group(1)}-{m.group(2)}" if "-" in compact else compact
    return None


# -- codes -----------------------------------------------------------------------------------------


def clean_student_number(cell: Any) -> Cleaned:
    """全国学籍号 (G/J/L + code); an ID number in its place becomes G + that number."""
    if _is_blank(cell):
        return BLANK
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return Cleaned(None, error="全国学籍号以数字形式保存，字母和后几位可能已丢失，请重新导出")
    text = _text(cell)
    repairs: tuple[str, ...] = ()
    if len(text) in (18, 15) and text[:17].isdigit():
        as_id = clean_id_number(text)
        if as_id.ok:
            text, repairs = "G" + as_id.value, ("学籍号缺少字头G，已按身份证号补全",)
    try:
        return Cleaned(normalise_student_number(text), repairs)
    except InvalidIdNumber as exc:
        return Cleaned(None, error=str(exc))


def clean_code(cell: Any, *, digits: int, what: str) -> Cleaned:
    """A numeric code of fixed length (school 10, county 6, township 9), also when stored as a number."""
    if _is_blank(cell):
        return BLANK
    repairs: list[str] = []
    if isinstance(cell, bool):
        return Cleaned(None, error=f"{what}应为{digits}位数字")
    if isinstance(cell, int | float):
        number = _integral(float(cell)) if isinstance(cell, float) else cell
        if number is None:
            return Cleaned(None, error=f"{what}“{cell}”应为{digits}位数字")
        text = str(number)
        repairs.append(f"{what}以数字形式保存，已转为文本")
    else:
        text = re.sub(r"\s", "", _text(cell))
        if m := _DOT_ZERO.match(text):
            text = m.group(1)
            repairs.append(f"{what}带有“.0”后缀，已去除")
    if not (text.isdigit() and len(text) == digits):
        return Cleaned(None, error=f"{what}“{text}”应为{digits}位数字")
    return Cleaned(text, tuple(repairs))


def clean_school_code(cell: Any) -> Cleaned:
    return clean_code(cell, digits=10, what="学校标识码")


_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_JUNIOR = re.compile(r"^(?:初中?)([一二三123])(?:年级)?$")
_GRADE = re.compile(r"^(?:小学|初中)?([一二三四五六七八九1-9])年级$")
_GRADE_CODE = {11: 1, 12: 2, 13: 3, 14: 4, 15: 5, 16: 6, 21: 7, 22: 8, 23: 9}  # 学籍系统年级代码


def clean_grade(cell: Any) -> Cleaned:
    """Grade 1-9 of compulsory education: 三年级, 3, 初一 (7), 七年级, 初中一年级 (7), codes 11-16 / 21-23."""
    if _is_blank(cell):
        return BLANK
    if isinstance(cell, bool):
        return Cleaned(None, error="年级格式不正确")
    text = re.sub(r"\s", "", _text(cell))
    if text.endswith(".0"):
        text = text[:-2]
    if text.isdigit():
        number = int(text)
        if 1 <= number <= 9:
            return Cleaned(number)
        if number in _GRADE_CODE:
            return Cleaned(_GRADE_CODE[number], (f"年级代码{number}已转换为{_GRADE_CODE[number]}年级",))
        return Cleaned(None, error=f"年级“{text}”不在义务教育一至九年级之内")
    if m := _JUNIOR.match(text):
        part = m.group(1)
        return Cleaned(6 + (_CN_DIGITS.get(part) or int(part)))
    if m := _GRADE.match(text):
        part = m.group(1)
        return Cleaned(_CN_DIGITS.get(part) or int(part))
    return Cleaned(None, error=f"年级“{text}”无法识别，应为一年级至九年级（或初一至初三）")


# Full-width Latin letters, digits and the ideographic space, as their ASCII forms; nothing else of NFKC, which
# would also turn a school's or an address's Chinese brackets and colons （三组） into ASCII ones.
_WIDTH = {0x3000: " ", **{c: chr(c - 0xFEE0) for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]},
          **dict.fromkeys(map(ord, names.INVISIBLE))}  # and characters that show as nothing, dropped


def clean_text(cell: Any, *, max_length: int | None = None, what: str = "内容") -> Cleaned:
    """Free text: full-width letters and digits folded, trimmed, inner whitespace runs collapsed; numbers and
    dates as they read. Chinese punctuation stays as written (（改名）, not (改名))."""
    if _is_blank(cell):
        return BLANK
    if isinstance(cell, float) and cell.is_integer():
        text = str(int(cell))
    elif isinstance(cell, dt.datetime):
        text = f"{cell:%Y-%m-%d %H:%M:%S}" if cell.time() != dt.time() else f"{cell:%Y-%m-%d}"
    elif isinstance(cell, dt.date):
        text = f"{cell:%Y-%m-%d}"
    else:
        text = _SPACES.sub(" ", str(cell).translate(_WIDTH)).strip()
        if text == cell:  # most cells: the value is the cell itself, which a prepared row then pickles once (prepare.py)
            text = cell
    if max_length is not None and len(text) > max_length:
        return Cleaned(None, error=f"{what}过长（{len(text)}个字，上限{max_length}个）")
    return Cleaned(text)


# -- whole columns -----------------------------------------------------------------------------------
# An import cleans a chunk of rows column by column (records.clean_chunk). For the usual cell of a column these give
# what its cleaner would give, a value with nothing repaired, without calling it: the cell itself (or, for a
# phone number stored as a number, its digits). Any other cell is SLOW, and goes to the cleaner. Each is the
# cleaner's own fast path, as a comprehension over the column.

SLOW = object()  # a cell the column's quick path leaves to its cleaner

# A text clean_text would change: whitespace other than single inner spaces, full-width letters and digits, or
# characters that show as nothing (_WIDTH's).
_RETOUCHED = re.compile("[^\\S ]|  |^ | \\Z|[" + "".join(map(chr, _WIDTH)) + "]")


def quick_names(cells: list) -> list:
    """clean_name's (and clean_optional_name's) usual cell: letters only, already NFKC, not too long."""
    normal = unicodedata.is_normalized
    return [c if type(c) is str and c.isalpha() and len(c) <= NAME_LENGTH and normal("NFKC", c) and c not in PLACEHOLDER_NAMES
            else SLOW for c in cells]


def quick_texts(cells: list, max_length: int | None = None) -> list:
    """clean_text's usual cell: text with nothing to fold, trim or collapse (not blank, not too long)."""
    search, most = _RETOUCHED.search, max_length or math.inf
    return [c if type(c) is str and c and len(c) <= most and search(c) is None else SLOW for c in cells]


_MOBILE_DIGITS = re.compile(r"1[3-9][0-9]{9}")


def quick_phones(cells: list) -> list:
    """clean_phone's usual cell: a mobile number, as text or as a number."""
    mobile = _MOBILE_DIGITS.fullmatch
    return [
        c if type(c) is str and mobile(c) else str(c) if type(c) is int and 13_000_000_000 <= c < 20_000_000_000 else SLOW
        for c in cells
    ]


def quick_id_numbers(cells: list) -> tuple[list, list]:
    """clean_id_number's usual cell, a valid number with nothing to repair: (values, the IdNumber of each)."""
    plain, check = _PLAIN_ID.match, plain_id_number
    details = [check(c) if type(c) is str and plain(c) else None for c in cells]
    return [SLOW if d is None else d.number for d in details], details
