"""The official documents of a case as .docx (python-docx), and PDF through LibreOffice when it is installed.

No Django here: kongchuo.cases.paperwork fills a DocumentData from the case and stores what comes out.

Six kinds (DESIGN.md §3, §5; the escalation of seeds 000, 001, 004):
- 入学（复学）通知书, 限期复学通知书 (7 days, seed 004), 劝学书 — letters served on the guardians, each citing
  《中华人民共和国义务教育法》 第五条、第十一条 (the guardian's duty) and 第五十八条 (批评教育，责令限期改正), signed by the
  issuing unit with room for its seal, and ending in a 回执 to be cut off, signed and returned (proof of service).
- 辍学学生登记表 — the 一生一表 of seed 002's attachment (重庆市潼南区义务教育阶段辍学学生登记表) with every field,
  the persuasion log as rows, and 核查人/填表人/审核人 signatures (谁核查谁负责、谁填写谁负责、谁审核谁负责, seed 004).
- 家访记录单 (seed 004: 《学生辍学家访记录单》) and 辍学报告单 (seed 004: the school reports a dropout to the township
  government, which then acts on the guardians) — bordered forms.

Typography follows what county offices use (GB/T 9704 conventions): A4, titles in 方正小标宋简体 (bold), body text in
仿宋_GB2312 三号, forms in 宋体 五号, Latin and digits in Times New Roman, dates written 2026年12月1日. Fonts a PC
lacks are substituted by name (the font table names 仿宋/宋体 as alternatives); to_pdf maps them onto Noto CJK SC.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import _Cell
from docx.text.paragraph import Paragraph

from kongchuo.cases.document_data import DocumentData, Person

log = logging.getLogger(__name__)

KINDS = {
    "enrolment_notice": "入学（复学）通知书",
    "deadline_notice": "限期复学通知书",
    "persuasion_letter": "劝学书",
    "case_form": "辍学学生登记表",
    "home_visit_record": "家访记录单",
    "dropout_report": "辍学报告单",
}

DEADLINE_NOTICE_DAYS = 7  # seed 004: 法定监护人在接到通知书后一周内仍不送学生复学的 …

LAW = "《中华人民共和国义务教育法》"

# Font names as Chinese offices have them; the second name is what Word falls back to (fontTable altName).
FANGSONG = "仿宋_GB2312"
SONGTI = "宋体"
TITLE_FONT = "方正小标宋简体"
HEITI = "黑体"
LATIN = "Times New Roman"
_FONT_TABLE = {  # name: (altName, family, pitch)
    FANGSONG: ("仿宋", "modern", "fixed"),
    TITLE_FONT: ("宋体", "script", "fixed"),
    SONGTI: ("SimSun", "auto", "variable"),
    HEITI: ("SimHei", "modern", "fixed"),
}

# Chinese font sizes (号) in points.
SIZE_2 = 22.0  # 二号: document titles
SIZE_S2 = 18.0  # 小二: form titles
SIZE_3 = 16.0  # 三号: body text of letters (GB/T 9704)
SIZE_S3 = 15.0  # 小三
SIZE_4 = 14.0  # 四号
SIZE_S4 = 12.0  # 小四
SIZE_5 = 10.5  # 五号: forms
SIZE_S5 = 9.0  # 小五

A4 = (Cm(21.0), Cm(29.7))


# ---------------------------------------------------------------------------------------------------------------------
# Text helpers


_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def text(value: object) -> str:
    """What a value prints as: None → "", booleans → 是/否, dates → 2026年12月1日; characters XML cannot carry dropped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date):
        return cn_date(value)
    return _clean(str(value)).strip()


def _clean(value: str) -> str:
    return _XML_ILLEGAL.sub("", value).replace("\r\n", "\n").replace("\r", "\n")


def cn_date(value: date | None) -> str:
    """2026年12月1日 (no leading zeros, as written on Chinese documents); "" for None."""
    if value is None:
        return ""
    return f"{value.year}年{value.month}月{value.day}日"


def deadline_of(data: DocumentData) -> date | None:
    """The date the guardian must act by: as given; for 限期复学通知书 7 days after issue when not given."""
    if data.deadline is not None:
        return data.deadline
    if data.kind == "deadline_notice":
        return data.issued_on + timedelta(days=DEADLINE_NOTICE_DAYS)
    return None


def township_government(data: DocumentData) -> str:
    """城口县巴山镇人民政府 / 城口县葛城街道办事处 — the body that orders guardians (义务教育法 第五十八条)."""
    township = text(data.township)
    county = text(data.county)
    if not township:
        return "当地乡镇人民政府（街道办事处）"
    if not township.startswith(county):
        township = county + township
    return township + ("办事处" if township.endswith("街道") else "人民政府")


def _width(s: str) -> float:
    """Width in em: CJK and full-width characters 1, the rest ½ (Times New Roman digits are about that)."""
    return sum(1.0 if ord(c) >= 0x2E80 else 0.5 for c in s)


def suggested_filename(data: DocumentData, extension: str = "docx") -> str:
    """限期复学通知书-王小明-城教控辍〔2026〕第0012号.docx, with characters file systems dislike removed."""
    stem = "-".join(part for part in (KINDS.get(data.kind, data.kind), text(data.child_name), text(data.number)) if part)
    return re.sub(r'[\\/:*?"<>|\s]+', "_", stem) + "." + extension


def _guardian_names(data: DocumentData) -> str:
    return "、".join(text(g.name) for g in data.guardians if text(g.name))


def _child_description(data: DocumentData) -> str:
    """王小明（男，2012年3月5日出生，居民身份证号码：…）"""
    facts = [text(data.gender)]
    if data.birth_date:
        facts.append(f"{cn_date(data.birth_date)}出生")
    if text(data.id_number):
        facts.append(f"居民身份证号码：{text(data.id_number)}")
    facts = [f for f in facts if f]
    return text(data.child_name) + (f"（{'，'.join(facts)}）" if facts else "")


def _school_and_grade(data: DocumentData) -> str:
    return text(data.school) + text(data.grade)


# ---------------------------------------------------------------------------------------------------------------------
# The document builder: page, fonts, paragraphs, bordered tables


@dataclass(frozen=True)
class _Margins:
    top: float
    bottom: float
    left: float
    right: float

    @property
    def text_width_cm(self) -> float:
        return 21.0 - self.left - self.right


LETTER_MARGINS = _Margins(top=3.0, bottom=2.6, left=2.8, right=2.6)
FORM_MARGINS = _Margins(top=2.2, bottom=2.0, left=2.2, right=2.0)


