"""Cell cleaners: what spreadsheets do to IDs, dates, genders, names and codes is repaired or refused."""

import datetime as dt

import pytest
from stdnum.cn import ric

from kongchuo.imports.cleaning import (
    Cleaned,
    clean_date,
    clean_gender,
    clean_grade,
    clean_id_number,
    clean_name,
    clean_phone,
    clean_school_code,
    clean_student_number,
    clean_text,
    memoised,
)
from kongchuo.imports.headers import detect_header, iter_records
from kongchuo.imports.readers import iter_sheets
from tests import imports_messy_files as messy

ID1, ID_X = messy.ID1, messy.ID_X
B1 = dt.date(2012, 3, 5)
TODAY = dt.date(2026, 6, 1)


def _with_check_digit(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


# -- ID numbers --------------------------------------------------------------------------------------


def test_a_clean_id_passes_unchanged_with_what_it_encodes():
    cleaned = clean_id_number(ID1)
    assert cleaned == Cleaned(ID1)
    assert (cleaned.detail.birth_date, cleaned.detail.gender) == (B1, "M")


def test_blank_id_is_absent_not_an_error():
    assert clean_id_number("") == Cleaned(None) == clean_id_number(None) == clean_id_number("  ")


@pytest.mark.parametrize(
    ("cell", "note"),
    [
        (f" {ID1[:6]} {ID1[6:14]} {ID1[14:]} ", "已去除空格或分隔符"),
        (ID1.translate(str.maketrans("0123456789", "０１２３４５６７８９")), "全角字符已转为半角"),
        (ID_X.lower(), "末位小写x已改为X"),
        (ID1 + ".0", "“.0”后缀"),
        (f'="{ID1}"', "强制文本"),
        (f"'{ID1}", "强制文本"),
        (int(ID1), "以数字形式保存"),
        (f"身份证：{ID1}", "已取出其中的证件号"),  # words, quotes or a remark around the number
        (f'"{ID1}"', "已取出其中的证件号"),
        (f"{ID1}（已核实）", "已取出其中的证件号"),
        (f"身份证号 {ID_X[:6]} {ID_X[6:].lower()}", "已取出其中的证件号"),
    ],
)
def test_repairable_id_numbers_are_repaired_and_reported(cell, note):
    cleaned = clean_id_number(cell)
    assert cleaned.value == (ID_X if "x" in str(cell) else ID1)
    assert cleaned.error is None
    assert any(note in r for r in cleaned.repairs), cleaned.repairs


def test_a_17_digit_number_whose_check_digit_is_x_gets_its_x_back():
    for cell in (ID_X[:17], int(ID_X[:17])):
        cleaned = clean_id_number(cell)
        assert cleaned.value == ID_X
        assert any("末位X丢失" in r for r in cleaned.repairs)


def test_a_17_digit_number_that_cannot_have_lost_an_x_is_refused():
    assert not ID1.endswith("X")
    cleaned = clean_id_number(ID1[:17])
    assert cleaned.value is None and "17位" in cleaned.error


@pytest.mark.parametrize("cell", [5.00229201203051e17, float(ID1), "5.00229E+17", "5.002292012E17"])
def test_scientific_notation_lost_digits_and_is_refused(cell):
    cleaned = clean_id_number(cell)
    assert cleaned.value is None
    assert cleaned.error == "证件号被Excel以科学计数法保存，后几位已丢失，请将该列设为文本后重新导出"


@pytest.mark.parametrize("cell", [messy.LEGACY_15, float(messy.LEGACY_15), int(messy.LEGACY_15)])
def test_a_15_digit_legacy_number_is_upgraded(cell):
    cleaned = clean_id_number(cell)
    assert cleaned.value == messy.LEGACY_18
    assert any("15位" in r for r in cleaned.repairs)


@pytest.mark.parametrize(
    ("cell", "error"),
    [
        (ID1[:17] + "0", "校验位错误"),
        ("50022920120305", "长度"),
        (_with_check_digit("50022920121305001"), "出生日期20121305不存在"),
        (True, "逻辑值"),
        (f"身份证：{ID1} 电话13800001111", "长度"),  # another number beside it: which is the ID is not guessed
        (f"{ID1}/{ID_X}", "长度"),
        (f"{ID1}2", "长度"),
    ],
)
def test_invalid_id_numbers_are_refused_with_the_reason(cell, error):
    cleaned = clean_id_number(cell)
    assert cleaned.value is None and error in cleaned.error


# -- dates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        "2012.3.5", "20120305", "2012/03/05", "2012-03-05", "2012年3月5日", "2012年03月05日", "2012-3-5",
        "2012-03-05 00:00:00", "2012/3/5 0:00", "２０１２－０３－０５", 20120305, 20120305.0, "20120305.0",
        dt.date(2012, 3, 5), dt.datetime(2012, 3, 5, 8, 30),
        "2012.03.05.", "2012.3.5。", "2012年3月5日。", "2012，3，5", "2012,3,5",  # a stray stop after, commas between
    ],
)
def test_day_precision_dates_in_every_format(cell):
    assert clean_date(cell, today=TODAY).value == B1


