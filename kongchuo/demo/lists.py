"""The demo county's department lists as the files a bureau receives (for the import → match flow).

`write_lists(dataset, folder)` writes one file per source the way CONTRACT.md names them: the school
list, the police household list (a title row, a synonym or two, dates as typed text, some IDs with a
lower-case x), the registry export, the disability / civil-affairs / rural-revitalisation lists,
verified study elsewhere, and attendance as a GBK CSV. Load the places first (`kongchuo demo
--places-only`), then import these files in this order: schools, household, registry, the rest.
"""

import csv
import datetime as dt
from pathlib import Path

import xlsxwriter

from kongchuo.core.choices import ETHNICITIES, Source
from kongchuo.demo.attendance import generate_attendance
from kongchuo.demo.generator import COUNTY_CODE, DemoCounty
from kongchuo.enrolments.models import Status
from kongchuo.people.models import Child, Guardian, SpecialGroup
from kongchuo.places.models import GRADE_NAMES, School

ORDER = ["schools", "household", "registry", "disability", "civil-affairs", "rural-revitalisation", "study-elsewhere", "attendance"]
ETHNICITY = dict(ETHNICITIES)
RELATION = dict(Guardian.Relation.choices)
DISABILITY = dict(Child.DisabilityCategory.choices)
GROUP_SOURCE = {"civil-affairs": Source.CIVIL_AFFAIRS, "rural-revitalisation": Source.RURAL_REVITALISATION}


def _xlsx(path: Path, title: str | None, header: list[str], rows) -> Path:
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    sheet = book.add_worksheet("名单")
    header_row = 1 if title else 0
    if title:
        sheet.write_string(0, 0, title)
    for c, label in enumerate(header):
        sheet.write_string(header_row, c, label)
    for r, row in enumerate(rows, start=header_row + 1):
        for c, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))
    book.close()
    return path


def _typed_date(day: dt.date, n: int) -> str:
    """Dates the way people type them."""
    return (f"{day.year}.{day.month}.{day.day}", f"{day:%Y%m%d}", f"{day:%Y-%m-%d}", f"{day.year}年{day.month}月{day.day}日")[n % 4]


def write_lists(ds: DemoCounty, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    divisions = {d.code: d for d in ds.divisions}
    schools = {s.code: s for s in ds.schools}
    paths = {}
    type_names = dict(School.Type.choices)
    paths["schools"] = _xlsx(
        folder / "01-学校名单.xlsx",
        None,
        ["学校标识码", "学校名称", "办学类型", "所属区县代码", "所属乡镇"],
        ([s.code, s.name, type_names[s.type], COUNTY_CODE, divisions[s.township].name] for s in ds.schools),
    )

    def guardian(c):
        return (c.guardians[0].name, RELATION[c.guardians[0].relation], c.guardians[0].phone) if c.guardians else ("", "", "")

    def household_rows():
        for n, c in enumerate(ds.children):
            if not any(s.source == Source.HOUSEHOLD for s in c.sources) or not c.household_village:
                continue
            village = divisions[c.household_village]
            g = guardian(c)
            id_text = c.id_number or c.id_number_raw or ""
            yield [
                c.name,
                "男" if c.gender == "M" else "女",
                ETHNICITY.get(c.ethnicity, "汉族"),
                _typed_date(c.birth_date, n),
                id_text.lower() if n % 7 == 0 else id_text,
                c.household_address,
                divisions[village.parent].name,
                village.name,
                g[0],
                g[2],
            ]

    paths["household"] = _xlsx(
        folder / "02-公安户籍适龄儿童名单.xlsx",
        "城口县适龄儿童少年花名册（公安户籍）",
        ["姓名", "性 别", "民族", "出生日期", "公民身份号码", "户籍地址", "乡镇(街道)", "村(社区)", "监护人", "联系电话"],
        household_rows(),
    )

    def registry_rows():
        for c in ds.children:
            for e in c.enrolments:
                if e.status == Status.TRANSFERRED_OUT:
                    continue
                yield [
                    c.name,
                    "男" if c.gender == "M" else "女",
                    f"{c.birth_date:%Y-%m-%d}",
                    c.id_number or c.id_number_raw or "",
                    e.national_student_number,
                    e.school,
                    schools[e.school].name,
                    GRADE_NAMES[e.grade],
                    f"{e.class_number}班" if e.class_number else "",
                    Status(e.status).label,
                ]

    paths["registry"] = _xlsx(
        folder / "03-学籍系统导出.xlsx",
        None,
        ["姓名", "性别", "出生日期", "身份证件号", "全国学籍号", "学校标识码", "学校名称", "年级", "班级", "学生状态"],
        registry_rows(),
    )
    paths["disability"] = _xlsx(
        folder / "04-残联残疾儿童名单.xlsx",
        "残疾儿童少年名单",
        ["姓名", "身份证号", "残疾类别", "残疾等级", "残疾证号"],
        (
            [
                c.name,
                c.id_number,
                DISABILITY.get(c.disability_category, "肢体残疾"),
                f"{c.disability_grade or 3}级",
                c.disability_certificate_no,
            ]
            for c in ds.children
            if c.id_number and any(m.source == Source.DISABILITY for m in c.memberships)
        ),
    )
    for name, source in GROUP_SOURCE.items():
        paths[name] = _xlsx(
            folder / f"{'05' if name == 'civil-affairs' else '06'}-{'民政' if name == 'civil-affairs' else '乡村振兴'}名单.xlsx",
            None,
            ["姓名", "身份证号", "类别"],
            (
                [c.name, c.id_number, SpecialGroup(m.group).label]
                for c in ds.children
                if c.id_number
                for m in c.memberships
                if m.source == source
            ),
        )
    paths["study-elsewhere"] = _xlsx(
        folder / "07-外地就读证明.xlsx",
        None,
        ["身份证件号", "姓名", "就读学校", "就读地", "全国学籍号"],
        (
            [c.id_number, c.name, c.external_study.school_name, c.external_study.place, c.external_study.national_student_number]
            for c in ds.children
            if c.external_study and c.id_number
        ),
    )
    paths["attendance"] = folder / "08-考勤记录.csv"
    with open(paths["attendance"], "w", encoding="gbk", errors="replace", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["日期", "学校标识码", "全国学籍号", "身份证件号", "姓名", "状态"])
        words = {"absent": "缺勤", "leave": "请假", "late": "迟到"}
        for a in generate_attendance(ds):
            writer.writerow([a.date.isoformat(), a.school, a.national_student_number, a.id_number, a.name, words[a.status]])
    return paths
