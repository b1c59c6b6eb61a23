"""Resident ID numbers (GB 11643) and national student numbers, checked with python-stdnum.

`normalise_id_number` repairs what a typist or a spreadsheet does to an ID number
(full-width digits, spaces, lower-case x, 15-digit legacy numbers) and rejects what
cannot be repaired, with the reason in Chinese.
"""

import datetime as dt
import functools
import re
import unicodedata
from typing import NamedTuple, NoReturn

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

from kongchuo.people.names import INVISIBLE


class InvalidIdNumber(ValueError):
    """The value cannot be an ID number; `str(exc)` says why in Chinese."""


class IdNumber(NamedTuple):  # not a frozen dataclass, five times as long to make: an import makes one per row
    number: str
    birth_date: dt.date
    gender: str  # "M" or "F", from the order code's parity
    repairs: tuple[str, ...] = ()

    @property
    def county_code(self) -> str:
        return self.number[:6]


_STARTED = dt.date.today() - dt.timedelta(days=1)  # no earlier date is ever "after today" in this process
_SEPARATORS = re.compile(rf"[\s\-_.·{INVISIBLE}]")
_PLAIN = re.compile(r"[0-9]{17}[0-9X]\Z")  # ASCII only: full-width digits are a repair


def normalise_id_number(raw) -> IdNumber:
    if raw is None or str(raw).strip() == "":
        raise InvalidIdNumber("证件号为空")
    text = str(raw)
    if _PLAIN.match(text):  # nothing to repair: the usual case, straight to the check
        return _checked(text, ())
    repairs: list[str] = []
    folded = unicodedata.normalize("NFKC", text)
    if folded != text:
        repairs.append("全角字符已转为半角")
    compact = _SEPARATORS.sub("", folded)
    if compact != folded.strip():
        repairs.append("已去除空格或分隔符")
    if compact.endswith("x"):
        repairs.append("末位小写x已改为X")
    compact = compact.upper()
    if len(compact) == 15 and compact.isdigit():
        compact = upgrade_15_to_18(compact)
        repairs.append("15位旧身份证号已升级为18位")
    if len(compact) != 18:
        raise InvalidIdNumber(f"证件号长度应为18位，实际为{len(compact)}位")
    if not compact[:17].isdigit() or not (compact[17].isdigit() or compact[17] == "X"):
        raise InvalidIdNumber("证件号含有非法字符（前17位应为数字，末位为数字或X）")
    return _checked(compact, tuple(repairs))


def _checked(compact: str, repairs: tuple[str, ...]) -> IdNumber:
    birth_date = _valid_birth_date(compact)
    if birth_date is None:
        _refuse(compact)
    if _after_today(birth_date):
        raise InvalidIdNumber(f"证件号中的出生日期{birth_date:%Y-%m-%d}晚于今天")
    return IdNumber(compact, birth_date, _gender(compact), repairs)


def plain_id_number(text: str) -> IdNumber | None:
    """`normalise_id_number(text)` for a number with nothing to repair (`_PLAIN`: 17 ASCII digits, then a digit or
    X), or None where it would refuse the number (and say why): an import's fast path for the usual cell."""
    birth_date = _valid_birth_date(text)
    return None if birth_date is None or _after_today(birth_date) else IdNumber(text, birth_date, _gender(text))


def _after_today(birth_date: dt.date) -> bool:
    return birth_date >= _STARTED and birth_date > dt.date.today()  # today() only for the newest-born


def _gender(compact: str) -> str:
    return "M" if compact[16] in "13579" else "F"  # the order code's parity


def _valid_birth_date(compact: str) -> dt.date | None:
    """The fast path for a compact 18-character number: its birth date if the number is valid, else None.

    Same checks as stdnum's `ric.validate` (check digit, birth date, region code assigned in the birth
    year), without its repeated cleaning and region lookups: an import checks hundreds of thousands of
    numbers from a few dozen regions.
    """
    return _born(compact[:14]) if compact[17] == ric.calc_check_digit(compact) else None