def _set_run_font(run, *, font: str, size: float, bold: bool = False, underline: bool = False) -> None:
    rpr = run._r.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attribute), None)
    fonts.set(qn("w:ascii"), LATIN)
    fonts.set(qn("w:hAnsi"), LATIN)
    fonts.set(qn("w:cs"), LATIN)
    fonts.set(qn("w:eastAsia"), font)
    fonts.set(qn("w:hint"), "eastAsia")  # “”、…— are shared by Latin and CJK: print them full-width, in the CJK font
    run.font.size = Pt(size)
    run.font.bold = bold or None
    run.font.underline = underline or None


class _Builder:
    def __init__(self, data: DocumentData, *, title: str, margins: _Margins, landscape: bool = False):
        self.data = data
        self.margins = margins
        self.doc = Document()
        self._defaults()
        section = self.doc.sections[0]
        section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = (A4[1], A4[0]) if landscape else A4
        section.top_margin, section.bottom_margin = Cm(margins.top), Cm(margins.bottom)
        section.left_margin, section.right_margin = Cm(margins.left), Cm(margins.right)
        section.header_distance, section.footer_distance = Cm(1.5), Cm(1.2)
        properties = self.doc.core_properties
        properties.title = title
        properties.subject = KINDS[data.kind]
        properties.author = properties.last_modified_by = text(data.issuing_unit) or "控辍保学管理平台"
        properties.identifier = text(data.number)
        properties.keywords = "控辍保学"
        properties.comments = ""
        properties.language = "zh-CN"
        properties.created = properties.modified = datetime(data.issued_on.year, data.issued_on.month, data.issued_on.day)
        properties.revision = 1

    # -- set-up ----------------------------------------------------------------------------------------------------

    def _defaults(self) -> None:
        """Document defaults: Chinese language, our fonts, no theme fonts, no spacing after paragraphs; font table."""
        styles = self.doc.styles.element
        rpr_default = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
        fonts = rpr_default.find(qn("w:rFonts"))
        fonts.attrib.clear()
        for attribute, value in (("w:ascii", LATIN), ("w:hAnsi", LATIN), ("w:eastAsia", FANGSONG), ("w:cs", LATIN)):
            fonts.set(qn(attribute), value)
        language = rpr_default.find(qn("w:lang"))
        language.set(qn("w:val"), "en-US")
        language.set(qn("w:eastAsia"), "zh-CN")
        spacing = styles.find(qn("w:docDefaults")).find(qn("w:pPrDefault")).find(qn("w:pPr")).find(qn("w:spacing"))
        spacing.set(qn("w:after"), "0")
        spacing.set(qn("w:line"), "240")
        normal = self.doc.styles["Normal"]
        normal.font.name = LATIN
        normal.font.size = Pt(SIZE_3)
        normal_fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
        normal_fonts.set(qn("w:eastAsia"), FANGSONG)
        # Compress punctuation (Word's zh-CN default) and mark the theme's East Asian language as Chinese.
        settings = self.doc.settings.element
        control = settings.find(qn("w:characterSpacingControl"))
        if control is not None:
            control.set(qn("w:val"), "compressPunctuation")
        theme_language = settings.find(qn("w:themeFontLang"))
        if theme_language is not None:
            theme_language.set(qn("w:eastAsia"), "zh-CN")
        self._font_table()

    def _font_table(self) -> None:
        part = self.doc.part
        for rel in part.rels.values():
            if rel.reltype.endswith("/fontTable"):
                table_part = rel.target_part
                break
        else:  # pragma: no cover - python-docx's template always has one
            return
        from lxml import etree

        root = etree.fromstring(table_part.blob)
        known = {font.get(qn("w:name")) for font in root.findall(qn("w:font"))}
        for name, (alternative, family, pitch) in _FONT_TABLE.items():
            if name in known:
                continue
            font = etree.SubElement(root, qn("w:font"))
            font.set(qn("w:name"), name)
            for tag, value in (("w:altName", alternative), ("w:charset", "86"), ("w:family", family), ("w:pitch", pitch)):
                etree.SubElement(font, qn(tag)).set(qn("w:val"), value)
        table_part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)

    # -- paragraphs ------------------------------------------------------------------------------------------------

    def paragraph(
        self,
        content: str | Sequence[tuple[str, dict]] = "",
        *,
        size: float = SIZE_3,
        font: str = FANGSONG,
        bold: bool = False,
        align: WD_ALIGN_PARAGRAPH | None = None,
        first_line: float = 0,
        left: float = 0,
        right: float = 0,
        line: float | None = None,
        before: float = 0,
        after: float = 0,
        keep_with_next: bool = False,
        container=None,
    ) -> Paragraph:
        """A paragraph; indents in characters of `size`, line spacing exact in points (default 1.75 × size)."""
        target = container if container is not None else self.doc
        p = target.add_paragraph()
        fmt = p.paragraph_format
        if align is not None:
            p.alignment = align
        fmt.first_line_indent = Pt(first_line * size) if first_line else None
        fmt.left_indent = Pt(left * size) if left else None
        fmt.right_indent = Pt(right * size) if right else None
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(line if line is not None else round(size * 1.75, 1))
        fmt.space_before = Pt(before)
        fmt.space_after = Pt(after)
        fmt.widow_control = True
        if keep_with_next:
            fmt.keep_with_next = True
        pieces = [(content, {})] if isinstance(content, str) else content
        for piece, style in pieces:
            self.run(
                p,
                piece,
                size=style.get("size", size),
                font=style.get("font", font),
                bold=style.get("bold", bold),
                underline=style.get("underline", False),
            )
        return p

    @staticmethod
    def run(p: Paragraph, content: str, *, size: float, font: str = FANGSONG, bold: bool = False, underline: bool = False):
        r = p.add_run(_clean(content))
        _set_run_font(r, font=font, size=size, bold=bold, underline=underline)
        return r

    def title(self, title: str, *, size: float = SIZE_2, before: float = 0, after: float = 6) -> Paragraph:
        return self.paragraph(
            title,
            size=size,
            font=TITLE_FONT,
            bold=True,
            align=WD_ALIGN_PARAGRAPH.CENTER,
            line=size * 1.6,
            before=before,
            after=after,
            keep_with_next=True,
        )

    def body(self, content: str | Sequence[tuple[str, dict]], **kwargs) -> Paragraph:
        kwargs.setdefault("first_line", 2)
        kwargs.setdefault("align", WD_ALIGN_PARAGRAPH.JUSTIFY)
        return self.paragraph(content, **kwargs)

    def signature(self, *, size: float = SIZE_3, before_lines: float = 1.5) -> None:
        """Issuing unit and date at the bottom right (GB/T 9704: date 4 characters from the right, unit centred over
        it, or the unit 2 from the right and the date centred under it when the unit is longer), with the seal mark."""
        unit = f"{text(self.data.issuing_unit)}（盖章）"
        day = cn_date(self.data.issued_on)
        unit_width, day_width = _width(unit), _width(day)
        if unit_width >= day_width:
            unit_right, day_right = 2.0, 2.0 + (unit_width - day_width) / 2
        else:
            unit_right, day_right = 4.0 + (day_width - unit_width) / 2, 4.0
        self.paragraph(
            unit, size=size, align=WD_ALIGN_PARAGRAPH.RIGHT, right=unit_right, before=size * 1.75 * before_lines, keep_with_next=True
        )
        self.paragraph(day, size=size, align=WD_ALIGN_PARAGRAPH.RIGHT, right=day_right)

    def cut_line(self, note: str) -> None:
        """A dashed line across the page with a small note under it: where the 回执 is cut off."""
        p = self.paragraph(note, size=SIZE_S5, align=WD_ALIGN_PARAGRAPH.CENTER, before=26, line=14, keep_with_next=True)
        border = OxmlElement("w:pBdr")
        top = OxmlElement("w:top")
        for attribute, value in (("w:val", "dashed"), ("w:sz", "6"), ("w:space", "4"), ("w:color", "auto")):
            top.set(qn(attribute), value)
        border.append(top)
        p._p.get_or_add_pPr().insert_element_before(border, *_AFTER_PARAGRAPH_BORDER)

    def fill_line(self, items: Iterable[tuple[str, int]], *, size: float = SIZE_4, before: float = 0) -> Paragraph:
        """监护人（签名）：＿＿＿＿  联系电话：＿＿＿＿ — labels followed by underlined blanks `n` characters wide."""
        pieces: list[tuple[str, dict]] = []
        for i, (label, blanks) in enumerate(items):
            if i:
                pieces.append(("\u3000\u3000", {}))
            pieces.append((label, {}))
            if blanks:
                pieces.append(("\u3000" * blanks, {"underline": True}))
        return self.paragraph(pieces, size=size, line=size * 2.2, before=before, keep_with_next=True)

    def tabbed_line(self, left: str, right: str, *, size: float = SIZE_5, after: float = 4) -> Paragraph:
        """One line with text at the left margin and text flush right (编号 over a form)."""
        p = self.paragraph([(left, {}), ("\t", {}), (right, {})], size=size, line=size * 1.6, after=after, keep_with_next=True)
        p.paragraph_format.tab_stops.add_tab_stop(Cm(self.margins.text_width_cm), WD_TAB_ALIGNMENT.RIGHT)
        return p

    # -- tables ----------------------------------------------------------------------------------------------------

    def table(self, widths_cm: Sequence[float], *, borders: bool = True) -> _Table:
        table = self.doc.add_table(rows=0, cols=len(widths_cm))
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        tbl_pr = table._tbl.tblPr
        for child in list(tbl_pr):
            if child.tag in (qn("w:tblStyle"), qn("w:tblW"), qn("w:tblLook")):
                tbl_pr.remove(child)
        width = OxmlElement("w:tblW")
        width.set(qn("w:w"), str(_twips(sum(widths_cm))))
        width.set(qn("w:type"), "dxa")
        tbl_pr.append(width)
        if borders:
            border_set = OxmlElement("w:tblBorders")
            for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
                element = OxmlElement(f"w:{edge}")
                outer = edge in ("top", "left", "bottom", "right")
                for attribute, value in (("w:val", "single"), ("w:sz", "8" if outer else "4"), ("w:space", "0"), ("w:color", "000000")):
                    element.set(qn(attribute), value)
                border_set.append(element)
            tbl_pr.append(border_set)
        layout = OxmlElement("w:tblLayout")
        layout.set(qn("w:type"), "fixed")
        tbl_pr.append(layout)
        margins = OxmlElement("w:tblCellMar")
        for edge, value in (("left", 80), ("right", 80)):
            element = OxmlElement(f"w:{edge}")
            element.set(qn("w:w"), str(value))
            element.set(qn("w:type"), "dxa")
            margins.append(element)
        tbl_pr.append(margins)
        _schema_order(tbl_pr, _TBL_PR_ORDER)
        for column, w in zip(table.columns, widths_cm, strict=True):
            column.width = Cm(w)
        return _Table(self, table, list(widths_cm))


