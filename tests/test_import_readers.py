"""Reading uploads: type by content, size and zip-bomb limits, rows from xlsx / xls / csv in any encoding."""

import datetime as dt
import re
import tracemalloc

import pytest

from kongchuo.imports.readers import FileRejected, check_safe, csv_encoding, iter_sheets, sniff
from tests import imports_messy_files as messy

HEADER = ["姓名", "性别", "出生日期", "身份证号"]
ROW = ["王小明", "男", "2012-03-05", messy.ID1]


def _rows(path, sheet=0):
    return list(iter_sheets(path)[sheet].rows)


def _rejected(fn, *args, **kwargs) -> str:
    with pytest.raises(FileRejected) as exc:
        fn(*args, **kwargs)
    return str(exc.value)


# -- type by content, never by extension ------------------------------------------------------------


def test_an_xlsx_named_csv_is_read_as_xlsx(tmp_path):
    path = messy.write_xlsx(tmp_path / "名单.csv", {"Sheet1": [HEADER, ROW]})
    assert sniff(path) == "xlsx"
    assert _rows(path) == [HEADER, ROW]


def test_a_csv_named_xlsx_is_read_as_csv(tmp_path):
    path = messy.write_csv(tmp_path / "名单.xlsx", [HEADER, ROW])
    assert sniff(path) == "csv"
    assert _rows(path) == [HEADER, ROW]


def test_an_xls_is_recognised_by_its_ole2_signature(tmp_path):
    assert sniff(messy.write_registry_xls(tmp_path / "学籍.dat")) == "xls"


@pytest.mark.parametrize(
    ("writer", "said"),
    [
        (messy.write_pdf_like, "PDF"),
        (messy.write_png_like, "PNG"),
        (messy.write_exe_like, "可执行程序"),
        (messy.write_docx_like, "Word"),
    ],
)
def test_other_files_renamed_xlsx_are_refused_saying_what_they_are(tmp_path, writer, said):
    message = _rejected(sniff, writer(tmp_path / "名单.xlsx"))
    assert message.startswith("文件类型不受支持：") and said in message


def test_a_plain_zip_and_an_html_table_posing_as_xls_are_refused(tmp_path):
    assert "压缩包" in _rejected(sniff, messy.write_zip(tmp_path / "a.xlsx", {"readme.txt": b"hello"}))
    assert "HTML" in _rejected(sniff, messy.write_html_xls(tmp_path / "导出.xls"))


@pytest.mark.parametrize(
    ("members", "said"),
    [({"xl/workbook.bin": b"\0"}, ".xlsb"), ({"mimetype": b"x", "content.xml": b"<x/>"}, "OpenDocument")],
)
def test_other_spreadsheet_formats_ask_for_xlsx(tmp_path, members, said):
    assert said in _rejected(sniff, messy.write_zip(tmp_path / "a.xlsx", members))


def test_xml_spreadsheet_2003_asks_for_xlsx(tmp_path):
    path = tmp_path / "a.xls"
    path.write_text('<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>')
    assert "另存为 .xlsx" in _rejected(sniff, path)


def test_an_ole2_file_that_is_not_a_workbook_is_refused_when_read(tmp_path):
    path = tmp_path / "a.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4096)  # e.g. a .doc renamed
    assert sniff(path) == "xls"
    assert "无法读取该 Excel 文件" in _rejected(iter_sheets, path)


