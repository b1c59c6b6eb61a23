"""Reading uploaded lists: type by content, safety limits, then rows streamed from xlsx, xls or csv.

Rows come out with absolute positions: ``rows[i]`` is spreadsheet row ``i + 1`` and cell ``j`` is column
``j`` (A = 0), whatever blank rows or columns sit above and left of the data, so an error report can name
the cell the user sees. Cells are Python values as the file stores them: str, int, float, bool,
datetime.date/datetime (cells Excel formats as dates), and "" for a blank cell. CSV cells are all str.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import struct
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree import ElementTree

import python_calamine
from isal import isal_zlib

try:  # streams an xlsx sheet row by row; without it a sheet is loaded whole (docs/architecture.md, "Reading xlsx")
    import python_calamine_plus
except ImportError:  # pragma: no cover — an installation without the optional reader
    python_calamine_plus = None

MiB = 1024 * 1024
MAX_UNCOMPRESSED = 500 * MiB  # an xlsx's parts inflated, in all (check_safe)
KINDS = ("xlsx", "xls", "csv")
_ACCEPTED = "请上传 .xlsx、.xls 或 .csv 文件"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Magic numbers of files people attach by mistake, so the message can say what the file really is.
_MAGIC = (
    (b"%PDF", "PDF 文件"),
    (b"\x89PNG", "PNG 图片"),
    (b"\xff\xd8\xff", "JPEG 图片"),
    (b"GIF8", "GIF 图片"),
    (b"BM", "BMP 图片"),
    (b"MZ", "可执行程序"),
    (b"\x7fELF", "可执行程序"),
    (b"Rar!", "RAR 压缩包"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包"),
    (b"\x1f\x8b", "gzip 压缩包"),
    (b"{\\rtf", "RTF 文档"),
)
_SAMPLE = 64 * 1024
_CHUNK = 1024 * 1024
_INFLATED = 4 * _CHUNK  # check_safe's pieces of inflated data: a sheet of 140 MB in 35 calls, each a bytes object of its own


class FileRejected(Exception):
    """The file cannot be imported; `str(exc)` tells the user why, in Chinese."""


def _unsupported(what: str) -> FileRejected:
    return FileRejected(f"文件类型不受支持：{what}（{_ACCEPTED}）")


# -- type by content -------------------------------------------------------------------------------


def sniff(path: str | os.PathLike) -> str:
    """"xlsx", "xls" or "csv", judged by the bytes; the file's name and extension are ignored."""
    with open(path, "rb") as fh:
        head = fh.read(_SAMPLE)
    if not head:
        raise FileRejected("文件为空")
    if head.startswith(_ZIP):
        return _sniff_zip(path)
    if head.startswith(_OLE2):
        # Also the container of .doc and of password-protected xlsx; reading it tells those apart.
        return "xls"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise _unsupported(what)
    lowered = head[:512].lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<table")):
        # Many web systems export an HTML table named .xls; Excel opens it, calamine cannot.
        raise FileRejected("该文件实为网页（HTML）格式，请用 Excel 打开后“另存为” .xlsx 再上传")
    if lowered.startswith(b"<?xml"):
        raise FileRejected("该文件为 XML 格式（如“XML 电子表格 2003”），请用 Excel 另存为 .xlsx 再上传")
    if _text_encoding(head, complete=len(head) < _SAMPLE) is None:
        raise _unsupported("无法识别的二进制文件或文本编码")
    return "csv"


