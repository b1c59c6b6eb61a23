"""Finding the header: title rows, two-row merged headers, synonyms, saved mappings, footers."""

from itertools import islice

import pytest

from kongchuo.imports.headers import (
    FIELD_SYNONYMS,
    HeaderNotFound,
    detect_header,
    is_blank_row,
    is_footer_row,
    iter_records,
    label_field,
    normalise_label,
)
from kongchuo.imports.readers import iter_sheets
from tests import imports_messy_files as messy

HOUSEHOLD = list(messy.HOUSEHOLD_COLUMNS)


def _head(path, sheet=0, n=20):
    return list(islice(iter_sheets(path)[sheet].rows, n))


# -- labels ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ("性 别", "gender"),
        ("性\n别", "gender"),
        ("*身份证号", "id_number"),
        ("＊公民身份号码", "id_number"),
        ("出生日期：", "birth_date"),
        ("出生年月:", "birth_date"),
        ("乡镇（街道）", "township"),
        ("村（社区）", "village"),
        ("证件号码", "id_number"),
        ("身份证件号", "id_number"),
        ("全国学籍号", "national_student_number"),
        ("联系电话（手机）", "guardian_phone"),  # a note in brackets
        ("身份证号(必填)", "id_number"),
        ("监护人1姓名", "guardian_name"),  # numbered guardians
        ("学校标识码", "school_code"),
        ("残疾类别", "category"),
    ],
)
def test_labels_match_their_field_after_normalising(label, field):
    assert label_field(normalise_label(label)) == field


def test_every_contract_column_is_a_synonym():
    contract = [
        "学校标识码", "学校名称", "办学类型", "所属区县代码", "所属乡镇", "姓名", "性别", "民族", "出生日期",
        "公民身份号码", "户籍地址", "乡镇(街道)", "村(社区)", "监护人", "联系电话", "身份证件号", "全国学籍号",
        "年级", "班级", "学生状态", "日期", "状态", "就读学校", "就读地",
    ]
    assert [c for c in contract if label_field(normalise_label(c)) is None] == []
    assert all(FIELD_SYNONYMS[f] for f in FIELD_SYNONYMS)


# -- detection ---------------------------------------------------------------------------------------


def test_title_rows_and_a_two_row_merged_header_are_found_in_a_real_file(tmp_path):
    match = detect_header(_head(messy.write_household_xlsx(tmp_path / "a.xlsx")), HOUSEHOLD,
                          required=["name", "id_number"])
    assert match.header_rows == (3, 4)
    assert match.data_start == 5
    assert match.columns == messy.HOUSEHOLD_COLUMNS
    assert match.labels[11:14] == ["监护人姓名", "监护人关系", "监护人联系电话"]
    assert match.unknown == ["序号"]


def test_a_two_row_header_maps_children_under_their_parent():
    rows = [
        ["XX县XX镇适龄儿童花名册", "", "", ""],
        ["姓名", "性别", "监护人", ""],
        ["", "", "姓名", "联系电话"],
        ["王小明", "男", "王建国", "13812345678"],
    ]
    match = detect_header(rows, ["name", "gender", "guardian_name", "guardian_phone"])
    assert match.header_rows == (1, 2) and match.data_start == 3
    assert match.columns == {"name": 0, "gender": 1, "guardian_name": 2, "guardian_phone": 3}


def test_a_two_row_header_with_one_child_still_spans_two_rows():
    rows = [["姓名", "性别", "监护人"], ["", "", "姓名"], ["王小明", "男", "王建国"]]
    match = detect_header(rows, ["name", "gender", "guardian_name"])
    assert match.header_rows == (0, 1) and match.data_start == 2
    assert match.columns == {"name": 0, "gender": 1, "guardian_name": 2}


def test_the_guardians_id_number_is_not_taken_for_the_childs():
    rows = [["姓名", "身份证号", "监护人", ""], ["", "", "姓名", "身份证号"], ["王小明", "x", "王建国", "y"]]
    match = detect_header(rows, ["name", "id_number", "guardian_name"])
    assert match.columns == {"name": 0, "id_number": 1, "guardian_name": 2}
    assert "监护人身份证号" in match.unknown


def test_group_labels_over_the_student_columns_are_looked_through():
    rows = [["学生信息", "", "监护人信息", ""], ["姓名", "性别", "姓名", "电话"], ["王小明", "男", "王建国", "1"]]
    match = detect_header(rows, ["name", "gender", "guardian_name", "guardian_phone"])
    assert match.header_rows == (0, 1)
    assert match.columns == {"name": 0, "gender": 1, "guardian_name": 2, "guardian_phone": 3}


def test_a_data_row_is_never_taken_for_a_second_header_row():
    rows = [["姓名", "性别", "监护人"], ["王小明", "男", "王建国"]]
    match = detect_header(rows, ["name", "gender", "guardian_name"])
    assert match.header_rows == (0,) and match.data_start == 1


def test_a_line_above_the_header_is_not_taken_for_its_first_row():
    rows = [["填报单位：XX小学", "", "填报日期：2024年9月1日"], ["姓名", "性别", "身份证号"], ["王小明", "男", "1"]]
    match = detect_header(rows, ["name", "gender", "id_number"])
    assert match.header_rows == (1,)
    assert match.labels == ["姓名", "性别", "身份证号"]


def test_a_second_name_column_beside_the_guardians_phone_is_the_guardians():
    rows = [["姓名", "性别", "身份证号", "姓名", "联系电话"], ["王小明", "男", "x", "王建国", "138"]]
    match = detect_header(rows, ["name", "gender", "id_number", "guardian_name", "guardian_phone"])
    assert match.columns["name"] == 0 and match.columns["guardian_name"] == 3