# What may follow w:pBdr in a w:pPr (ECMA-376 sequence): the border goes before the first of these present.
_AFTER_PARAGRAPH_BORDER = tuple(
    f"w:{name}"
    for name in (
        "shd tabs suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi adjustRightInd "
        "snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc textDirection textAlignment textboxTightWrap "
        "outlineLvl divId cnfStyle rPr sectPr pPrChange"
    ).split()
)

_TBL_PR_ORDER = (
    "tblStyle",
    "tblpPr",
    "tblOverlap",
    "bidiVisual",
    "tblStyleRowBandSize",
    "tblStyleColBandSize",
    "tblW",
    "jc",
    "tblCellSpacing",
    "tblInd",
    "tblBorders",
    "shd",
    "tblLayout",
    "tblCellMar",
    "tblLook",
    "tblCaption",
    "tblDescription",
)


def _schema_order(element, order: Sequence[str]) -> None:
    """Word rejects a file whose property elements are out of the schema's sequence: sort the children."""
    rank = {qn(f"w:{name}"): i for i, name in enumerate(order)}
    children = sorted(element, key=lambda child: rank.get(child.tag, len(rank)))
    for child in children:
        element.append(child)


def _twips(cm: float) -> int:
    return round(cm / 2.54 * 1440)


@dataclass(frozen=True)
class C:
    """One cell of a form row: its content, how many grid columns it spans, and how it looks.

    role: "label" (centred, the form's printed text), "value" (filled in; centred unless wrap), "section" (bold
    vertical heading), "note" (small print). merge: "restart" begins a vertical merge, "continue" extends the one above.
    """

    content: str | Sequence[str] = ""
    span: int = 1
    role: str = "value"
    align: str = ""  # "left" | "center" | "right" (default: labels and short values centred, long text left)
    merge: str = ""
    size: float | None = None
    bold: bool = False


