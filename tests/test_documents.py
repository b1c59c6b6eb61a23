"""Official documents (issue 5, item 5): every kind renders as a .docx that python-docx reopens, carrying the title,
number, child, legal basis, Chinese dates and issuing unit; the 一生一表 has every field of DESIGN.md §5."""

import io
import re
import zipfile
from dataclasses import replace
from datetime import date, timedelta

import pytest
from docx import Document

from kongchuo.cases import documents
from kongchuo.cases.document_data import DocumentData, Person, PersuasionEntry
from kongchuo.cases.documents import KINDS, cn_date, render_docx, soffice, to_pdf

ISSUED = date(2026, 11, 24)
LOG = (
    PersuasionEntry(date(2026, 10, 8), "班主任李明、包保教师陈静", "坪上村3组学生家中", "入户家访", "家长同意考虑"),
    PersuasionEntry(date(2026, 10, 21), "副校长赵刚、村支书王德福", "坪上村村委会", "联合劝返（学校、村委会）", "学生拒绝返校"),
    PersuasionEntry(date(2026, 11, 12), "镇党委委员刘洋、民警周强", "学生家中", "联合劝返（镇、村、校、派出所）", "未返校"),
)


def sample(kind: str, **changes) -> DocumentData:
    data = DocumentData(
        kind=kind,
        number="城教控辍〔2026〕第0012号",
        issued_on=ISSUED,
        issuing_unit="城口县巴山镇人民政府",
        county="城口县",
        township="巴山镇",
        school="城口县巴山初级中学",
        child_name="王小明",
        gender="男",
        birth_date=date(2012, 3, 5),
        age=14,
        ethnicity="土家族",
        id_number="500229201203051234",
        health="健康",
        national_student_number="G500229201203051234",
        grade="八年级",
        household_address="重庆市城口县巴山镇坪上村3组27号",
        registration_address="重庆市城口县巴山初级中学",
        current_address="重庆市城口县巴山镇坪上村3组27号（与祖母同住）",
        guardians=(Person("王大山", "父亲", "13912345678"), Person("李秀英", "母亲", "13887654321")),
        dropout_reason="厌学/学习困难",
        family_situation="父母外出务工，与祖母同住",
        deadline=date(2026, 12, 1),
        persuasion_done=True,
        persuasion_count=3,
        persuasion_result="未返校",
        reason_not_returned="学生厌学",
        persuading_unit="城口县巴山初级中学",
        responsible_person="李明",
        responsible_phone="13512340000",
        deferral_approved=False,
        persuasion_log=LOG,
        contact="张主任",
        contact_phone="023-59220000",
        visit=LOG[-1],
        visit_notes="宣讲了义务教育法。\n家长表示春节后送返。",
    )
    return replace(data, **changes)


def opened(blob: bytes):
    return Document(io.BytesIO(blob))


def all_text(doc) -> str:
    """Body paragraphs and every table cell, in order."""
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def squeeze(s: str) -> str:
    return re.sub(r"[\s\u3000]+", "", s)


def cell_rows(doc) -> list[list[str]]:
    """Each table row as the distinct texts of its cells (merged cells repeat in python-docx), whitespace removed."""
    rows = []
    for table in doc.tables:
        for row in table.rows:
            seen, texts = set(), []
            for cell in row.cells:
                if id(cell._tc) not in seen:
                    seen.add(id(cell._tc))
                    texts.append(squeeze(cell.text))
            rows.append(texts)
    return rows


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_renders_with_the_essentials(kind):
    data = sample(kind)
    blob = render_docx(data)
    assert blob[:2] == b"PK"
    doc = opened(blob)
    body = all_text(doc)
    flat = squeeze(body)
    assert KINDS[kind] in flat  # the title (forms carry it in a longer official title)
    assert doc.paragraphs[0].text.strip() and doc.paragraphs[0].alignment == 1  # centred title first
    assert "城教控辍〔2026〕第0012号" in flat
    assert "王小明" in flat
    assert "《中华人民共和国义务教育法》" in flat
    assert "2026年11月24日" in flat  # issue date, Chinese style
    assert "城口县巴山镇人民政府" in flat
    assert "None" not in body
    assert not re.search(r"\d{4}-\d{2}-\d{2}", body)  # no ISO dates on paper
    if kind != "persuasion_letter":  # a letter of persuasion need not quote the ID number
        assert "500229201203051234" in flat  # full ID on official documents
    if kind == "case_form":
        assert ["2012年", "3月", "5日"] == [t for t in cell_rows(doc)[3] if t in ("2012年", "3月", "5日")]
    else:
        assert "2012年3月5日" in flat
    section = doc.sections[0]
    assert (round(section.page_width.cm, 2), round(section.page_height.cm, 2)) == (21.0, 29.7)  # A4
    assert doc.core_properties.title == KINDS[kind]