@pytest.mark.parametrize("cell", [40973, 40973.0, 40973.75, "40973"])
def test_excel_serial_numbers_are_dates_in_the_1900_system(cell):
    cleaned = clean_date(cell, today=TODAY)
    assert cleaned.value == B1
    assert any("Excel日期序号" in r for r in cleaned.repairs)


@pytest.mark.parametrize("cell", ["2012-03", "2012.03", "2012年3月", "2012.3", "201203", 201203])
def test_month_precision_dates_become_the_first_with_a_note(cell):
    cleaned = clean_date(cell, today=TODAY)
    assert cleaned.value == dt.date(2012, 3, 1)
    assert cleaned.repairs == ("出生日期只到月，按1日计；以证件号为准",)


@pytest.mark.parametrize(
    ("cell", "error"),
    [
        ("2012-02-30", "不存在"),
        ("2012.13.1", "不存在"),
        ("1985-03-05", "不在1990年至今天的范围内"),
        ("2027-01-01", "不在1990年至今天的范围内"),
        (2012, "只有年份"),
        ("明年三月", "无法识别"),
        (True, "逻辑值"),
    ],
)
def test_impossible_dates_are_refused(cell, error):
    cleaned = clean_date(cell, today=TODAY)
    assert cleaned.value is None and error in cleaned.error


def test_blank_date_and_other_fields_named_in_messages():
    assert clean_date("") == Cleaned(None)
    assert clean_date("2012-03", what="考勤日期", today=TODAY).repairs == ("考勤日期只到月，按1日计",)
    assert clean_date("1985-01-01", what="考勤日期").error.startswith("考勤日期1985-01-01")


# -- gender, name, phone -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "value"),
    [("男", "M"), ("女", "F"), ("男性", "M"), ("女性", "F"), ("1", "M"), ("2", "F"), (1, "M"), (2.0, "F"),
     ("1.0", "M"), ("M", "M"), ("f", "F"), ("m", "M"), (" 女 ", "F"), ("Female", "F")],
)
def test_gender_variants(cell, value):
    assert clean_gender(cell) == Cleaned(value)


@pytest.mark.parametrize("cell", ["未知", "0", 3, "男女"])
def test_unknown_genders_are_refused(cell):
    assert "性别" in clean_gender(cell).error


@pytest.mark.parametrize(
    ("cell", "value", "repaired"),
    [
        ("王小明", "王小明", False),
        (" 王小明 ", "王小明", False),
        ("王 小 明", "王小明", True),
        ("买买提.艾力", "买买提·艾力", True),
        ("阿依古丽•吐尔逊", "阿依古丽·吐尔逊", True),
        ("买买提·艾力", "买买提·艾力", False),
        ("张三（女）", "张三", True),  # a remark in brackets after the name, a mark to pick the row out, Excel's apostrophe
        ("李四(已转学) (残疾)", "李四", True),
        ("※王五", "王五", True),
        ("赵六*", "赵六", True),
        ("'孙七", "孙七", True),
        ("王\u3000小明", "王小明", True),
    ],
)
def test_names_are_cleaned_and_repairs_noted(cell, value, repaired):
    cleaned = clean_name(cell)
    assert cleaned.value == value and cleaned.error is None
    assert bool(cleaned.repairs) is repaired


@pytest.mark.parametrize(("cell", "error"), [
    ("", "姓名为空"), (None, "姓名为空"), ("王小明2", "含有数字"), (3.0, "不是文字"),
    ("无", "姓名为空（填的是“无”）"), ("不详", "姓名为空"), ("null", "姓名为空"), ("/", "姓名为空"), ("（空）", "姓名为空"),  # placeholders
    ("*", "姓名为空"), ("张三、李四", "几个人的名字"), ("王五/赵六", "几个人的名字"), ("（女）", "括号"), ("张(三)明", "括号"),
])
def test_bad_names_are_refused(cell, error):
    assert error in clean_name(cell).error


