"""ID numbers (GB 11643), national student numbers and names: what is repaired, what is refused and why."""

import datetime as dt

import pytest

from kongchuo.people.identity import (
    InvalidIdNumber,
    compose_id_number,
    consistency_errors,
    normalise_id_number,
    normalise_student_number,
)
from kongchuo.people.names import clean_name, name_pinyin

# 城口县, born 2017-03-05, order code 011 (odd: male). Check digit 2, verified below by hand.
VALID = "500229201703050112"
# Order code 018 gives check digit X.
VALID_X = "50022920170305018X"


def _check_digit(body17: str) -> str:
    """GB 11643 by hand: weights 2^(17-i) mod 11, remainder mapped through 1 0 X 9 8 7 6 5 4 3 2."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


def _refused(raw) -> str:
    with pytest.raises(InvalidIdNumber) as exc:
        normalise_id_number(raw)
    return str(exc.value)


# --- resident ID numbers ------------------------------------------------------------------------


def test_valid_18_digit_number_is_accepted_with_birth_date_and_gender():
    assert _check_digit(VALID[:17]) == VALID[17]
    checked = normalise_id_number(VALID)
    assert checked.number == VALID
    assert checked.birth_date == dt.date(2017, 3, 5)
    assert checked.gender == "M"
    assert checked.county_code == "500229"
    assert checked.repairs == ()


def test_even_order_code_is_female():
    assert normalise_id_number(compose_id_number("500229", dt.date(2017, 3, 5), 12)).gender == "F"


def test_upper_case_x_check_digit_is_accepted():
    assert _check_digit(VALID_X[:17]) == "X"
    assert normalise_id_number(VALID_X).number == VALID_X


def test_wrong_check_digit_names_the_expected_digit():
    wrong = VALID[:17] + "7"
    message = _refused(wrong)
    assert "校验位错误" in message
    assert "末位应为2" in message


def test_impossible_birth_date_is_refused():
    body = "50022920120230123"  # 2012-02-30 does not exist
    message = _refused(body + _check_digit(body))
    assert "出生日期20120230不存在" in message


def test_unknown_region_code_is_refused():
    body = "99999920170305011"
    message = _refused(body + _check_digit(body))
    assert "999999" in message
    assert "行政区划代码" in message


def test_unknown_county_of_a_known_province_is_refused_not_a_crash():
    body = "11999920170305011"  # province 11 (北京) exists, county 9999 does not: stdnum raises KeyError here
    message = _refused(body + _check_digit(body))
    assert "119999" in message and "行政区划代码" in message


def test_region_code_must_have_been_in_use_in_the_birth_year():
    # 110103 (崇文区) was merged away in 2010: a number born then or earlier is fine, after it is not.
    assert normalise_id_number(compose_id_number("110103", dt.date(2009, 6, 1), 11)).county_code == "110103"
    assert "行政区划代码" in _refused(compose_id_number("110103", dt.date(2012, 6, 1), 11))


def test_lower_case_x_is_repaired_and_reported():
    checked = normalise_id_number(VALID_X.lower())
    assert checked.number == VALID_X
    assert "末位小写x已改为X" in checked.repairs


def test_full_width_digits_are_repaired_and_reported():
    full_width = "".join(chr(ord(d) + 0xFEE0) for d in VALID)  # ５００２２９…
    assert full_width.startswith("５００２２９")
    checked = normalise_id_number(full_width)
    assert checked.number == VALID
    assert "全角字符已转为半角" in checked.repairs


def test_full_width_lower_case_x_is_repaired():
    checked = normalise_id_number(VALID_X[:17] + "ｘ")
    assert checked.number == VALID_X


@pytest.mark.parametrize(
    "raw",
    [
        "500229 20170305 0112",
        "500229-20170305-0112",
        "500229\u300020170305\u30000112",  # ideographic space
        " 5002292017 0305 0112 ",
        "500229_20170305.0112",
    ],
)
def test_spaces_and_hyphens_inside_are_repaired(raw):
    checked = normalise_id_number(raw)
    assert checked.number == VALID
    assert "已去除空格或分隔符" in checked.repairs


def test_surrounding_whitespace_alone_is_not_reported_as_a_repair():
    assert normalise_id_number(f"  {VALID}\t").repairs == ()


def test_15_digit_legacy_number_is_upgraded_with_the_right_check_digit():
    # Hand computation for 500229 970801 123 → body 500229 19970801 123:
    # 5·7+0·9+0·10+2·5+2·8+9·4+1·2+9·1+9·6+7·3+0·7+8·9+0·10+1·5+1·8+2·4+3·2 = 282; 282 mod 11 = 7 → "5".
    checked = normalise_id_number("500229970801123")
    assert checked.number == "500229199708011235"
    assert checked.birth_date == dt.date(1997, 8, 1)
    assert checked.gender == "M"
    assert "15位旧身份证号已升级为18位" in checked.repairs


def test_15_digit_upgrade_matches_the_standards_own_example():
    # GB 11643-1999's example: 110105 491231 002 → 11010519491231002X.
    checked = normalise_id_number("110105491231002")
    assert checked.number == "11010519491231002X"
    assert checked.gender == "F"


@pytest.mark.parametrize(
    "raw, length", [("50022920170305", 14), ("5002292017030501120", 19), ("5002292017030501", 16)]
)
def test_wrong_length_is_refused_with_the_length(raw, length):
    assert _refused(raw) == f"证件号长度应为18位，实际为{length}位"


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_empty_is_refused(raw):
    assert _refused(raw) == "证件号为空"


@pytest.mark.parametrize(
    "raw", ["50022920170A050112", "5002292017030501Y2", "500229201703050Z1X", "50022920170305011Y"]
)
def test_letters_in_the_middle_or_a_bad_last_character_are_refused(raw):
    assert "非法字符" in _refused(raw)


def test_future_birth_date_is_refused():
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    message = _refused(compose_id_number("500229", tomorrow, 11))
    assert f"出生日期{tomorrow:%Y-%m-%d}晚于今天" in message


def test_birth_date_today_is_accepted():
    assert normalise_id_number(compose_id_number("500229", dt.date.today(), 11)).birth_date == dt.date.today()


# --- consistency with declared values -------------------------------------------------------------


def test_consistent_declared_values_give_no_errors():
    checked = normalise_id_number(VALID)
    assert consistency_errors(checked, birth_date=dt.date(2017, 3, 5), gender="M") == []
    assert consistency_errors(checked) == []


def test_birth_date_mismatch_is_reported_on_birth_date():
    errors = consistency_errors(normalise_id_number(VALID), birth_date=dt.date(2017, 5, 3))
    assert errors == [("birth_date", "出生日期2017-05-03与证件号中的2017-03-05不一致")]


def test_gender_mismatch_uses_the_parity_of_the_17th_digit():
    male = normalise_id_number(VALID)  # 17th digit 1: male
    female = normalise_id_number(compose_id_number("500229", dt.date(2017, 3, 5), 12))  # 17th digit 2: female
    assert [f for f, _ in consistency_errors(male, gender="F")] == ["gender"]
    assert "第17位表示男" in consistency_errors(male, gender="F")[0][1]
    assert "第17位表示女" in consistency_errors(female, gender="M")[0][1]
    assert consistency_errors(female, gender="F") == []


def test_both_mismatches_are_reported_together():
    errors = consistency_errors(normalise_id_number(VALID), birth_date=dt.date(2016, 1, 1), gender="F")
    assert [f for f, _ in errors] == ["birth_date", "gender"]


# --- national student numbers (全国学籍号) ---------------------------------------------------------


def test_g_number_embeds_a_valid_id_and_is_normalised():
    assert normalise_student_number("G" + VALID) == "G" + VALID
    assert normalise_student_number(" g" + VALID_X.lower()) == "G" + VALID_X
    assert normalise_student_number("Ｇ" + VALID) == "G" + VALID


def test_g_number_with_an_invalid_id_is_refused_with_the_reason():
    with pytest.raises(InvalidIdNumber) as exc:
        normalise_student_number("G" + VALID[:17] + "7")
    assert "G字头学籍号中的身份证号无效" in str(exc.value)
    assert "末位应为2" in str(exc.value)


def test_j_number_has_18_characters_after_the_letter():
    assert normalise_student_number("j2017ab0305cd012345") == "J2017AB0305CD012345"
    for wrong in ("J2017AB0305CD01234", "J2017AB0305CD0123456"):  # 17 and 19 characters
        with pytest.raises(InvalidIdNumber):
            normalise_student_number(wrong)


def test_l_number_is_a_temporary_code():
    assert normalise_student_number("l5002292017000001") == "L5002292017000001"


def test_empty_student_number_is_allowed():
    assert normalise_student_number("") == ""
    assert normalise_student_number(None) == ""


@pytest.mark.parametrize(
    "raw", ["ABC", "G123", "X" + VALID, VALID, "G" + VALID + "1", "L12", "学籍号", "J!@#$%^&*()_+=-[]{}"]
)
def test_garbage_student_numbers_are_refused(raw):
    with pytest.raises(InvalidIdNumber) as exc:
        normalise_student_number(raw)
    assert "全国学籍号格式应为" in str(exc.value) or "G字头" in str(exc.value)


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "买买提·艾力",  # U+00B7, the standard
        "买买提•艾力",  # U+2022 bullet
        "买买提・艾力",  # U+30FB katakana middle dot
        "买买提･艾力",  # U+FF65 half-width katakana middle dot
        "买买提．艾力",  # full-width full stop
        "买买提.艾力",
        "买买提‧艾力",  # U+2027 hyphenation point
        "买买提 · 艾力",
    ],
)
def test_clean_name_unifies_the_interpunct(raw):
    assert clean_name(raw) == "买买提·艾力"


def test_clean_name_removes_stray_spaces_and_folds_full_width():
    assert clean_name("  张 小明 ") == "张小明"
    assert clean_name("张\u3000小明") == "张小明"
    assert clean_name("ＬＩＳＡ王") == "LISA王"
    assert clean_name(None) == ""


def test_name_pinyin_full_and_initials():
    assert name_pinyin("张小明") == ("zhangxiaoming", "zxm")
    assert name_pinyin("买买提·艾力") == ("maimaitiaili", "mmtal")


def test_name_pinyin_survives_rare_characters():
    full, initials = name_pinyin("张𠀾明")  # an Extension B character pypinyin may not know
    assert full.startswith("zhang") and full.endswith("ming")
    assert initials.startswith("z") and initials.endswith("m")
    assert name_pinyin("龘") == ("da", "d")
    assert name_pinyin("") == ("", "")
