"""Generators of the messy files counties really receive, written into a test's tmp_path.

Each `write_*` function writes one file and returns its path. The household workbook's data rows are
described by HOUSEHOLD_ROWS together with what cleaning them must give, so tests read the file back
through the real readers and compare.
"""

from __future__ import annotations

import csv
import datetime as dt
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlsxwriter

from kongchuo.people.identity import compose_id_number


def _id(birth: dt.date, order: int) -> str:
    return compose_id_number("500229", birth, order)  # 城口县


def _id_ending_x(birth: dt.date) -> str:
    """A valid number whose check digit is X, for the "trailing X lost" case."""
    return next(n for order in range(1, 999) if (n := _id(birth, order)).endswith("X"))


B1, B2, B3, B4 = dt.date(2012, 3, 5), dt.date(2013, 7, 21), dt.date(2014, 11, 2), dt.date(2015, 1, 30)
ID1, ID2, ID3 = _id(B1, 11), _id(B2, 22), _id(B3, 31)
ID_X = _id_ending_x(B4)
LEGACY_18 = "510229198503050019"
LEGACY_15 = "510229850305001"  # issued before 1999 (a Sichuan code then): born 1985-03-05, no century or check


@dataclass(frozen=True)
class ExcelDate:
    """A real Excel date cell (a number with a date format), not text."""

    value: dt.date | dt.datetime


@dataclass(frozen=True)
class Row:
    """One data row of the household sheet: the cells as written, and what cleaning must make of them."""

    name: Any
    gender: Any
    birth: Any
    id_number: Any
    want_name: str | None
    want_gender: str | None
    want_birth: dt.date | None
    want_id: str | None  # None: no number (blank or refused)
    id_error: str | None = None  # a fragment of the refusal message
    guardian: str = "王建国"
    relation: str = "父子"
    phone: Any = "13812345678"


HOUSEHOLD_ROWS = [
    # IDs as text in every shape typists and exporters produce.
    Row("王小明", "男", "2012.3.5", ID1, "王小明", "M", B1, ID1),
    Row("买买提·艾力", "男", "20120305", " ".join((ID1[:6], ID1[6:14], ID1[14:])), "买买提·艾力", "M", B1, ID1),
    Row("阿依古丽•吐尔逊", "女", "2013/07/21", ID2.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        "阿依古丽·吐尔逊", "F", B2, ID2),
    Row(" 李 四 ", "2", "2013-07-21", ID2 + ".0", "李四", "F", B2, ID2),
    Row("张三", "M", "2014年11月2日", ID3, "张三", "M", B3, ID3),
    Row("赵六", "f", "2015-01", ID_X.lower(), "赵六", "F", dt.date(2015, 1, 1), ID_X),
    Row("钱七", "女性", "2015.01", ID_X[:17], "钱七", "F", dt.date(2015, 1, 1), ID_X),
    Row("孙八", 1.0, "2015年1月", "5.00229E+17", "孙八", "M", dt.date(2015, 1, 1), None, "科学计数法"),
    # Numbers where text belongs: a double keeps 15 significant digits, so an 18-digit number is lost.
    Row("周九", "男", ExcelDate(B1), int(ID1), "周九", "M", B1, None, "科学计数法"),
    Row("吴十", 2, 40973, int(LEGACY_15), "吴十", "F", B1, LEGACY_18, phone=13812345678),
    Row("郑一", "1", 20120305, ID1, "郑一", "M", B1, ID1),
    Row("冯二", "男", "2012-03-05 00:00:00", ID1[:17] + "0", "冯二", "M", B1, None, "校验位"),
    Row("陈三", "女", ExcelDate(dt.datetime(2013, 7, 21, 8, 30)), "", "陈三", "F", B2, None),
]
HOUSEHOLD_COLUMNS = {
    "name": 2, "gender": 3, "birth_date": 4, "id_number": 5, "ethnicity": 7, "household_address": 8,
    "township": 9, "village": 10, "guardian_name": 11, "guardian_relation": 12, "guardian_phone": 13,
}