def test_an_empty_file_and_binary_noise_are_refused(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert _rejected(sniff, empty) == "文件为空"
    noise = tmp_path / "noise.csv"
    noise.write_bytes(bytes(range(1, 32)) * 50)
    assert "文件类型不受支持" in _rejected(sniff, noise)


def test_a_broken_xlsx_is_refused_not_crashed_on(tmp_path):
    path = messy.write_xlsx(tmp_path / "a.xlsx", {"S": [HEADER, ROW]})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # an upload cut short
    assert "损坏" in _rejected(iter_sheets, path)


# -- size and zip bombs ------------------------------------------------------------------------------


def test_an_oversize_file_is_refused(tmp_path):
    path = messy.write_csv(tmp_path / "big.csv", [HEADER] + [ROW] * 200)
    check_safe(path)
    assert "文件过大" in _rejected(check_safe, path, max_bytes=1024)


def test_a_zip_bomb_is_refused_by_its_compression_ratio(tmp_path):
    path = messy.write_zip_bomb(tmp_path / "bomb.xlsx", megabytes=20)
    assert path.stat().st_size < 100_000
    assert "疑似压缩炸弹" in _rejected(check_safe, path)


def test_a_zip_declaring_a_huge_sheet_is_refused_before_inflating(tmp_path):
    path = messy.write_crafted_zip(tmp_path / "huge.xlsx", actual_bytes=1000, declared_bytes=600 * 1024 * 1024)
    message = _rejected(check_safe, path, inflate_check=False)  # the central directory alone suffices
    assert "600 MB" in message and "疑似压缩炸弹" in message


def test_a_zip_lying_about_its_sizes_is_caught_while_counting(tmp_path):
    path = messy.write_crafted_zip(tmp_path / "liar.xlsx", actual_bytes=30 * 1024 * 1024, declared_bytes=1000)
    check_safe(path, inflate_check=False)  # the directory looks harmless…
    assert "超过其声明的大小" in _rejected(check_safe, path)  # …the content is not
    assert "超过其声明的大小" in _rejected(iter_sheets, path)  # and iter_sheets checks by default


def test_a_zip_whose_sheet_cannot_be_inflated_is_refused_as_damaged(tmp_path):
    path = messy.write_crafted_zip(tmp_path / "garbled.xlsx", actual_bytes=5000, declared_bytes=5000, garbled=True)
    check_safe(path, inflate_check=False)  # the directory is in order…
    assert "压缩数据无法解开" in _rejected(check_safe, path)  # …the data is not (isal's own error, as the user's message)


def test_the_total_uncompressed_limit_applies(tmp_path):
    path = messy.write_xlsx(tmp_path / "a.xlsx", {"S": [HEADER] + [ROW] * 2000})
    check_safe(path)
    assert "疑似压缩炸弹" in _rejected(check_safe, path, max_uncompressed=10_000)


# -- xlsx and xls ------------------------------------------------------------------------------------


def test_every_sheet_is_listed_in_order_and_read_lazily(tmp_path):
    path = messy.write_household_xlsx(tmp_path / "花名册.xlsx")
    sheets = iter_sheets(path)
    assert [s.name for s in sheets] == ["花名册", "补充名单", "空表"]
    assert iter(sheets[0].rows) is sheets[0].rows  # an iterator, not a materialised list
    assert next(sheets[1].rows)[:2] == ["儿童姓名", "性别"]
    assert list(sheets[2].rows) == []


def test_rows_and_columns_keep_their_spreadsheet_positions(tmp_path):
    # calamine starts each row at the first used column; the reader pads so that C stays index 2.
    path = messy.write_xlsx(tmp_path / "a.xlsx", {"S": [HEADER, ROW]}, first_row=3, first_col=2)
    rows = _rows(path)
    assert rows[:3] == [["", "", "", "", "", ""]] * 3
    assert rows[3] == ["", ""] + HEADER
    assert rows[4][2] == "王小明"


def test_merged_cells_keep_their_value_in_the_top_left_cell_only(tmp_path):
    rows = _rows(messy.write_household_xlsx(tmp_path / "a.xlsx"))
    assert rows[1][1] == "XX县XX镇适龄儿童花名册"
    assert all(c == "" for c in rows[1][2:])
    assert rows[3][11] == "监护人" and rows[3][12] == "" and rows[4][2] == ""


def test_xlsx_cells_come_as_python_values(tmp_path):
    rows = _rows(messy.write_household_xlsx(tmp_path / "a.xlsx"))
    by_name = {r[2]: r for r in rows if len(r) > 5}
    assert by_name["周九"][4] == dt.date(2012, 3, 5)  # a date cell is a date
    assert by_name["陈三"][4] == dt.datetime(2013, 7, 21, 8, 30)  # with a time, a datetime
    assert by_name["吴十"][4] == 40973.0  # a serial typed as a number stays a number
    assert isinstance(by_name["周九"][5], float)  # xlsx stores every number as a double
    assert by_name["陈三"][5] == ""  # blank


def test_legacy_xls_is_read_with_its_dates_and_numbers(tmp_path):
    rows = _rows(messy.write_registry_xls(tmp_path / "学籍.xls"))
    assert rows[0][0] == "XX县义务教育学校学生名册"
    assert rows[1] == messy.REGISTRY_HEADER
    assert rows[2][:3] == ["王小明", "男", dt.date(2012, 3, 5)]
    assert rows[2][5] == 5002290001  # xls keeps small integers as integers
    assert isinstance(rows[3][3], float)


# -- csv ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "detected"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030")]
)
def test_csv_encodings_are_detected(tmp_path, encoding, detected):
    path = messy.write_csv(tmp_path / "a.csv", [HEADER, ROW], encoding=encoding)
    assert sniff(path) == "csv"
    assert csv_encoding(path) == detected
    assert _rows(path) == [HEADER, ROW]  # no BOM left on the first label