@functools.lru_cache(maxsize=65_536)  # a county's numbers share a few regions and a few thousand birth dates
def _born(prefix: str) -> dt.date | None:
    """The birth date of a number that begins with `prefix` (region and birth date), if that date exists and the
    region was in use in its year."""
    birth_date = _date(prefix[6:14])
    return birth_date if birth_date is not None and _region_assigned(prefix[:6], birth_date.year) else None


@functools.lru_cache(maxsize=65_536)  # a few thousand birth dates: one object each, which an import's pickles share
def _date(yyyymmdd: str) -> dt.date | None:
    try:
        return dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _region_assigned(region: str, year: int) -> bool:
    """Whether stdnum's region database has `region` as a county code in use in `year`."""
    try:
        ric.get_birth_place(f"{region}{year:04d}01010000")  # only the region and the year matter
    except (stdnum_errors.ValidationError, KeyError):  # KeyError: a known province, an unknown county
        return False
    return True


def _refuse(compact: str) -> NoReturn:
    """The slow path: stdnum decides, and its exception becomes the reason the user reads."""
    try:
        ric.validate(compact)
    except stdnum_errors.InvalidChecksum as exc:
        raise InvalidIdNumber(f"校验位错误（末位应为{ric.calc_check_digit(compact)}）") from exc
    except (stdnum_errors.InvalidComponent, KeyError) as exc:
        try:
            ric.get_birth_date(compact)
        except stdnum_errors.ValidationError:
            raise InvalidIdNumber(f"证件号中的出生日期{compact[6:14]}不存在") from exc
        raise InvalidIdNumber(f"证件号前6位{compact[:6]}不是有效的行政区划代码") from exc
    except stdnum_errors.ValidationError as exc:
        raise InvalidIdNumber(f"证件号无效：{exc}") from exc
    raise AssertionError(f"stdnum accepts {compact} that the fast path refused")  # the two paths disagree: a bug


def upgrade_15_to_18(number15: str) -> str:
    """Legacy 15-digit numbers (issued before 1999) omit the century and the check digit."""
    body = number15[:6] + "19" + number15[6:]
    return body + ric.calc_check_digit(body + "0")


def consistency_errors(id_number: IdNumber, *, birth_date: dt.date | None = None, gender: str | None = None) -> list[tuple[str, str]]:
    """(field, message) for every declared value the ID number contradicts."""
    errors = []
    if birth_date is not None and birth_date != id_number.birth_date:
        errors.append(("birth_date", f"出生日期{birth_date:%Y-%m-%d}与证件号中的{id_number.birth_date:%Y-%m-%d}不一致"))
    if gender and gender != id_number.gender:
        errors.append(("gender", f"性别与证件号不一致（证件号第17位表示{'男' if id_number.gender == 'M' else '女'}）"))
    return errors


_STUDENT_NUMBER = re.compile(r"^(?:G\d{17}[\dX]|J[0-9A-Z]{18}|L[0-9A-Z]{10,19})$")


def normalise_student_number(raw) -> str:
    """全国学籍号: G + 18-digit ID, J + 18 characters, or L + a temporary code."""
    if raw is None or str(raw).strip() == "":
        return ""
    value = _SEPARATORS.sub("", unicodedata.normalize("NFKC", str(raw))).upper()
    if not _STUDENT_NUMBER.match(value):
        raise InvalidIdNumber("全国学籍号格式应为 G+18位身份证号、J+18位字符 或 L+临时编码")
    if value[0] == "G":
        try:
            normalise_id_number(value[1:])
        except InvalidIdNumber as exc:
            raise InvalidIdNumber(f"G字头学籍号中的身份证号无效：{exc}") from exc
    return value


def compose_id_number(region: str, birth_date: dt.date, order: int) -> str:
    """Build a valid 18-digit number (demo data and tests): odd order codes are male, even female."""
    body = f"{region}{birth_date:%Y%m%d}{order:03d}"
    return body + ric.calc_check_digit(body + "0")