def _sniff_zip(path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:  # reads the central directory only
            names = {name.lower() for name in zf.namelist()}
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileRejected("文件已损坏，无法作为压缩格式的 Excel 文件打开") from exc
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "xl/workbook.bin" in names:
        raise FileRejected("不支持 Excel 二进制工作簿（.xlsb），请另存为 .xlsx 再上传")
    if "word/document.xml" in names:
        raise _unsupported("Word 文档")
    if "ppt/presentation.xml" in names:
        raise _unsupported("PowerPoint 演示文稿")
    if "content.xml" in names:
        raise _unsupported("OpenDocument 文件，请另存为 .xlsx")
    raise _unsupported("压缩包")


def _text_encoding(sample: bytes, *, complete: bool) -> str | None:
    """The encoding a text sample decodes in, or None when it looks binary."""
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            text = _decode(sample, encoding, final=complete)
            return encoding if text is not None and _looks_like_text(text) else None
    if b"\x00" in sample:
        return None
    for encoding in ("utf-8", "gb18030"):
        text = _decode(sample, encoding, final=complete)
        if text is not None:
            return encoding if _looks_like_text(text) else None
    return None


def _decode(data: bytes, encoding: str, *, final: bool) -> str | None:
    try:
        # Incremental, so a multi-byte character cut at the end of a sample is not a decoding error.
        return codecs.getincrementaldecoder(encoding)().decode(data, final=final)
    except UnicodeDecodeError:
        return None


def _looks_like_text(text: str) -> bool:
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\r\n\f")
    return controls <= len(text) // 100


# -- safety ----------------------------------------------------------------------------------------


def check_safe(
    path: str | os.PathLike,
    *,
    max_bytes: int = 50 * MiB,
    max_uncompressed: int = MAX_UNCOMPRESSED,
    max_ratio: int = 200,
    inflate_check: bool = True,
) -> dict[str, list[list[int]]]:
    """Refuse oversize uploads and xlsx zip bombs before any reader decompresses them.

    First the zip's central directory: the declared sizes must stay under `max_uncompressed` in total and
    no large member may claim more than `max_ratio` times its compressed size. A directory can lie, so with
    `inflate_check` every member is then inflated into a counter (nothing kept) that stops at the first
    byte beyond its declared size or the total limit.

    Returns what that pass learns on the way: the merged cells of each sheet of an xlsx (merged_cells), which
    its streamed rows cannot tell (they come at the end of the sheet); {} for other files, or without the pass.
    """
    size = os.path.getsize(path)
    if size > max_bytes:
        raise FileRejected(f"文件过大：{size / MiB:.1f} MB，上限为 {max_bytes / MiB:.0f} MB")
    with open(path, "rb") as fh:
        if not fh.read(4).startswith(_ZIP):
            return {}
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileRejected("文件已损坏，无法作为压缩格式的 Excel 文件打开") from exc
    if len(members) > 10_000:
        raise FileRejected(f"压缩包内文件数过多（{len(members)} 个），疑似恶意文件")
    declared = sum(m.file_size for m in members)
    if declared > max_uncompressed:
        raise FileRejected(
            f"文件解压后达 {declared / MiB:.0f} MB，超过上限 {max_uncompressed / MiB:.0f} MB，疑似压缩炸弹"
        )
    for m in members:
        # Small members (styles, a one-row sheet) compress very well and are harmless.
        if m.file_size > MiB and m.file_size > max_ratio * max(m.compress_size, 1):
            raise FileRejected(
                f"压缩包内文件 {m.filename} 的压缩比超过 {max_ratio}:1，疑似压缩炸弹"
            )
    if not inflate_check:
        return {}
    merges = _inflate_within_limits(path, members, max_uncompressed)
    return merged_by_sheet(path, merges) if merges else {}


def _inflate_within_limits(path, members: list[zipfile.ZipInfo], max_uncompressed: int) -> dict[str, list[list[int]]]:
    """Inflate every member into a counter (check_safe); returns the merged cells of each worksheet member that has some."""
    total = 0
    merges = {}
    with open(path, "rb") as fh:
        for m in members:
            _to_member_data(fh, m)
            scanner = _MergeScanner() if m.filename.startswith(_WORKSHEETS) else None
            if m.compress_type == zipfile.ZIP_STORED:
                produced = m.compress_size
                if scanner:
                    scanner(fh.read(min(m.compress_size, max_uncompressed)))
            elif m.compress_type == zipfile.ZIP_DEFLATED:
                limit = min(m.file_size, max_uncompressed - total)
                produced = _inflated_size(fh, m.compress_size, limit=limit, seen=scanner)
            else:
                raise FileRejected(f"压缩包内文件 {m.filename} 使用了不支持的压缩方式")
            if scanner and scanner.found:
                merges[m.filename] = scanner.found
            if produced > m.file_size:
                raise FileRejected(f"压缩包内文件 {m.filename} 的实际大小超过其声明的大小，疑似压缩炸弹")
            total += produced
            if total > max_uncompressed:
                raise FileRejected(f"文件解压后超过上限 {max_uncompressed / MiB:.0f} MB，疑似压缩炸弹")
    return merges


def _to_member_data(fh, member: zipfile.ZipInfo) -> None:
    """Seek `fh` to where `member`'s (compressed) data begins, after its local header."""
    fh.seek(member.header_offset)
    local = fh.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise FileRejected("文件已损坏：压缩包结构不完整")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    fh.seek(member.header_offset + 30 + name_len + extra_len)


def _inflated_size(fh, compressed: int, *, limit: int, seen=None) -> int:
    """Bytes the deflate stream yields, stopping (returning limit + 1) as soon as it passes `limit`; each piece
    inflated goes to `seen` too, if given."""
    inflater = isal_zlib.decompressobj(-isal_zlib.MAX_WBITS)
    produced = 0
    left = compressed
    while left > 0 and not inflater.eof:
        data = fh.read(min(_CHUNK, left))
        if not data:
            break
        left -= len(data)
        while data:
            try:
                out = inflater.decompress(data, _INFLATED)
            except isal_zlib.error as exc:
                raise FileRejected("文件已损坏：压缩数据无法解开") from exc
            produced += len(out)
            if produced > limit:
                return limit + 1
            if seen is not None:
                seen(out)
            data = inflater.unconsumed_tail
    return produced


# -- merged cells ----------------------------------------------------------------------------------
# Counties merge a township's or a family's cell down over its rows: calamine gives the value in the first row
# of the range only, and the rows below it would lose the place. The importer fills such a cell down
# (prepare.py); a reader gives each sheet's ranges as [first row, first column, last row, last column], 0-based.

MAX_MERGES = 100_000  # ranges kept per sheet: past that the sheet is not a list someone typed
_WORKSHEETS = "xl/worksheets/"  # where an xlsx keeps its sheets' parts
_MERGE = re.compile(rb'<mergeCell\b[^>]*?\bref="([A-Z]{1,3})([0-9]{1,7}):([A-Z]{1,3})([0-9]{1,7})"')
_MERGE_TAIL = 256  # bytes kept from one piece to the next: more than a <mergeCell …/> element


class _MergeScanner:
    """The <mergeCell ref="C3:C5"/> elements of a worksheet's XML, fed as it is inflated piece by piece."""

    def __init__(self):
        self.found: list[list[int]] = []
        self.tail = b""

    def __call__(self, piece: bytes) -> None:
        if b"<mergeCell " not in piece and b"<mergeCell " not in self.tail + piece[:16]:  # most of a sheet: its cells
            self.tail = (self.tail + piece[-_MERGE_TAIL:])[-_MERGE_TAIL:]
            return
        text = self.tail + piece
        cut = max(0, len(text) - _MERGE_TAIL)
        for match in _MERGE.finditer(text):
            if len(self.found) < MAX_MERGES:
                first, last = _cell(match[1], match[2]), _cell(match[3], match[4])
                self.found.append([first[0], first[1], last[0], last[1]])
            cut = max(cut, match.end())
        self.tail = text[cut:]


def _cell(column: bytes, row: bytes) -> tuple[int, int]:
    """(row, column), 0-based, of an A1 reference's parts."""
    number = 0
    for letter in column:
        number = number * 26 + letter - 64
    return int(row) - 1, number - 1


def merged_by_sheet(path, merges: dict[str, list[list[int]]]) -> dict[str, list[list[int]]]:
    """{sheet index as calamine counts them, as text (a JSON key): ranges} from {worksheet member: ranges}: the
    workbook lists its sheets in order, each through its relationship to its part."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
    try:
        with zipfile.ZipFile(path) as zf:
            book = ElementTree.fromstring(zf.read("xl/workbook.xml"))
            rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, OSError):
        return {}
    targets = {}
    for rel in rels.findall("p:Relationship", ns):
        target = rel.get("Target", "")
        targets[rel.get("Id")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    found = {}
    for index, sheet in enumerate(book.findall("m:sheets/m:sheet", ns)):
        part = targets.get(sheet.get(f"{{{ns['r']}}}id"))
        if part in merges:
            found[str(index)] = merges[part]
    return found


# -- rows ------------------------------------------------------------------------------------------


@dataclass
class Sheet:
    name: str
    rows: Iterator[list]
    index: int = 0
    visible: bool = True
    # Its merged cells ([first row, first column, last row, last column]); of a sheet calamine loads whole, known
    # once its first row has been read.
    merged: list = field(default_factory=list)


def iter_sheets(path: str | os.PathLike, *, kind: str | None = None, checked: bool = False, merged: dict | None = None) -> list[Sheet]:
    """The worksheets of a file, each with a lazy row iterator (a sheet is read when its rows are).

    Runs `check_safe` with its default limits unless `checked` says the caller already did with its own; then
    `merged` is what it returned, the merged cells of a streamed xlsx (None: they are found again).
    """
    if not checked:
        merged = check_safe(path)
    elif merged is None:
        merged = merged_cells(path)
    kind = kind or sniff(path)
    if kind == "csv":
        return [Sheet(name="", rows=_csv_rows(path))]  # a CSV file has one table and no sheet name
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(os.fspath(path))
        metadata = workbook.sheets_metadata
    except python_calamine.PasswordError as exc:
        raise FileRejected("文件设有打开密码，请取消密码后再上传") from exc
    except Exception as exc:  # calamine raises several types for a broken or foreign file
        raise FileRejected(f"无法读取该 Excel 文件，文件可能已损坏或并非表格：{exc}") from exc
    sheets = []
    for index, meta in enumerate(metadata):
        if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
            continue
        sheet = Sheet(name=meta.name, rows=iter(()), index=index, visible=meta.visible == python_calamine.SheetVisibleEnum.Visible)
        if kind == "xlsx" and python_calamine_plus:
            sheet.rows, sheet.merged = _xlsx_rows(path, index), [list(r) for r in merged.get(str(index), ())]
        else:
            sheet.rows = _calamine_rows(workbook, index, sheet.merged)
        sheets.append(sheet)
    return sheets


def merged_cells(path) -> dict[str, list[list[int]]]:
    """The merged cells of each sheet of an xlsx file, as check_safe finds them: its pass over the sheets alone."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if m.filename.startswith(_WORKSHEETS)]
    except (zipfile.BadZipFile, OSError):
        return {}
    merges = _inflate_within_limits(path, members, MAX_UNCOMPRESSED)
    return merged_by_sheet(path, merges) if merges else {}


def _calamine_rows(workbook, index: int, merged: list | None = None) -> Iterator[list]:
    """The rows of a sheet calamine loads whole; its merged cells go into `merged` before the first row comes."""
    try:
        sheet = workbook.get_sheet_by_index(index)
    except Exception as exc:
        raise _sheet_unreadable(index, exc) from exc
    try:
        ranges = sheet.merged_cell_ranges or ()
    except Exception:  # noqa: BLE001 — a format calamine keeps no ranges for: its cells stay as they are
        ranges = ()
    if merged is not None:
        merged.extend([r0, c0, r1, c1] for (r0, c0), (r1, c1) in ranges[:MAX_MERGES])
    if sheet.start is None:  # an empty sheet
        return
    # iter_rows pads the rows above the data with blank rows but starts each row at the first used
    # column; pad the left too so that column indexes are the ones Excel shows.
    pad = [""] * sheet.start[1]
    for row in sheet.iter_rows():
        yield pad + row if pad else row


def _sheet_unreadable(index: int, exc: Exception) -> FileRejected:
    return FileRejected(f"无法读取第 {index + 1} 个工作表：{exc}")


def _xlsx_rows(path, index: int) -> Iterator[list]:
    """The rows of an xlsx sheet as `_calamine_rows` gives them, streamed from the file: the first comes at once and
    memory stays flat however long the sheet, where calamine's own reader parses the whole sheet first."""
    try:
        workbook = python_calamine_plus.CalamineWorkbook.from_path(os.fspath(path))
        stream = workbook.stream_sheet_by_index(index)
    except Exception as exc:
        raise _sheet_unreadable(index, exc) from exc
    try:
        yield from stream
    except Exception as exc:  # a sheet broken further down than where calamine opens it
        raise _sheet_unreadable(index, exc) from exc
    finally:
        workbook.close()


def csv_encoding(path: str | os.PathLike) -> str:
    """utf-8-sig / utf-16 by BOM, else utf-8 if the whole file decodes, else gb18030 (a superset of GBK)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    # The whole file, not a sample: a GBK list is often pure ASCII for its first thousand rows.
    for encoding in ("utf-8", "gb18030"):
        if _decodes_fully(path, encoding):
            return encoding
    raise FileRejected("无法识别文件编码，请将文件另存为 UTF-8 或 GBK 编码的 CSV")


def _decodes_fully(path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def sniff_delimiter(lines: list[str]) -> str:
    """Comma, tab or semicolon: whichever splits the most sample lines into the same number (>1) of fields."""
    best, best_score = ",", (0, 0)
    for delimiter in (",", "\t", ";"):
        counts = [len(fields) for fields in csv.reader(lines, delimiter=delimiter) if any(fields)]
        wide = [c for c in counts if c > 1]
        if not wide:
            continue
        modal = max(set(wide), key=wide.count)
        score = (wide.count(modal), modal)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_rows(path) -> Iterator[list]:
    encoding = csv_encoding(path)
    with open(path, encoding=encoding, newline="") as fh:
        sample = fh.read(_SAMPLE)
        lines = sample.splitlines()[:50]
        if len(sample) == _SAMPLE and len(lines) > 1:
            lines = lines[:-1]  # the last one may be cut short
        delimiter = sniff_delimiter(lines)
        fh.seek(0)
        reader = csv.reader(fh, delimiter=delimiter)
        ended = 0  # the line the previous row ended on
        try:
            for row in reader:
                if reader.line_num - ended > 1 and _swallowed(row, delimiter):
                    raise FileRejected(
                        f"第{ended + 1}行有一个以引号开头的单元格，直到第{reader.line_num}行才遇到配对的引号，其间的行都被并入了这个"
                        f"单元格：请检查第{ended + 1}行的引号（单元格中的引号要写成两个）"
                    )
                ended = reader.line_num
                yield row
        except csv.Error as exc:  # a field past csv's size limit: an unclosed quote ran over the rest of the file
            raise FileRejected(f"第{ended + 1}行起格式错误（{exc}）：请检查该行是否有未配对的引号") from exc


def _swallowed(row: list[str], delimiter: str) -> bool:
    """Whether a row that ran over several lines did so because a quote was left open: one of its cells holds, after
    a line break, what reads as further rows (two delimiters or more). A cell with a line break in it otherwise (an
    address written on two lines) is a cell like any other."""
    return any("\n" in cell and cell.split("\n", 1)[1].count(delimiter) >= 2 for cell in row)


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension ref="[A-Z]+\d+(?::[A-Z]+(\d+))?"')


_SMALLEST_ROW = len(b"<row><c><v>1</v></c></row>")  # a row of one cell in sheet XML (r= attributes are optional)


def estimate_rows(path: str | os.PathLike, kind: str) -> int | None:
    """Rows in the file, cheaply, for a progress bar and the bulk-load decision: the sheets' declared
    dimensions (xlsx), capped by what their XML can hold (a sheet formatted down to row 1,048,576 declares
    that many), or the line count (csv). None when the file does not say (legacy xls, no dimension)."""
    try:
        if kind == "csv":
            with open(path, "rb") as fh:
                return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
        if kind == "xlsx":
            total = 0
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                        with archive.open(name) as member:
                            match = _DIMENSION.search(member.read(4096))
                        if match is None:
                            return None
                        total += min(int(match.group(1) or 1), archive.getinfo(name).file_size // _SMALLEST_ROW + 1)
            return total
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    return None
