"""The import error report hides ID numbers however the file wrote them, and writes no cell Excel would run."""

import datetime as dt
import io
import unicodedata

import pytest
import xlsxwriter
from django.urls import reverse
from python_calamine import CalamineWorkbook

from kongchuo.core.masking import mask_in_cell
from kongchuo.core.xlsx import write_table
from kongchuo.imports.models import RowIssue
from kongchuo.imports.services import import_run, import_store
from kongchuo.people.identity import compose_id_number

SPACED, HYPHENATED, DOTTED, LOST_X, FULL_WIDTH, AS_NUMBER = (
    compose_id_number("500229", dt.date(2012, 3, 5), order) for order in (11, 22, 33, 44, 55, 66)
)
FORMULA_TITLE = '=HYPERLINK("http://x","a")'
HEADER = ["姓名", "性别", "出生日期", "公民身份号码", "监护人", "联系电话", "备注", FORMULA_TITLE]
PHONE = "13800001111"


def _full_width(text: str) -> str:
    return text.translate(str.maketrans("0123456789", "０１２３４５６７８９"))


# Each form an ID cell arrives in, on a row without a name (so it is rejected and reported whole), with the digits
# that must not show: the number as typed, or for a number cell the 15 digits a double keeps of it.
ID_CELLS = {
    "spaced": (SPACED[:6] + " " + SPACED[6:14] + " " + SPACED[14:], SPACED),
    "hyphenated": (HYPHENATED[:6] + "-" + HYPHENATED[6:14] + "-" + HYPHENATED[14:], HYPHENATED),
    "X lost": (LOST_X[:17], LOST_X[:17]),
    "full-width": (_full_width(FULL_WIDTH), FULL_WIDTH),
    "number": (float(AS_NUMBER), repr(float(AS_NUMBER)).split("e")[0].replace(".", "")),
}
REMARK = f"监护人证件 {DOTTED[:6]}.{DOTTED[6:14]}.{DOTTED[14:]}"  # an ID in another column, dotted
SECRET = {form: digits for form, (_, digits) in ID_CELLS.items()} | {"dotted, in a remark": DOTTED}


def _digits(cell) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", str(cell)) if c.isdigit())