class _Table:
    def __init__(self, builder: _Builder, table, widths: list[float]):
        self.builder = builder
        self.table = table
        self.widths = widths

    def row(self, cells: Sequence[C], *, height: float = 0.8, exact: bool = False, cant_split: bool = True, header: bool = False) -> None:
        spans = sum(c.span for c in cells)
        if spans != len(self.widths):
            raise ValueError(f"row spans {spans} grid columns, the table has {len(self.widths)}")
        tr = OxmlElement("w:tr")
        tr_pr = OxmlElement("w:trPr")
        if cant_split:
            tr_pr.append(OxmlElement("w:cantSplit"))
        row_height = OxmlElement("w:trHeight")
        row_height.set(qn("w:val"), str(_twips(height)))
        row_height.set(qn("w:hRule"), "exact" if exact else "atLeast")
        tr_pr.append(row_height)
        if header:
            tr_pr.append(OxmlElement("w:tblHeader"))
        tr.append(tr_pr)
        self.table._tbl.append(tr)
        column = 0
        for cell in cells:
            tc = OxmlElement("w:tc")
            tc_pr = OxmlElement("w:tcPr")
            width = OxmlElement("w:tcW")
            width.set(qn("w:w"), str(_twips(sum(self.widths[column : column + cell.span]))))
            width.set(qn("w:type"), "dxa")
            tc_pr.append(width)
            if cell.span > 1:
                grid_span = OxmlElement("w:gridSpan")
                grid_span.set(qn("w:val"), str(cell.span))
                tc_pr.append(grid_span)
            if cell.merge:
                v_merge = OxmlElement("w:vMerge")
                if cell.merge == "restart":
                    v_merge.set(qn("w:val"), "restart")
                tc_pr.append(v_merge)
            v_align = OxmlElement("w:vAlign")
            v_align.set(qn("w:val"), "center")
            tc_pr.append(v_align)
            tc.append(tc_pr)
            tr.append(tc)
            self._fill(_Cell(tc, self.table), cell)
            column += cell.span

    def _fill(self, cell: _Cell, spec: C) -> None:
        """One paragraph per line of the cell (Word needs at least one); a continued vertical merge stays empty."""
        if spec.merge == "continue":
            lines = [""]
        elif spec.content is None or isinstance(spec.content, str):
            lines = [text(spec.content)]
        else:
            lines = [text(line) for line in spec.content] or [""]
        size = spec.size or (SIZE_S5 if spec.role == "note" else SIZE_5)
        font = SONGTI if spec.role in ("label", "section", "note") else FANGSONG
        for line in lines:
            align = spec.align or ("center" if spec.role in ("label", "section") or _width(line) <= 12 else "left")
            p = self.builder.paragraph(
                line,
                size=size,
                font=font,
                bold=spec.bold or spec.role == "section",
                line=round(size * 1.45, 1),
                align={"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT}[align],
                container=cell,
            )
            p.paragraph_format.widow_control = False


# ---------------------------------------------------------------------------------------------------------------------
# Letters: 入学（复学）通知书, 限期复学通知书, 劝学书


_ARTICLE_5 = "适龄儿童、少年的父母或者其他法定监护人应当依法保证其按时入学接受并完成义务教育"
_ARTICLE_11 = "凡年满六周岁的儿童，其父母或者其他法定监护人应当送其入学接受并完成义务教育"
_ARTICLE_58 = (
    "适龄儿童、少年的父母或者其他法定监护人无正当理由未依照本法规定送适龄儿童、少年入学接受义务教育的，"
    "由当地乡镇人民政府或者县级人民政府教育行政部门给予批评教育，责令限期改正"
)


def _letter_head(b: _Builder, title: str, addressee: str) -> None:
    b.title(title, before=6, after=4)
    if text(b.data.number):
        b.paragraph(text(b.data.number), size=SIZE_3, align=WD_ALIGN_PARAGRAPH.CENTER, after=12)
    b.paragraph(addressee, size=SIZE_3, before=4)


def _addressee(data: DocumentData, *, polite: bool = False) -> str:
    names = _guardian_names(data)
    child = text(data.child_name)
    if polite:
        return f"尊敬的{child}同学家长（监护人）{names}："
    return f"{child}家长（监护人）{names}："


def _contact_line(b: _Builder, size: float = SIZE_3) -> None:
    contact, phone = text(b.data.contact), text(b.data.contact_phone)
    if contact or phone:
        parts = []
        if contact:
            parts.append(f"联系人：{contact}")
        if phone:
            parts.append(f"联系电话：{phone}")
        b.body("\u3000\u3000".join(parts), size=size)


def _receipt(b: _Builder, title: str, promise: str) -> None:
    data = b.data
    unit = text(data.issuing_unit)
    b.cut_line(f"（请沿此线剪开，回执由监护人签名后交回{unit}）" if unit else "（请沿此线剪开，回执由监护人签名后交回）")
    b.paragraph(
        "回\u3000执", size=SIZE_S2, font=TITLE_FONT, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, line=28, before=4, keep_with_next=True
    )
    if unit:
        b.paragraph(f"{unit}：", size=SIZE_4, line=24, keep_with_next=True)
    number = f"（{text(data.number)}）" if text(data.number) else ""
    b.body(
        f"本人已收到贵单位{cn_date(data.issued_on)}出具的《{title}》{number}，知悉依法保证子女（被监护人）"
        f"{text(data.child_name)}接受并完成义务教育是监护人的法定义务。{promise}",
        size=SIZE_4,
        line=24,
        keep_with_next=True,
    )
    b.fill_line([("监护人意见：", 24)], size=SIZE_4)
    b.fill_line([("监护人（签名）：", 8), ("与学生关系：", 5)], size=SIZE_4)
    b.fill_line([("联系电话：", 8), ("签收日期：\u3000\u3000\u3000\u3000年\u3000\u3000月\u3000\u3000日", 0)], size=SIZE_4)
    b.fill_line([("送达人（签名）：", 6), ("见证人（签名）：", 6)], size=SIZE_4)
    b.paragraph("注：监护人拒绝签收的，由送达人在回执上注明拒收事由和日期，并由见证人签名。", size=SIZE_S5, font=SONGTI, line=14)


def _render_enrolment_notice(b: _Builder) -> None:
    data = b.data
    title = KINDS["enrolment_notice"]
    _letter_head(b, title, _addressee(data))
    child = text(data.child_name)
    b.body(f"经核查，你（们）的子女（被监护人）{_child_description(data)}系适龄儿童少年，目前未按规定在校接受义务教育。")
    b.body(
        f"{LAW}第五条第二款规定：“{_ARTICLE_5}。”第十一条第一款规定：“{_ARTICLE_11}……”"
        "依法送适龄子女入学接受并完成义务教育，是你（们）必须履行的法定义务。"
    )
    deadline = deadline_of(data)
    where = f"到{text(data.school)}" if text(data.school) else "到学校"
    grade = f"（{text(data.grade)}）" if text(data.grade) else ""
    when = f"于{cn_date(deadline)}前" if deadline else "在接到本通知书后立即"
    b.body(
        f"请你（们）{when}送{child}{where}{grade}报到，办理入学（复学）手续。学校将做好入学（复学）安置和学业帮扶，"
        "并按规定落实“两免一补”等资助政策。如因身体状况需要延缓入学或者休学，请依照该法第十一条第二款的规定，"
        "向当地乡镇人民政府或者县级人民政府教育行政部门提出申请。"
    )
    b.body(f"根据该法第五十八条的规定，{_ARTICLE_58}。逾期仍未送其入学（复学）的，将依法向你（们）下达《限期复学通知书》。")
    b.body("特此通知。")
    _contact_line(b)
    b.signature()
    promise = f"本人将于{cn_date(deadline)}前送其{where}报到。" if deadline else f"本人将尽快送其{where}报到。"
    _receipt(b, title, promise)


def _persuasion_count(data: DocumentData) -> int:
    return data.persuasion_count or len(data.persuasion_log)


def _persuasion_history(data: DocumentData) -> str:
    dates = "、".join(cn_date(entry.date) for entry in data.persuasion_log if entry.date)
    count = _persuasion_count(data)
    unit = text(data.persuading_unit)
    who = unit if unit else "学校和当地人民政府"
    if count:
        when = f"（{dates}）" if dates else ""
        return f"{who}已先后{count}次对你（们）开展劝返工作{when}，宣传了有关法律法规和教育资助政策，但你（们）至今仍未送其返校复学。"
    return f"经{who}劝返，你（们）至今仍未送其返校复学。"


def _render_deadline_notice(b: _Builder) -> None:
    data = b.data
    title = KINDS["deadline_notice"]
    _letter_head(b, title, _addressee(data))
    child = text(data.child_name)
    school = _school_and_grade(data)
    pupil = f"系{school}学生，" if school else ""
    b.body(f"你（们）的子女（被监护人）{_child_description(data)}{pupil}目前处于辍学状态。{_persuasion_history(data)}")
    b.body(f"你（们）的上述行为违反了{LAW}第五条第二款“{_ARTICLE_5}”和第十一条第一款“{_ARTICLE_11}”的规定。")
    deadline = deadline_of(data)
    days = (deadline - data.issued_on).days if deadline else DEADLINE_NOTICE_DAYS
    where = f"到{text(data.school)}" if text(data.school) else "到学校"
    b.body(
        f"根据该法第五十八条的规定，现对你（们）提出批评教育，并责令你（们）限期改正：自本通知书签发之日起{days}日内，"
        f"即于{cn_date(deadline)}前，送{child}{where}返校复学，并保证其接受并完成义务教育。"
    )
    issuer = text(data.issuing_unit) or "本单位"
    b.body(
        f"逾期仍不送子女返校复学的，{issuer}将依法申请司法调处，或者依法向人民法院提起诉讼，由人民法院依法作出裁判，"
        "督促你（们）履行法定义务；情节严重或者构成犯罪的，依法追究法律责任。由此产生的法律后果由你（们）承担。"
    )
    b.body("如其因身体状况确需延缓入学或者休学的，应当依照该法第十一条第二款的规定提出申请，经批准后办理相关手续。")
    b.body("特此通知。")
    _contact_line(b)
    b.signature()
    _receipt(b, title, f"本人将于{cn_date(deadline)}前送其{where}返校复学。")


def _render_persuasion_letter(b: _Builder) -> None:
    data = b.data
    title = KINDS["persuasion_letter"]
    _letter_head(b, title, _addressee(data, polite=True))
    b.body("您好！")
    facts = "，".join(f for f in (text(data.gender), f"{cn_date(data.birth_date)}出生" if data.birth_date else "") if f)
    school = _school_and_grade(data)
    who = f"您的孩子{text(data.child_name)}" + (f"（{facts}）" if facts else "")
    reason = f"经了解，孩子未到校的主要原因是：{text(data.dropout_reason).rstrip('。')}。" if text(data.dropout_reason) else ""
    b.body(f"{who}{'是' + school + '学生' if school else ''}。近期孩子未到校上课，老师和同学们都十分牵挂。{reason}")
    b.body(
        "孩子正处在长知识、长身体的关键时期，完成九年义务教育是孩子今后成长、就业和生活的基础。过早离开学校外出务工"
        "或者在家闲置，不仅违反国家法律，也会影响孩子一生的发展。"
    )
    b.body(
        f"接受义务教育既是孩子的权利，也是家长的法定义务。{LAW}第五条第二款规定：“{_ARTICLE_5}。”"
        f"第十一条第一款规定：“{_ARTICLE_11}……”第五十八条规定：“{_ARTICLE_58}。”"
    )
    b.body(
        "国家对义务教育阶段学生免除学杂费、免费提供教科书，对家庭经济困难的寄宿学生补助生活费（“两免一补”），"
        "农村学生还享受营养改善计划。孩子返校后，学校将安排老师结对帮扶，帮助孩子补习功课、尽快适应学校生活；"
        "家庭如有困难，学校将积极协助申请相关资助。"
    )
    deadline = deadline_of(data)
    when = f"于{cn_date(deadline)}前" if deadline else "尽快"
    b.body(f"恳请您高度重视，{when}送孩子返校复学。如有困难或者想法，请随时与学校联系，我们将尽力帮助解决。")
    _contact_line(b)
    b.body("此致")
    b.paragraph("敬礼！", size=SIZE_3)
    b.signature(before_lines=1)
    promise = f"本人将于{cn_date(deadline)}前送孩子返校复学。" if deadline else "本人将积极配合学校，送孩子返校复学。"
    _receipt(b, title, promise)


# ---------------------------------------------------------------------------------------------------------------------
# Forms: 辍学学生登记表 (一生一表), 家访记录单, 辍学报告单


def _grid(b: _Builder, columns: int, *, first: float | None = None) -> _Table:
    """A table over the text width: `columns` equal grid columns, or a narrow first one (a section heading) and the rest."""
    total = b.margins.text_width_cm
    if first is None:
        return b.table([total / columns] * columns)
    return b.table([first] + [(total - first) / (columns - 1)] * (columns - 1))


def _vertical(label: str) -> list[str]:
    """基本信息 → one character a line: a vertical heading that prints the same in Word, WPS and LibreOffice."""
    return [c for c in label if not c.isspace()]


def _guardian(data: DocumentData, i: int) -> Person:
    return data.guardians[i] if i < len(data.guardians) else Person("")


def _birth_parts(data: DocumentData) -> tuple[str, str, str]:
    if not data.birth_date:
        return "年", "月", "日"
    d = data.birth_date
    return f"{d.year}年", f"{d.month}月", f"{d.day}日"


def _age(data: DocumentData, unit: str = "") -> str:
    return f"{data.age}{unit}" if isinstance(data.age, int) and data.age >= 0 else ""


def _count(data: DocumentData) -> str:
    count = _persuasion_count(data)
    return str(count) if data.persuasion_done or count else ""


def _left_if_long(value: object, limit: float = 6) -> str:
    return "left" if _width(text(value)) > limit else ""


def _render_case_form(b: _Builder) -> None:
    """The 一生一表, laid out like seed 002's attachment: 基本信息 and 核查劝返情况 with the persuasion log as rows."""
    data = b.data
    b.title(f"{text(data.county)}义务教育阶段辍学学生登记表", size=SIZE_S2, after=0)
    b.tabbed_line("", f"编号：{text(data.number)}" if text(data.number) else "", after=0)
    contact = "\u3000".join(p for p in (text(data.contact), text(data.contact_phone)) if p)
    head = b.table([10.4, b.margins.text_width_cm - 10.4], borders=False)
    head.row(
        [
            C(f"单位（盖章）：{text(data.issuing_unit)}", role="label", align="left"),
            C(f"填表日期：{cn_date(data.issued_on)}", role="label", align="right"),
        ],
        height=0.6,
    )
    head.row([C(f"学校联系人及电话：{contact}", 2, role="label", align="left")], height=0.6)
    b.paragraph("", size=3, line=3)

    t = _grid(b, 25, first=0.9)  # column 0: the section heading; 24 grid columns for the fields
    g1, g2 = _guardian(data, 0), _guardian(data, 1)
    year, month, day = _birth_parts(data)
    basic = [
        ([C("姓\u3000\u3000名", 3, "label"), C(data.child_name, 6), C("居民身份证号码", 5, "label"), C(data.id_number, 10)], 0.75),
        (
            [
                C("出生日期", 3, "label"),
                C(year, 3),
                C(month, 2),
                C(day, 2),
                C("性别", 2, "label"),
                C(data.gender, 2),
                C("年龄", 2, "label"),
                C(_age(data), 2),
                C("民族", 2, "label"),
                C(data.ethnicity, 4),
            ],
            0.75,
        ),
        ([C("健康情况", 3, "label"), C(data.health, 6), C("全国学籍号", 5, "label"), C(data.national_student_number, 10)], 0.75),
        (
            [
                C("监护人1", 3, "label"),
                C(g1.name, 4),
                C("与被核查人关系", 5, "label"),
                C(g1.relation, 4),
                C("联系电话", 3, "label"),
                C(g1.phone, 5),
            ],
            0.75,
        ),
        (
            [
                C("监护人2", 3, "label"),
                C(g2.name, 4),
                C("与被核查人关系", 5, "label"),
                C(g2.relation, 4),
                C("联系电话", 3, "label"),
                C(g2.phone, 5),
            ],
            0.75,
        ),
        ([C(["户籍", "所在地"], 3, "label"), C(data.household_address, 21, align="left")], 0.8),
        ([C(["学籍", "所在地"], 3, "label"), C(data.registration_address, 21, align="left")], 0.8),
        ([C("现居住地", 3, "label"), C(data.current_address, 21, align="left")], 0.8),
        (
            [
                C(["辍学", "原因"], 3, "label"),
                C(data.dropout_reason, 9, align=_left_if_long(data.dropout_reason, 14)),
                C(["家庭情况", "简述"], 3, "label"),
                C(data.family_situation, 9, align=_left_if_long(data.family_situation, 14)),
            ],
            1.3,
        ),
    ]
    for i, (cells, height) in enumerate(basic):
        t.row([C(_vertical("基本信息"), 1, "section", merge="restart" if i == 0 else "continue"), *cells], height=height)

    check = [
        (
            [
                C(["是否已开展", "劝返工作"], 4, "label"),
                C(text(data.persuasion_done), 2),
                C(["劝返", "次数"], 2, "label"),
                C(_count(data), 2),
                C(["劝返", "结果"], 2, "label"),
                C(data.persuasion_result, 4, align=_left_if_long(data.persuasion_result)),
                C(["未复学", "原因"], 3, "label"),
                C(data.reason_not_returned, 5, align=_left_if_long(data.reason_not_returned, 8)),
            ],
            1.0,
        ),
        (
            [
                C("劝返单位", 3, "label"),
                C(data.persuading_unit, 8, align=_left_if_long(data.persuading_unit, 12)),
                C(["劝返", "责任人"], 3, "label"),
                C(data.responsible_person, 3),
                C(["联系", "电话"], 2, "label"),
                C(data.responsible_phone, 5),
            ],
            0.9,
        ),
        (
            [
                C("是否属于经区县扶贫工作领导小组核实同意、准许先办理延缓入学或休学手续的学生", 18, "label", align="left"),
                C(text(data.deferral_approved), 6),
            ],
            0.75,
        ),
        (
            [
                C(["劝返过程", "详细记录"], 3, "label", merge="restart"),
                C("序号", 2, "label"),
                C("时\u3000间", 4, "label"),
                C("人\u3000员", 4, "label"),
                C("地\u3000点", 4, "label"),
                C("方\u3000式", 3, "label"),
                C("结\u3000果", 4, "label"),
            ],
            0.65,
        ),
    ]
    entries = list(data.persuasion_log)
    for i in range(max(len(entries), 3)):  # at least three lines, blank ones for handwriting
        e = entries[i] if i < len(entries) else None
        check.append(
            (
                [
                    C("", 3, "label", merge="continue"),
                    C(str(i + 1) if e else "", 2),
                    C(cn_date(e.date) if e else "", 4),
                    C(e.who if e else "", 4, align=_left_if_long(e.who if e else "")),
                    C(e.where if e else "", 4, align=_left_if_long(e.where if e else "")),
                    C(e.how if e else "", 3, align=_left_if_long(e.how if e else "", 4)),
                    C(e.result if e else "", 4, align=_left_if_long(e.result if e else "")),
                ],
                0.8,
            )
        )
    for i, (cells, height) in enumerate(check):
        t.row([C(_vertical("核查劝返情况"), 1, "section", merge="restart" if i == 0 else "continue"), *cells], height=height)
    t.row(
        [C("核查人（签名）", 5, "label"), C("", 3), C("填表人（签名）", 5, "label"), C("", 4), C("审核人（签名）", 5, "label"), C("", 3)],
        height=1.0,
    )
    b.paragraph(
        f"注：依据{LAW}和《教育部等十部门关于进一步加强控辍保学工作健全义务教育有保障长效机制的若干意见》"
        "（教基〔2020〕5号），对辍学学生建立“一生一表”工作档案，劝返复学后动态销号。户籍所在地、学籍所在地、"
        "现居住地填写详细地址（省、市、县、乡镇〔街道〕、村〔小区、门牌号码〕）；劝返过程分次记录、简明扼要，可附页。"
        "按照“谁核查谁负责、谁填写谁负责、谁审核谁负责”的原则填报。",
        size=SIZE_S5,
        font=SONGTI,
        line=13,
        before=3,
        align=WD_ALIGN_PARAGRAPH.JUSTIFY,
    )


def _identity_rows(data: DocumentData) -> list[tuple[list[C], float]]:
    """The child's and guardians' particulars on a 24-column form."""
    rows: list[tuple[list[C], float]] = [
        (
            [
                C("学生姓名", 4, "label"),
                C(data.child_name, 5),
                C("性\u3000别", 3, "label"),
                C(data.gender, 3),
                C("出生日期", 4, "label"),
                C(cn_date(data.birth_date), 5),
            ],
            0.8,
        ),
        (
            [
                C("民\u3000族", 4, "label"),
                C(data.ethnicity, 5),
                C("年\u3000龄", 3, "label"),
                C(_age(data, "岁"), 3),
                C("健康情况", 4, "label"),
                C(data.health, 5),
            ],
            0.8,
        ),
        ([C("身份证号码", 4, "label"), C(data.id_number, 8), C("全国学籍号", 4, "label"), C(data.national_student_number, 8)], 0.8),
        ([C("就读学校", 4, "label"), C(data.school, 8), C("年\u3000级", 4, "label"), C(data.grade, 8)], 0.8),
    ]
    guardians = list(data.guardians[:2]) or [Person("")]
    for i, g in enumerate(guardians):
        label = f"监护人{i + 1}" if len(guardians) > 1 else "监护人"
        rows.append(
            (
                [
                    C(label, 4, "label"),
                    C(g.name, 4),
                    C("与学生关系", 4, "label"),
                    C(g.relation, 4),
                    C("联系电话", 4, "label"),
                    C(g.phone, 4),
                ],
                0.8,
            )
        )
    rows.append(([C("户籍所在地", 4, "label"), C(data.household_address, 20, align="left")], 0.8))
    rows.append(([C("现居住地", 4, "label"), C(data.current_address, 20, align="left")], 0.8))
    return rows


def _form_head(b: _Builder, title: str) -> None:
    b.title(title, size=SIZE_S2, after=6)
    b.tabbed_line(f"单位：{text(b.data.issuing_unit)}", f"编号：{text(b.data.number)}" if text(b.data.number) else "")


def _render_home_visit_record(b: _Builder) -> None:
    data = b.data
    _form_head(b, "学生辍学家访记录单")
    t = _grid(b, 24)
    for cells, height in _identity_rows(data):
        t.row(cells, height=height)
    visit = data.visit
    notes = text(data.visit_notes)
    rows: list[tuple[list[C], float]] = [
        (
            [
                C("家访时间", 4, "label"),
                C(cn_date(visit.date) if visit else "", 8),
                C("家访地点", 4, "label"),
                C(visit.where if visit else "", 8, align=_left_if_long(visit.where if visit else "", 10)),
            ],
            0.85,
        ),
        ([C("家访人员", 4, "label"), C(visit.who if visit else "", 20, align="left")], 0.85),
        ([C("家访方式", 4, "label"), C(visit.how if visit else "", 20, align="left")], 0.85),
        ([C(["学生未到校", "原因"], 4, "label"), C(data.dropout_reason, 20, align="left")], 1.0),
        ([C("家庭情况", 4, "label"), C(data.family_situation, 20, align="left")], 1.2),
        (
            [
                C(["家访情况", "记录", "（宣传政策、", "交谈内容、", "学生及家长", "意见）"], 4, "label"),
                C(notes.split("\n") if notes else "", 20, align="left"),
            ],
            4.6,
        ),
        ([C("家访结果", 4, "label"), C(visit.result if visit else "", 20, align="left")], 1.1),
        (
            [
                C("告知事项", 4, "label"),
                C(
                    [
                        f"已告知监护人：依照{LAW}第五条、第十一条的规定，监护人应当依法保证适龄子女按时入学接受并完成义务教育；"
                        "无正当理由未送子女入学接受义务教育的，依照第五十八条的规定，由当地乡镇人民政府或者县级人民政府教育行政部门"
                        "给予批评教育，责令限期改正。",
                        "监护人（签名）：\u3000\u3000\u3000\u3000\u3000\u3000\u3000\u3000\u3000\u3000\u3000\u3000年\u3000\u3000月\u3000\u3000日",
                    ],
                    20,
                    align="left",
                ),
            ],
            2.0,
        ),
        ([C(["家访人员", "（签名）"], 4, "label"), C("", 8), C(["学校审核", "意见"], 4, "label"), C("", 8)], 1.3),
    ]
    for cells, height in rows:
        t.row(cells, height=height)
    b.signature(size=SIZE_4, before_lines=0.6)


def _log_lines(data: DocumentData) -> list[str]:
    lines = []
    for i, entry in enumerate(data.persuasion_log, start=1):
        facts = [cn_date(entry.date), text(entry.who), f"赴{text(entry.where)}" if text(entry.where) else "", text(entry.how)]
        line = f"{i}．" + "，".join(f for f in facts if f)
        if text(entry.result):
            line += f"，结果：{text(entry.result).rstrip('。')}"
        lines.append(line + "。")
    return lines


def _render_dropout_report(b: _Builder) -> None:
    data = b.data
    _form_head(b, "义务教育阶段学生辍学报告单")
    t = _grid(b, 24)
    for cells, height in _identity_rows(data):
        t.row(cells, height=height)
    count = _persuasion_count(data)
    government = township_government(data)
    if data.persuasion_done or count:
        situation = f"该生已辍学，经学校{count}次劝返仍未返校复学。" if count else "该生已辍学，经学校劝返仍未返校复学。"
    else:
        situation = "该生已辍学，学校正在开展劝返工作。"
    request = (
        f"{situation}根据{LAW}第十三条、第五十八条的规定，现报请{government}依法对其父母或者其他法定监护人"
        "给予批评教育，责令限期改正，并组织学校、村（居）民委员会联合开展劝返复学工作。"
    )
    rows: list[tuple[list[C], float]] = [
        ([C("辍学原因", 4, "label"), C(data.dropout_reason, 20, align="left")], 0.9),
        ([C("家庭情况", 4, "label"), C(data.family_situation, 20, align="left")], 1.1),
        (
            [
                C(["是否已", "开展劝返"], 4, "label"),
                C(text(data.persuasion_done), 4),
                C("劝返次数", 4, "label"),
                C(_count(data), 4),
                C("劝返结果", 4, "label"),
                C(data.persuasion_result, 4, align=_left_if_long(data.persuasion_result)),
            ],
            0.95,
        ),
        ([C("未复学原因", 4, "label"), C(data.reason_not_returned, 20, align="left")], 0.9),
        ([C("劝返单位", 4, "label"), C(data.persuading_unit, 20, align="left")], 0.8),
        ([C("劝返责任人", 4, "label"), C(data.responsible_person, 8), C("联系电话", 4, "label"), C(data.responsible_phone, 8)], 0.8),
        ([C(["劝返工作", "情况"], 4, "label"), C(_log_lines(data) or "", 20, align="left")], 2.4),
        ([C(["报告及", "请求事项"], 4, "label"), C(request, 20, align="left")], 1.8),
        ([C("报送单位", 4, "label"), C(f"{government}；{text(data.county)}教育行政部门（备案）", 20, align="left")], 0.8),
        (
            [
                C(["班主任", "（签名）"], 4, "label"),
                C("", 4),
                C(["校\u3000长", "（签名）"], 4, "label"),
                C("", 4),
                C("报告日期", 3, "label"),
                C(cn_date(data.issued_on), 5),
            ],
            1.1,
        ),
        (
            [
                C(["接收单位", "签收"], 4, "label"),
                C(
                    "签收人：\u3000\u3000\u3000\u3000\u3000\u3000\u3000\u3000签收日期：\u3000\u3000\u3000\u3000年\u3000\u3000月\u3000\u3000日",
                    20,
                    align="left",
                ),
            ],
            1.1,
        ),
    ]
    for cells, height in rows:
        t.row(cells, height=height)
    b.signature(size=SIZE_4, before_lines=0.6)


# ---------------------------------------------------------------------------------------------------------------------
# Public API


_RENDERERS = {
    "enrolment_notice": (_render_enrolment_notice, LETTER_MARGINS),
    "deadline_notice": (_render_deadline_notice, LETTER_MARGINS),
    "persuasion_letter": (_render_persuasion_letter, LETTER_MARGINS),
    "case_form": (_render_case_form, FORM_MARGINS),
    "home_visit_record": (_render_home_visit_record, FORM_MARGINS),
    "dropout_report": (_render_dropout_report, FORM_MARGINS),
}


def render_docx(data: DocumentData) -> bytes:
    """The document of data.kind as .docx bytes."""
    if data.kind not in KINDS:
        raise ValueError(f"unknown document kind {data.kind!r}; expected one of {', '.join(KINDS)}")
    render, margins = _RENDERERS[data.kind]
    builder = _Builder(data, title=KINDS[data.kind], margins=margins)
    render(builder)
    out = io.BytesIO()
    builder.doc.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------------------
# PDF through LibreOffice


# Chinese office font names → what is installed: the real fonts first (on a PC that has them), then Noto CJK SC,
# so a headless server with only fonts-noto-cjk prints 仿宋/宋体 text in Noto Serif CJK SC (Simplified glyphs),
# not in whatever sans font fontconfig would pick for an unknown name.
_SERIF_NAMES = (
    "仿宋_GB2312",
    "仿宋",
    "FangSong",
    "FangSong_GB2312",
    "宋体",
    "SimSun",
    "NSimSun",
    "方正小标宋简体",
    "方正小标宋_GBK",
    "华文中宋",
    "STZhongsong",
    "楷体_GB2312",
    "楷体",
    "KaiTi",
)
_SANS_NAMES = ("黑体", "SimHei", "微软雅黑", "Microsoft YaHei")


def _fontconfig(directory: Path) -> Path | None:
    system = os.environ.get("FONTCONFIG_FILE") or "/etc/fonts/fonts.conf"
    if not Path(system).exists():
        return None

    def alias(name: str, fallbacks: Sequence[str]) -> str:
        families = "".join(f"<family>{f}</family>" for f in fallbacks if f != name)
        return f'<alias binding="same"><family>{name}</family><accept>{families}</accept></alias>'

    serif = ["FangSong", "SimSun", "Noto Serif CJK SC", "Source Han Serif SC", "AR PL UMing CN", "serif"]
    sans = ["SimHei", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "sans-serif"]
    rules = [alias(n, serif) for n in _SERIF_NAMES] + [alias(n, sans) for n in _SANS_NAMES]
    path = directory / "fonts.conf"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f'<include ignore_missing="yes">{system}</include>\n' + "\n".join(rules) + "\n</fontconfig>\n",
        encoding="utf-8",
    )
    return path