@pytest.mark.parametrize("kind", ["enrolment_notice", "deadline_notice", "persuasion_letter"])
def test_letters_cite_the_law_and_end_in_a_receipt(kind):
    doc = opened(render_docx(sample(kind)))
    flat = squeeze(all_text(doc))
    for article in ("第五条第二款", "第十一条第一款", "第五十八条", "批评教育", "限期改正"):
        assert article in flat
    assert flat.startswith(squeeze(KINDS[kind]))
    assert "王小明家长（监护人）王大山、李秀英：" in flat or "尊敬的王小明同学家长（监护人）王大山、李秀英：" in flat
    assert "2026年12月1日前" in flat  # the deadline, Chinese style
    assert "城口县巴山初级中学" in flat and "八年级" in flat and "男" in flat
    assert "（盖章）" in flat
    receipt = flat[flat.index("回执") :]
    assert "监护人（签名）：" in receipt and "送达人（签名）：" in receipt and "城教控辍〔2026〕第0012号" in receipt
    assert "联系人：张主任" in flat and "023-59220000" in flat
    # Signature block: unit then date, right-aligned, after the body.
    texts = [p.text for p in doc.paragraphs]
    unit_at = texts.index("城口县巴山镇人民政府（盖章）")
    assert texts[unit_at + 1] == "2026年11月24日"
    assert doc.paragraphs[unit_at].alignment == 2


def test_deadline_notice_gives_seven_days_and_the_consequence():
    seven = ISSUED + timedelta(days=7)
    for data in (sample("deadline_notice", deadline=seven), sample("deadline_notice", deadline=None)):
        flat = squeeze(all_text(opened(render_docx(data))))
        assert f"自本通知书签发之日起7日内，即于{cn_date(seven)}前" in flat
        assert cn_date(seven) == "2026年12月1日"
        assert "依法申请司法调处" in flat and "依法向人民法院提起诉讼" in flat
        assert "先后3次" in flat and "2026年10月8日、2026年10月21日、2026年11月12日" in flat
    assert documents.deadline_of(sample("deadline_notice", deadline=None)) == seven


def test_enrolment_notice_without_deadline_asks_for_immediate_enrolment():
    flat = squeeze(all_text(opened(render_docx(sample("enrolment_notice", deadline=None)))))
    assert "在接到本通知书后立即送王小明到城口县巴山初级中学" in flat


CASE_FORM_LABELS = [
    "单位（盖章）",
    "学校联系人及电话",
    "填表日期",
    "基本信息",
    "姓名",
    "居民身份证号码",
    "出生日期",
    "性别",
    "年龄",
    "民族",
    "健康情况",
    "全国学籍号",
    "监护人1",
    "监护人2",
    "与被核查人关系",
    "联系电话",
    "户籍所在地",
    "学籍所在地",
    "现居住地",
    "辍学原因",
    "家庭情况简述",
    "核查劝返情况",
    "是否已开展劝返工作",
    "劝返次数",
    "劝返结果",
    "未复学原因",
    "劝返单位",
    "劝返责任人",
    "是否属于经区县扶贫工作领导小组核实同意、准许先办理延缓入学或休学手续的学生",
    "劝返过程详细记录",
    "序号",
    "时间",
    "人员",
    "地点",
    "方式",
    "结果",
    "核查人（签名）",
    "填表人（签名）",
    "审核人（签名）",
]