def _messy_household(path):
    """One rejected row per way an ID number arrives; cells written as text or number, never as formulas."""
    book = xlsxwriter.Workbook(path, {"strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet("花名册")
    sheet.write_string(0, 0, "城口县适龄儿童花名册")
    for col, title in enumerate(HEADER):
        sheet.write_string(1, col, title)
    for row, (id_cell, _) in enumerate(ID_CELLS.values(), start=2):
        remark = REMARK if row == 2 else "第3行已核"
        for col, value in enumerate(["", "男", "2012-03-05", id_cell, "王建国", PHONE, remark]):
            if isinstance(value, float):
                sheet.write_number(row, col, value)
            else:
                sheet.write_string(row, col, value)
    book.close()
    return path


@pytest.fixture
def rejected(world, tmp_path):
    actor = world.users["county_staff"]
    path = _messy_household(tmp_path / "花名册.xlsx")
    batch = import_store(actor=actor, source="household", upload=path, file_name=path.name)
    import_run(batch=batch, actor=actor, dry_run=True)
    assert batch.issues.filter(kind=RowIssue.Kind.REJECTED).count() == len(ID_CELLS)
    return batch


def _report(client, world, batch, **params) -> list[list]:
    client.force_login(world.users["county_staff"])
    response = client.get(reverse("import_errors", args=[batch.pk]), params)
    assert response.status_code == 200
    return CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()


def test_the_report_hides_id_numbers_however_written_unless_full_numbers_are_asked_for(world, rejected, client):
    masked = _report(client, world, rejected)
    cells = [cell for row in masked for cell in row]
    for form, digits in SECRET.items():
        assert not [c for c in cells if digits in _digits(c)], form
    # Enough is left for the clerk: the masked ID keeps its shape, the rest of the row is as typed.
    assert f"{SPACED[:6]} ******** {SPACED[14:]}" in cells
    assert [row[0] for row in masked[1:]] == list(range(3, 3 + len(ID_CELLS)))
    assert all(PHONE in row and "2012-03-05" in row for row in masked[1:])
    assert "第3行已核" in cells
    full = [cell for row in _report(client, world, rejected, full="1") for cell in row]
    for form, digits in SECRET.items():
        assert [c for c in full if digits in _digits(c)], form


@pytest.mark.parametrize("full", ["", "1"])
def test_a_column_title_from_the_file_is_not_written_as_a_formula(world, rejected, client, full):
    header = _report(client, world, rejected, full=full)[0]
    assert "'" + FORMULA_TITLE in header and FORMULA_TITLE not in header


def test_every_table_escapes_its_headers():
    content, _ = write_table("名单", ["@SUM(A1)", "-1", "姓名"], [["=1+1", "+2", "王丽"]])
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
    assert sheet == [["'@SUM(A1)", "'-1", "姓名"], ["'=1+1", "'+2", "王丽"]]


# Each cell as the masked report shows it: IDs keep their first 6 and last 4 digits (mask_id_number's
# convention) and the separators typed between them; phones, dates, row numbers and case numbers are left alone.
SHOWN = {
    "500229 20120305 4010": "500229 ******** 4010",
    "500229-20120305-4010": "500229-********-4010",
    "500229.20120305.401x": "500229.********.401x",
    "50022920120305001": "500229*******5001",
    _full_width("500229201203054010"): _full_width("500229") + "********" + _full_width("4010"),
    "身份证号500229201203054010，电话13800001111": "身份证号500229********4010，电话13800001111",
    "G500229201203054010": "G500229********4010",
    "5.00229201203054e+17": "5.00229*********e+17",
    5.00229201203054e17: "5.00229*********e+17",
    500229201203054010: "500229********4010",
    5002292012030540: "500229******0540",
    "500229201203054010 500229201203054029": "500229********4010 500229********4029",
}
PHONES = (PHONE, "13800001111 13900002222", "138 0000 1111", 13800001111)
DATES = ("2012-03-05", "2012-03-05 08:30:00", 20120305, 40973.354166666664)
OTHERS = (3, "第3行", "5.00229E+17", "500229-2024-0001")  # a row number, a short scientific value, a case number


def test_a_cell_shows_an_id_number_by_its_first_6_and_last_4_digits_and_other_numbers_whole():
    expected = SHOWN | {cell: str(cell) for cell in PHONES + DATES + OTHERS}
    assert {cell: mask_in_cell(cell) for cell in expected} == expected


# The importer takes an ID number whatever separates its groups (people.identity, imports.cleaning), so the mask does.
SEPARATED = {
    "no-break space": ("500229\u00a020130406\u00a0041X", "500229\u00a0********\u00a0041X"),
    "underscore": ("500229_20130406_041X", "500229_********_041X"),
    "middle dot": ("500229·20130406·041X", "500229·********·041X"),
    "bullet": ("500229•20130406•041X", "500229•********•041X"),
    "katakana dot": ("500229・20130406・041X", "500229・********・041X"),
    "hyphenation point": ("500229‧20130406‧041X", "500229‧********‧041X"),
    "tab": ("500229\t20130406\t041X", "500229\t********\t041X"),
    "slash": ("500229/20130406/041X", "500229/********/041X"),
    "spaced hyphen": ("500229 - 20130406 - 041X", "500229 - ******** - 041X"),
    "groups of 4": ("5002 2920 1304 0604 1X", "5002 29** **** **04 1X"),
    "in a sentence": ("监护人500229_19850406_0412，电话13800001111", "监护人500229_********_0412，电话13800001111"),
    "old 15 digits": ("500229 850406 041", "500229 *****6 041"),
    "after a mobile": ("13800001111 500229 20130406 041X", "13800001111 500229 ******** 041X"),
    "a Hebei number in groups of 4": ("1301 0220 1304 0604 1X", "1301 02** **** **04 1X"),  # 13… as a mobile begins
    # Grouped as a phone number is (3-4-4…): the first 11 digits read as a mobile, the number is still one.
    "a Hebei number grouped as a phone": ("130 1022 0120 3054 010", "130 102* **** ***4 010"),
    "an Inner Mongolia number grouped as a phone": ("150 1021 9900 3054 01X", "150 102* **** ***4 01X"),
    "hyphenated as a phone": ("身份证130-1022-0120-3054-010", "身份证130-102*-****-***4-010"),
    "digit by digit": ("1 3 0 1 0 2 2 0 1 2 0 3 0 5 4 0 1 0", "1 3 0 1 0 2 * * * * * * * * 4 0 1 0"),
    "an old Hebei number grouped as a phone": ("130 1021 2030 5401", "130 102* **** 5401"),
    # Born on a day 10, 20 or 30: the group after the 11 digits that read as a mobile starts with 0, as an area code does.
    "an old number born on the 10th grouped as a phone": ("130 1029 0031 0401", "130 102* **** 0401"),
    "an old number born on the 10th, digit by digit": ("1 3 0 1 0 2 9 0 0 3 1 0 4 0 1", "1 3 0 1 0 2 * * * * * 0 4 0 1"),
    "an old number born on the 10th, then a mobile": ("130 1029 0031 0401 13900002222", "130 102* **** 0401 13900002222"),
}
# Separated groups are one ID number only when their digits could be one; these the clerk needs whole.
NOT_AN_ID = {
    "date range": "2023.09.01—2024.01.15",
    "compact date range": "20230901-20240115",
    "landline with extension": "023-59221234-8001",
    "two landlines": "0813-5922123 0813-5922124",
    "two mobiles": "13800001111 13900002222",
    "two spaced mobiles": "138 0000 1111 139 0000 2222",
    "two hyphenated mobiles": "138-0000-1111/139-0000-2222",
    "mobile beside a landline": "13800001111 0813-5922123",  # 138000011110813 would read as an old 15-digit number
    "spaced mobile beside a landline": "138 0000 1111 0813 5922123",
}


@pytest.mark.parametrize(("cell", "shown"), SEPARATED.values(), ids=SEPARATED)
def test_an_id_number_is_hidden_whatever_separates_its_groups(cell, shown):
    assert mask_in_cell(cell) == shown


@pytest.mark.parametrize("cell", NOT_AN_ID.values(), ids=NOT_AN_ID)
def test_separated_numbers_that_cannot_be_an_id_number_are_shown_whole(cell):
    assert mask_in_cell(cell) == cell