@pytest.mark.parametrize(
    ("cell", "value"),
    [("13812345678", "13812345678"), (13812345678, "13812345678"), (13812345678.0, "13812345678"),
     ("138 1234 5678", "13812345678"), ("+8613812345678", "13812345678"), ("023-12345678", "023-12345678"),
     ("02312345678", "02312345678"), ("12345678", "12345678"),
     ("138-1234-5678", "13812345678"), ("+86-138-1234-5678", "13812345678"), ("0231-2345678", "0231-2345678")],
)
def test_phone_numbers(cell, value):
    assert clean_phone(cell).value == value


def test_several_phone_numbers_keep_the_first_with_a_note():
    cleaned = clean_phone("13812345678/13912345678")
    assert cleaned.value == "13812345678" and cleaned.repairs


def test_a_bad_phone_is_refused():
    assert "联系电话" in clean_phone("1381234567").error


# -- codes and grades --------------------------------------------------------------------------------


def test_student_numbers():
    assert clean_student_number("g" + ID1).value == "G" + ID1
    assert clean_student_number("").value is None
    assert clean_student_number(ID1) == Cleaned("G" + ID1, ("学籍号缺少字头G，已按身份证号补全",))
    assert "数字形式" in clean_student_number(5.0e17).error
    assert clean_student_number("X123").error


@pytest.mark.parametrize("cell", ["5002290001", 5002290001, 5002290001.0, "5002290001.0", " 5002290001 "])
def test_school_codes_stored_as_numbers_are_fixed(cell):
    assert clean_school_code(cell).value == "5002290001"


def test_a_short_school_code_is_refused():
    assert "10位数字" in clean_school_code("500229001").error


@pytest.mark.parametrize(
    ("cell", "grade"),
    [("三年级", 3), ("3", 3), (3, 3), (3.0, 3), ("初一", 7), ("初二", 8), ("初三", 9), ("七年级", 7),
     ("九年级", 9), ("初中一年级", 7), ("1年级", 1), ("小学六年级", 6), (12, 2), (21, 7)],
)
def test_grades(cell, grade):
    assert clean_grade(cell).value == grade


@pytest.mark.parametrize("cell", ["高一", "学前班", 10, "十年级"])
def test_grades_outside_compulsory_education_are_refused(cell):
    assert "年级" in clean_grade(cell).error


def test_memoised_cleaners_keep_types_apart():
    gender = memoised(clean_gender)
    assert gender("男") is gender("男")
    assert gender(1).value == "M" and gender(True).error  # 1 and True hash alike but clean differently
    assert clean_gender(True).error


def test_text():
    assert clean_text("  重庆市城口县\n葛城街道  ").value == "重庆市城口县 葛城街道"
    assert clean_text(5002291.0).value == "5002291"
    assert clean_text(dt.date(2012, 3, 5)).value == "2012-03-05"
    assert clean_text("") == Cleaned(None)
    # Chinese punctuation as written; full-width letters, digits and spaces folded.
    assert clean_text("城口县第２小学（原巴山小学）　ＡＢ班").value == "城口县第2小学（原巴山小学） AB班"
    assert "过长" in clean_text("很长" * 10, max_length=5).error


# -- the messy household file, read back through the real readers -----------------------------------


def test_every_messy_household_row_cleans_as_expected(tmp_path):
    rows = list(iter_sheets(messy.write_household_xlsx(tmp_path / "花名册.xlsx"))[0].rows)
    records = [record for _, record in iter_records(rows, detect_header(rows[:20], list(messy.HOUSEHOLD_COLUMNS)))]
    assert len(records) == len(messy.HOUSEHOLD_ROWS)
    for want, got in zip(messy.HOUSEHOLD_ROWS, records, strict=True):
        assert clean_name(got["name"]).value == want.want_name
        assert clean_gender(got["gender"]).value == want.want_gender, want
        assert clean_date(got["birth_date"]).value == want.want_birth, want
        cleaned = clean_id_number(got["id_number"])
        assert cleaned.value == want.want_id, (want, cleaned)
        if want.id_error:
            assert want.id_error in cleaned.error
        assert clean_phone(got["guardian_phone"]).value == "13812345678"
        assert clean_text(got["guardian_relation"]).value == "父子"