def test_gb18030_characters_outside_gbk_survive(tmp_path):
    row = ["李䶮", "男", "2012-03-05", messy.ID1]  # 䶮 (U+4DAE) is in GB 18030 but not in GBK
    path = messy.write_csv(tmp_path / "a.csv", [HEADER, row], encoding="gb18030")
    assert _rows(path)[1][0] == "李䶮"


def test_a_gbk_file_that_starts_in_ascii_is_still_gbk(tmp_path):
    # The first Chinese character comes after 100 kB: sampling the start would guess UTF-8 and fail later.
    rows = [["id", "note"]] + [[str(i), "x" * 40] for i in range(2500)] + [["9999", "王小明"]]
    path = messy.write_csv(tmp_path / "a.csv", rows, encoding="gbk")
    assert path.stat().st_size > 100_000
    assert _rows(path)[-1] == ["9999", "王小明"]


def test_utf16_text_exported_by_excel_is_read(tmp_path):
    path = messy.write_csv(tmp_path / "a.txt", [HEADER, ROW], encoding="utf-16", delimiter="\t")
    assert sniff(path) == "csv"
    assert _rows(path) == [HEADER, ROW]


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_csv_delimiters_are_sniffed(tmp_path, delimiter):
    rows = [["XX县适龄儿童名单"], HEADER, ROW, ["李四", "女", "2013-07-21", messy.ID2]]
    path = messy.write_csv(tmp_path / "a.csv", rows, encoding="gbk", delimiter=delimiter)
    assert _rows(path) == rows


def test_quoted_csv_fields_keep_commas_and_line_breaks(tmp_path):
    rows = [HEADER + ["地址"], ROW + ["重庆市城口县,葛城街道\n西门社区"]]
    assert _rows(messy.write_csv(tmp_path / "a.csv", rows)) == rows


def test_a_quote_left_open_in_a_csv_rejects_the_file_at_its_line_instead_of_swallowing_the_rows_after_it(tmp_path):
    lines = [",".join(HEADER + ["地址"]), ",".join(ROW + ['"一组']), f"李四,女,2013-07-21,{messy.ID2},二组", "王五,男,2014-01-02,,三组"]
    path = tmp_path / "open.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(FileRejected, match="^第2行有一个以引号开头的单元格，直到第4行"):
        _rows(path)
    # Past csv's field size limit (a long file after the open quote): rejected too, not a crash.
    path.write_text("\n".join(lines[:2] + ["李四,女,2013-07-21,,二组"] * 8000) + "\n", encoding="utf-8")
    with pytest.raises(FileRejected, match="^第2行起格式错误.*未配对的引号"):
        _rows(path)


def test_a_large_csv_streams_in_bounded_memory(tmp_path):
    row = ROW + ["重庆市城口县葛城街道西门社区" * 2]
    path = messy.write_csv(tmp_path / "big.csv", [HEADER] + [row] * 60_000, encoding="gbk")
    assert path.stat().st_size > 5_000_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_sheets(path)[0].rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 60_001
    assert peak < 8_000_000  # a few 1 MiB chunks and one row; holding the rows would take over 40 MB


def test_row_estimates_for_progress_bars(tmp_path):
    from kongchuo.imports.readers import estimate_rows

    rows = [["姓名", "性别"]] + [[f"学生{i}", "男"] for i in range(250)]
    assert estimate_rows(messy.write_xlsx(tmp_path / "a.xlsx", {"一": rows, "二": rows[:11]}), "xlsx") == 251 + 11
    assert estimate_rows(messy.write_csv(tmp_path / "a.csv", rows), "csv") == 251
    assert estimate_rows(tmp_path / "missing.xlsx", "xlsx") is None