def write_household_xlsx(path: Path) -> Path:
    """A township's list as it arrives: blank row and column A, merged title, a 填报单位 line, a two-row
    merged header with a blank column inside, blank rows and a repeated header among the data, footers,
    then a second sheet with other header names and an empty third sheet."""
    wb = xlsxwriter.Workbook(path)
    date_format = wb.add_format({"num_format": "yyyy-mm-dd"})
    datetime_format = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    ws = wb.add_worksheet("花名册")
    ws.merge_range(1, 1, 1, 13, "XX县XX镇适龄儿童花名册")
    ws.write(2, 1, "填报单位：XX镇人民政府")
    ws.write(2, 11, "填报日期：2024年9月1日")
    for col, label in ((1, "序号"), (2, "姓名"), (3, "性 别"), (4, "出生年月"), (5, "*公民身份号码"),
                       (7, "民族"), (8, "户籍地址"), (9, "乡镇（街道）"), (10, "村(社区)")):
        ws.merge_range(3, col, 4, col, label)
    ws.merge_range(3, 11, 3, 13, "监护人")
    for col, label in ((11, "姓名"), (12, "关系"), (13, "联系电话")):
        ws.write(4, col, label)

    def cell(r: int, c: int, value: Any) -> None:
        if isinstance(value, ExcelDate):
            fmt = datetime_format if isinstance(value.value, dt.datetime) else date_format
            ws.write_datetime(r, c, value.value, fmt)
        elif isinstance(value, str):
            ws.write_string(r, c, value)
        else:
            ws.write_number(r, c, value)

    r = 5
    for n, row in enumerate(HOUSEHOLD_ROWS, start=1):
        if n == 4:
            r += 1  # a blank row inside the data
        if n == 7:  # the header printed again at the top of page 2
            for col, label in ((1, "序号"), (2, "姓名"), (3, "性 别"), (4, "出生年月"), (5, "*公民身份号码"),
                               (7, "民族"), (8, "户籍地址"), (9, "乡镇（街道）"), (10, "村(社区)"), (11, "监护人")):
                ws.write(r, col, label)
            for col, label in ((11, "姓名"), (12, "关系"), (13, "联系电话")):
                ws.write(r + 1, col, label)
            r += 2
        cell(r, 1, n)
        for col, value in ((2, row.name), (3, row.gender), (4, row.birth), (5, row.id_number), (7, "汉族"),
                           (8, "重庆市城口县葛城街道"), (9, "葛城街道"), (10, "西门社区"), (11, row.guardian),
                           (12, row.relation), (13, row.phone)):
            cell(r, col, value)
        r += 1
    r += 1
    ws.write(r, 1, f"合计：{len(HOUSEHOLD_ROWS)}人")
    ws.write(r + 1, 1, "制表人：张三")
    ws.write(r + 1, 5, "审核人：李四")
    ws.write(r + 1, 9, "日期：2024-09-01")
    ws.write(r + 2, 1, "注：1. 本表一式两份，乡镇和学校各存一份。")

    ws2 = wb.add_worksheet("补充名单")
    for col, label in enumerate(("儿童姓名", "性别", "出生日期", "身份证号码", "监护人姓名", "手机号")):
        ws2.write(0, col, label)
    ws2.write_row(1, 0, ("刘一", "男", "2012-03-05", ID1, "刘大", "13900000001"))
    ws2.write_row(2, 0, ("刘二", "女", "2013-07-21", ID2, "刘大", "13900000001"))
    wb.add_worksheet("空表")
    wb.close()
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[Any]]], *, first_row: int = 0, first_col: int = 0) -> Path:
    """Plain sheets of rows, optionally starting below/right of A1."""
    wb = xlsxwriter.Workbook(path)
    date_format = wb.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, dt.date):
                    ws.write_datetime(first_row + r, first_col + c, value, date_format)
                elif value is not None and value != "":
                    ws.write(first_row + r, first_col + c, value)
    wb.close()
    return path


REGISTRY_HEADER = ["姓名", "性别", "出生日期", "身份证件号", "全国学籍号", "学校标识码", "学校名称", "年级", "班级",
                   "学生状态"]


def write_registry_xls(path: Path) -> Path:
    """A legacy .xls registry export (BIFF8, written with xlwt): title row, numbers and date cells."""
    import xlwt  # test-only dependency

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("学籍")
    ws.write_merge(0, 0, 0, len(REGISTRY_HEADER) - 1, "XX县义务教育学校学生名册")
    for col, label in enumerate(REGISTRY_HEADER):
        ws.write(1, col, label)
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    rows = [
        ("王小明", "男", B1, ID1, "G" + ID1, 5002290001, "城口县实验小学", "三年级", "(1)班", "在读"),
        ("李四", "女", B2, float(ID2), "G" + ID2, "5002290001", "城口县实验小学", "初一", "2班", "在读"),
    ]
    for r, row in enumerate(rows, start=2):
        for col, value in enumerate(row):
            if isinstance(value, dt.date):
                ws.write(r, col, value, date_style)
            else:
                ws.write(r, col, value)
    wb.save(str(path))
    return path


