"""Writing spreadsheets people will open in Excel/WPS: safe against formula injection."""

import io

import xlsxwriter

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A text cell that Excel would read as a formula is prefixed with an apostrophe-like quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_table(title: str, headers: list[str], rows) -> tuple[bytes, int]:
    """One sheet: a bold header then the rows, every cell written as text or number, never a formula.

    Headers are cells too: an error report's come from the uploaded file."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet(title[:31])
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    for col, header in enumerate(headers):
        sheet.write_string(0, col, safe_cell(header), bold)
        sheet.set_column(col, col, max(10, len(header) * 2 + 2))
    count = 0
    for count, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            value = safe_cell(value)
            if value is None:
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                sheet.write_number(count, col, value)
            else:
                sheet.write_string(count, col, str(value))
    sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue(), count