def test_case_form_is_the_one_student_one_table():
    data = sample("case_form", issuing_unit="城口县巴山初级中学", deferral_approved=True)
    doc = opened(render_docx(data))
    rows = cell_rows(doc)
    cells = {text for row in rows for text in row}
    for label in CASE_FORM_LABELS:
        assert any(label in c for c in cells), label
    assert squeeze("城口县义务教育阶段辍学学生登记表") in squeeze(doc.paragraphs[0].text)
    values = [
        "王小明",
        "500229201203051234",
        "男",
        "14",
        "土家族",
        "健康",
        "G500229201203051234",
        "王大山",
        "父亲",
        "13912345678",
        "李秀英",
        "母亲",
        "13887654321",
        "重庆市城口县巴山镇坪上村3组27号",
        "重庆市城口县巴山初级中学",
        "厌学/学习困难",
        "父母外出务工，与祖母同住",
        "未返校",
        "3",
        "学生厌学",
        "城口县巴山初级中学",
        "李明",
        "13512340000",
    ]
    for value in values:
        assert value in cells, value
    deferral = next(row for row in rows if row[0].startswith("是否属于") or (len(row) > 1 and row[1].startswith("是否属于")))
    assert deferral[-1] == "是"
    done = next(row for row in rows if "是否已开展劝返工作" in row)
    assert done[done.index("是否已开展劝返工作") + 1] == "是"
    for i, entry in enumerate(LOG, start=1):
        row = next(r for r in rows if cn_date(entry.date) in r)
        expected = [str(i), cn_date(entry.date), squeeze(entry.who), squeeze(entry.where), squeeze(entry.how), squeeze(entry.result)]
        assert row[-6:] == expected
    head = squeeze(all_text(doc))
    assert "单位（盖章）：城口县巴山初级中学" in head and "学校联系人及电话：张主任023-59220000" in head
    assert "填表日期：2026年11月24日" in head
    assert "谁核查谁负责、谁填写谁负责、谁审核谁负责" in head


def test_case_form_keeps_blank_log_lines_and_blank_cells_when_data_is_missing():
    data = sample(
        "case_form",
        guardians=(Person("王大山"),),
        persuasion_log=(),
        persuasion_done=False,
        persuasion_count=0,
        persuasion_result="",
        reason_not_returned="",
        persuading_unit="",
        responsible_person="",
        responsible_phone="",
        health="",
        contact="",
        contact_phone="",
    )
    doc = opened(render_docx(data))
    rows = cell_rows(doc)
    header = next(i for i, row in enumerate(rows) if "序号" in row)
    assert all(row[-6:] == [""] * 6 for row in rows[header + 1 : header + 4])  # three blank lines for handwriting
    guardian2 = next(row for row in rows if "监护人2" in row)
    assert guardian2[guardian2.index("监护人2") + 1 :] == ["", "与被核查人关系", "", "联系电话", ""]
    done = next(row for row in rows if "是否已开展劝返工作" in row)
    assert done[done.index("是否已开展劝返工作") + 1 : done.index("是否已开展劝返工作") + 4] == ["否", "劝返次数", ""]


@pytest.mark.parametrize("kind", list(KINDS))
def test_sparse_data_never_prints_none(kind):
    data = sample(
        kind,
        guardians=(),
        persuasion_log=(),
        visit=None,
        visit_notes="",
        deadline=None,
        contact="",
        contact_phone="",
        persuasion_done=False,
        persuasion_count=0,
        persuasion_result="",
        reason_not_returned="",
        persuading_unit="",
        responsible_person="",
        responsible_phone="",
        dropout_reason="",
        family_situation="",
        health="",
        ethnicity="",
        national_student_number="",
        id_number="",
        household_address="",
        registration_address="",
        current_address="",
    )
    body = all_text(opened(render_docx(data)))
    assert "None" not in body and "王小明" in body