def write_csv(path: Path, rows: list[list[Any]], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


_XLSX_SKELETON = {
    "[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
    "xl/workbook.xml": b'<?xml version="1.0"?><workbook/>',
}


def write_zip_bomb(path: Path, *, megabytes: int = 20) -> Path:
    """An "xlsx" whose sheet inflates ~1000:1 (zeros, streamed so the test never holds them)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _XLSX_SKELETON.items():
            zf.writestr(name, data)
        block = b"\0" * (1024 * 1024)
        with zf.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(megabytes):
                member.write(block)
    return path


def write_crafted_zip(path: Path, *, actual_bytes: int, declared_bytes: int, garbled: bool = False) -> Path:
    """An "xlsx" whose central directory declares `declared_bytes` for a sheet that inflates to
    `actual_bytes`: a huge claim (600 MB) from a tiny file, or a lie (small claim, large content).
    `garbled`: the sheet's deflate data is noise (a block of the reserved type) that no inflater can undo."""
    members = [(name, data, len(data)) for name, data in _XLSX_SKELETON.items()]
    members.append(("xl/worksheets/sheet1.xml", b"\0" * actual_bytes, declared_bytes))
    out = bytearray()
    central = bytearray()
    for name, data, declared in members:
        packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        packed = packer.compress(data) + packer.flush()
        if garbled and name.startswith("xl/worksheets/"):
            packed = b"\xff" * len(packed)
        crc = zlib.crc32(data)
        encoded = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(packed), declared, len(encoded), 0)
        out += encoded + packed
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(packed), declared, len(encoded),
            0, 0, 0, 0, 0, offset,
        )
        central += encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


def write_docx_like(path: Path) -> Path:
    return write_zip(path, {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})


def write_pdf_like(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n")
    return path


def write_png_like(path: Path) -> Path:
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk)
    return path


def write_exe_like(path: Path) -> Path:
    path.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64)
    return path


def write_html_xls(path: Path) -> Path:
    path.write_text("<html><body><table><tr><td>姓名</td></tr></table></body></html>", encoding="utf-8")
    return path


MERGED_HEADER = ["序号", "姓名", "性别", "出生日期", "公民身份号码", "乡镇(街道)", "村(社区)", "监护人", "联系电话", "备注"]


def merged_household_rows() -> list[list[Any]]:
    """The data rows of a township's list as clerks type it: a township's and a village's name typed once and the
    cell merged down over their children, a family's guardian and phone merged over its two children."""
    return [
        [1, "周一", "男", "2012-03-05", _id(B1, 101), "巴山镇", "巴山村", "周大山", "13800001111", ""],
        [2, "周二", "女", "2013-07-21", _id(B2, 102), "", "", "", "", ""],  # the family's second child
        [3, "吴三", "男", "2014-11-02", _id(B3, 103), "", "", "吴建", "13900002222", "外出务工"],
        [4, "郑四", "女", "2015-01-30", _id(B4, 104), "", "", "郑平", "13700003333", ""],
        [5, "王五", "男", "2012-03-05", _id(B1, 105), "坪坝镇", "坪坝村", "王刚", "13600004444", ""],
        [6, "冯六", "女", "2013-07-21", _id(B2, 106), "", "", "冯强", "", ""],
    ]


# (first row, first column, last row, last column) of the data rows (0-based, as the rows above); the title is
# merged across above the header, and 备注 over two columns and two rows ("down only": its second column stays blank).
MERGED_RANGES = [(0, 5, 3, 5), (0, 6, 3, 6), (0, 7, 1, 7), (0, 8, 1, 8), (2, 9, 3, 10), (4, 5, 5, 5), (4, 6, 5, 6)]


def write_merged_household(path: Path) -> Path:
    """merged_household_rows under a title merged across and a header, as .xlsx or (by its suffix) legacy .xls."""
    rows = merged_household_rows()
    title = "城口县适龄儿童花名册（合并单元格）"
    if path.suffix == ".xls":
        import xlwt  # test-only dependency

        wb = xlwt.Workbook(encoding="utf-8")
        ws = wb.add_sheet("花名册")
        ws.write_merge(0, 0, 0, len(MERGED_HEADER) - 1, title)
        for col, label in enumerate(MERGED_HEADER):
            ws.write(1, col, label)
        merged = {(r0, c0) for r0, c0, _, _ in MERGED_RANGES}
        for r0, c0, r1, c1 in MERGED_RANGES:
            ws.write_merge(2 + r0, 2 + r1, c0, c1, rows[r0][c0])
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value != "" and (r, c) not in merged:
                    ws.write(2 + r, c, value)
        wb.save(str(path))
        return path
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("花名册")
    ws.merge_range(0, 0, 0, len(MERGED_HEADER) - 1, title)
    ws.write_row(1, 0, MERGED_HEADER)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value != "":
                ws.write(2 + r, c, value)
    for r0, c0, r1, c1 in MERGED_RANGES:
        ws.merge_range(2 + r0, c0, 2 + r1, c1, rows[r0][c0])
    wb.close()
    return path