def test_an_unexplained_duplicate_is_reported_and_the_first_kept():
    rows = [["姓名", "身份证号", "证件号码"], ["王小明", "a", "b"]]
    match = detect_header(rows, ["name", "id_number"])
    assert match.columns == {"name": 0, "id_number": 1}
    assert match.duplicates == ["证件号码"]


def test_synonyms_and_blank_columns_on_another_sheet(tmp_path):
    path = messy.write_household_xlsx(tmp_path / "a.xlsx")
    match = detect_header(_head(path, sheet=1), HOUSEHOLD, required=["name"])
    assert match.header_rows == (0,)
    assert match.columns == {"name": 0, "gender": 1, "birth_date": 2, "id_number": 3, "guardian_name": 4,
                             "guardian_phone": 5}
    assert set(match.missing) == {"ethnicity", "household_address", "township", "village", "guardian_relation"}


def test_a_saved_mapping_wins_over_synonyms():
    rows = [["姓名", "证件号码", "身份证号（核对后）", "家长手机"], ["王小明", "a", "b", "c"]]
    match = detect_header(rows, ["name", "id_number", "guardian_phone"],
                          override={"id_number": "身份证号（核对后）", "guardian_phone": "家长手机"})
    assert match.columns == {"name": 0, "id_number": 2, "guardian_phone": 3}


def test_a_saved_mapping_can_name_a_combined_two_row_label():
    rows = [["姓名", "家庭情况", ""], ["", "父亲", "联系方式"], ["王小明", "王建国", "138"]]
    match = detect_header(rows, ["name", "guardian_name"], override={"guardian_name": "家庭情况父亲"})
    assert match.columns["guardian_name"] == 1


def test_missing_required_columns_are_named_with_what_was_seen():
    rows = [["学生名册"], ["姓名", "性别", "住址"], ["王小明", "男", "城口"]]
    with pytest.raises(HeaderNotFound) as exc:
        detect_header(rows, ["name", "gender", "id_number"], required=["name", "id_number"])
    message = str(exc.value)
    assert "缺少必需的列：“身份证号”" in message
    assert "姓名、性别、住址" in message


def test_no_header_at_all_is_refused():
    with pytest.raises(HeaderNotFound, match="没有找到表头"):
        detect_header([["a", "b"], ["1", "2"]], ["name"])


def test_only_the_first_scan_rows_are_searched():
    rows = [["说明"]] * 25 + [["姓名", "性别"]]
    with pytest.raises(HeaderNotFound):
        detect_header(rows, ["name", "gender"])
    assert detect_header(rows, ["name", "gender"], scan_rows=30).header_rows == (25,)


# -- rows that are not data --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row",
    [
        ["", "制表人：张三", "", "审核人：李四", "", "日期：2024-09-01"],
        ["填表人：王五  负责人（签字）："],
        ["合计", "", "", "12人"],
        ["总计：35人"],
        ["注：本表一式两份"],
        ["备注：请于9月10日前报送"],
        ["日期：2024年9月1日"],
        ["制表：张三", "", "审核：李四"],
        ["填报单位（盖章）：城口县民政局"],
        # A signature line that does not start with its word: two cells that start as its cells do.
        ["单位：城口县民政局", "制表人：张三", "审核人：李四", "日期：2024-03-01"],
        ["城口县民政局", "填表人：张三", "联系电话：023-59221234"],
        ["巴山镇", "龙泉村", "制表人：张三", "审核人：李四"],
        ["制表人：", "张三", "审核人：", "李四", "日期：", "2024-03-01"],
        ["统计：张三"], ["打印日期：2024-03-01"], ["导出时间：2024-03-01 10:00"], ["第1页，共3页"],
        ["城口县坪坝镇困难儿童名单"],  # the title of the next block of a list pasted together from several
        ["\u3000\u3000备注：请于9月10日前报送"], [" 注：本表一式两份 "],  # indented as a note often is
    ],
)
def test_footer_rows_are_recognised(row):
    assert is_footer_row(row)


@pytest.mark.parametrize(
    "row",
    [
        ["1", "王小明", "男", "2012-03-05", "500229201203050012", "汉族", "城口县"],
        ["王日期", "男"],  # a name is not a footer
        ["", "", ""],
        # A department's short list: the words of a signature line in a child's remarks, not at the row's start.
        ["丙甲", "500229201401023012", "孤儿", "监护人已签字确认"],
        ["丙乙", "500229201401033026", "低保", "联系人：村主任"],
        ["丙丙", "", "2014-01-04", "备注：户口待迁"],
        ["", "何小一", "负责人签字后报送"],
        # A total or signature word first, but an ID number in the row: a child, however odd the row.
        ["合计", "500229201401023012"],
        ["备注：新增", "丁一", 500229201401043011],
        ["丙丁", "", "2014-01-04", "联系电话：13800001111"],  # one remark that starts as a signature cell does
    ],
)
def test_data_rows_are_not_footers(row):
    assert not is_footer_row(row)


def test_blank_rows():
    assert is_blank_row(["", None, "  ", "\t"])
    assert not is_blank_row(["", 0])


def test_records_skip_blank_footer_and_repeated_header_rows(tmp_path):
    rows = list(iter_sheets(messy.write_household_xlsx(tmp_path / "a.xlsx"))[0].rows)
    match = detect_header(rows[:20], HOUSEHOLD)
    records = list(iter_records(rows, match))
    assert [r["name"] for _, r in records] == [row.name for row in messy.HOUSEHOLD_ROWS]
    first_index, first = records[0]
    assert first_index == 5  # spreadsheet row 6
    assert first["guardian_name"] == "王建国" and first["village"] == "西门社区"