def test_home_visit_record_and_dropout_report_are_forms_with_the_visit_and_the_log():
    visit = squeeze(all_text(opened(render_docx(sample("home_visit_record", issuing_unit="城口县巴山初级中学")))))
    assert "学生辍学家访记录单" in visit
    for expected in (
        "家访时间2026年11月12日",
        "家访地点学生家中",
        "镇党委委员刘洋、民警周强",
        "联合劝返（镇、村、校、派出所）",
        "宣讲了义务教育法。",
        "家长表示春节后送返。",
        "家访结果未返校",
        "第五十八条",
        "家访人员（签名）",
        "监护人（签名）",
    ):
        assert expected in visit, expected
    report = squeeze(all_text(opened(render_docx(sample("dropout_report", issuing_unit="城口县巴山初级中学")))))
    assert "义务教育阶段学生辍学报告单" in report
    assert "报请城口县巴山镇人民政府依法对其父母或者其他法定监护人给予批评教育，责令限期改正" in report
    assert "1．2026年10月8日，班主任李明、包保教师陈静，赴坪上村3组学生家中，入户家访，结果：家长同意考虑。" in report
    assert "第十三条、第五十八条" in report and "班主任（签名）" in report and "校长（签名）" in report


def test_awkward_characters_survive():
    rare = "王𠀀明"  # U+20000, CJK Extension B
    data = sample(
        "case_form",
        child_name=rare,
        family_situation='月收入<500元 & 无"住房"',
        dropout_reason="其他\x07（见附页）",
        persuasion_log=(PersuasionEntry(date(2026, 10, 8), "A&B <老师>", "村委会", "电话", "]]> 未接"),),
    )
    blob = render_docx(data)
    flat = squeeze(all_text(opened(blob)))
    assert rare in flat
    assert '月收入<500元&无"住房"' in flat
    assert "其他（见附页）" in flat  # a control character XML cannot carry is dropped, not fatal
    assert "A&B<老师>" in flat and "]]>未接" in flat
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        assert "王𠀀明".encode() in z.read("word/document.xml")
    for kind in KINDS:
        assert rare in squeeze(all_text(opened(render_docx(replace(data, kind=kind)))))


def test_fonts_and_page():
    blob = render_docx(sample("deadline_notice"))
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        document = z.read("word/document.xml").decode()
        font_table = z.read("word/fontTable.xml").decode()
        styles = z.read("word/styles.xml").decode()
    assert 'w:eastAsia="仿宋_GB2312"' in document and 'w:eastAsia="方正小标宋简体"' in document
    assert 'w:name="仿宋_GB2312"' in font_table and 'w:altName w:val="仿宋"' in font_table
    assert 'w:eastAsia="zh-CN"' in styles
    doc = opened(blob)
    assert round(doc.sections[0].left_margin.cm, 2) == 2.8


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown document kind"):
        render_docx(sample("summons"))


def test_helpers():
    assert cn_date(date(2026, 12, 1)) == "2026年12月1日"
    assert cn_date(None) == ""
    assert documents.text(None) == "" and documents.text(True) == "是" and documents.text(False) == "否"
    assert documents.township_government(sample("dropout_report", township="葛城街道")) == "城口县葛城街道办事处"
    assert documents.suggested_filename(sample("deadline_notice")) == "限期复学通知书-王小明-城教控辍〔2026〕第0012号.docx"


def test_to_pdf_is_none_without_libreoffice(monkeypatch):
    monkeypatch.setattr(documents.shutil, "which", lambda name: None)
    assert to_pdf(b"not looked at") is None


def test_to_pdf_with_libreoffice():
    if soffice() is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    pdf = to_pdf(render_docx(sample("deadline_notice")))
    assert pdf is not None and pdf.startswith(b"%PDF")