def soffice() -> str | None:
    """The LibreOffice executable on PATH, if any."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(docx: bytes, *, timeout: float = 120.0) -> bytes | None:
    """Convert .docx bytes to PDF with headless LibreOffice; None when LibreOffice is absent or the conversion fails.

    Each call runs in its own temporary directory with its own LibreOffice profile, so calls may run in parallel and
    never touch the user's profile. About 1–3 s a document.
    """
    executable = soffice()
    if executable is None:
        return None
    with tempfile.TemporaryDirectory(prefix="kongchuo-pdf-") as tmp:
        directory = Path(tmp)
        source = directory / "document.docx"
        source.write_bytes(docx)
        env = dict(os.environ, HOME=str(directory))
        fonts = _fontconfig(directory)
        if fonts is not None:
            env["FONTCONFIG_FILE"] = str(fonts)
        command = [
            executable,
            "--headless",
            "--invisible",
            "--nologo",
            "--nodefault",
            "--norestore",
            "--nolockcheck",
            f"-env:UserInstallation={(directory / 'profile').as_uri()}",
            "--convert-to",
            "pdf:writer_pdf_Export",
            "--outdir",
            str(directory),
            str(source),
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=directory, start_new_session=True)
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            log.warning("LibreOffice did not convert the document within %s s", timeout)
            return None
        target = directory / "document.pdf"
        if process.returncode != 0 or not target.exists():
            log.warning("LibreOffice conversion failed (exit %s): %s", process.returncode, stderr.decode(errors="replace")[-500:])
            return None
        pdf = target.read_bytes()
        return pdf if pdf.startswith(b"%PDF") else None


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # soffice forks soffice.bin: end the whole session we started
    except (ProcessLookupError, PermissionError, AttributeError):
        process.kill()
    process.communicate()