def test_a_sheet_declaring_a_million_rows_is_not_taken_at_its_word(tmp_path):
    """Formatting a whole column makes Excel declare A1:M1048576; the estimate decides whether an import is a bulk
    load (indexes rebuilt), so it is capped by what the sheet's XML can hold."""
    import zipfile

    from kongchuo.imports.readers import estimate_rows

    rows = [["姓名", "性别"]] + [[f"学生{i}", "男"] for i in range(250)]
    plain = messy.write_xlsx(tmp_path / "plain.xlsx", {"一": rows})
    bloated = tmp_path / "bloated.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(bloated, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data, n = re.subn(rb'<dimension ref="A1:[A-Z]+\d+"', b'<dimension ref="A1:M1048576"', data)
                assert n == 1
            target.writestr(item, data)
    assert 251 <= estimate_rows(bloated, "xlsx") < 20_000
    assert estimate_rows(plain, "xlsx") == 251


def test_streamed_xlsx_rows_are_calamines_rows(tmp_path):
    """The streaming reader gives what calamine's whole-sheet reader gives (numbers may come as int), title rows,
    blank rows and columns, dates and all: the import reads every xlsx through it."""
    import python_calamine

    from kongchuo.imports import readers

    path = messy.write_household_xlsx(tmp_path / "花名册.xlsx")
    streamed = list(iter_sheets(path)[0].rows)
    whole = list(readers._calamine_rows(python_calamine.CalamineWorkbook.from_path(str(path)), 0))

    def trimmed(rows):
        rows = [list(r) for r in rows]
        for r in rows:
            while r and r[-1] == "":
                r.pop()
        while rows and not rows[-1]:
            rows.pop()
        return rows

    assert readers.python_calamine_plus is not None
    assert len(streamed) > 10
    assert trimmed(streamed) == trimmed(whole)


# -- merged cells --------------------------------------------------------------------------------------


def test_the_merged_cells_of_an_xlsx_are_found_while_checking_it_as_calamine_finds_them(tmp_path):
    import python_calamine

    path = messy.write_merged_household(tmp_path / "合并.xlsx")
    found = check_safe(path)  # the pass that inflates every part anyway (zip bombs)
    theirs = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).merged_cell_ranges
    assert sorted(map(tuple, found["0"])) == sorted((r0, c0, r1, c1) for (r0, c0), (r1, c1) in theirs)
    assert (2, 5, 5, 5) in map(tuple, found["0"])  # 巴山镇 over four children
    sheet = iter_sheets(path, checked=True, merged=found)[0]
    assert sheet.merged == found["0"]
    assert iter_sheets(path)[0].merged == found["0"]  # unchecked: it checks, and finds them
    assert iter_sheets(path, checked=True)[0].merged == found["0"]  # checked, nothing given: found again
    assert check_safe(messy.write_xlsx(tmp_path / "plain.xlsx", {"a": [HEADER, ROW]})) == {}


def test_the_merged_cells_of_a_legacy_xls_come_with_its_rows(tmp_path):
    sheet = iter_sheets(messy.write_merged_household(tmp_path / "合并.xls"))[0]
    rows = list(sheet.rows)
    assert sorted(map(tuple, sheet.merged)) == sorted([(0, 0, 0, 9), *((2 + a, b, 2 + c, d) for a, b, c, d in messy.MERGED_RANGES)])
    assert rows[3][5] == ""  # the reader leaves the cells as they are: the importer fills them (prepare._merged_down)


@pytest.mark.parametrize("piece", [1, 7, 64, 1 << 20])
def test_merged_cells_are_found_however_the_inflated_sheet_is_cut(piece):
    from kongchuo.imports.readers import _MergeScanner

    xml = (b'<worksheet><sheetData><row r="1"><c r="A1"/></row></sheetData><mergeCells count="3">'
           b'<mergeCell ref="A1:J1"/><mergeCell ref="F3:F6"/><mergeCell ref="AA10:AB12"/></mergeCells></worksheet>')
    scanner = _MergeScanner()
    for start in range(0, len(xml), piece):
        scanner(xml[start : start + piece])
    assert scanner.found == [[0, 0, 0, 9], [2, 5, 5, 5], [9, 26, 11, 27]]


def test_the_merged_cells_of_an_xlsx_stored_without_compression_are_found_too(tmp_path):
    import zipfile

    packed = messy.write_merged_household(tmp_path / "合并.xlsx")
    stored = tmp_path / "stored.xlsx"
    with zipfile.ZipFile(packed) as source, zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as target:
        for member in source.infolist():
            target.writestr(member.filename, source.read(member.filename))
    assert check_safe(stored) == check_safe(packed) != {}
    assert iter_sheets(stored, checked=True)[0].merged == check_safe(packed)["0"]
