"""What each source's file must contain and how its rows are checked and applied (CONTRACT.md)."""

from collections.abc import Callable
from dataclasses import dataclass

from kongchuo.attendance.models import AttendanceRecord
from kongchuo.enrolments.models import Enrolment, ExternalStudy, StatusChange
from kongchuo.imports import apply
from kongchuo.imports.models import ImportSource
from kongchuo.imports.records import Record, label
from kongchuo.people.models import Child, FieldProvenance, GroupMembership
from kongchuo.places.models import School

PERSON = (
    "name",
    "gender",
    "birth_date",
    "id_number",
    "ethnicity",
    "household_address",
    "current_address",
    "township",
    "village",
    "guardian_name",
    "guardian_relation",
    "guardian_phone",
)


@dataclass(frozen=True)
class SourceSpec:
    fields: tuple[str, ...]
    required: tuple[str, ...]  # the header must have these columns
    apply: Callable  # (ctx, records, labels) -> outcomes, one per record
    check: Callable = lambda ctx, record, labels: None  # extra per-row checks; may reject or flag
    person: bool = True  # rows name a child: identity is settled before `check`
    needs_person_fields: bool = True  # a new child needs gender and birth date (given or from the ID)
    tables: tuple = ()  # the tables it writes a row or more per row of the file into (kongchuo.core.bulkload)


# --- checks -------------------------------------------------------------------------------------


def _need(record: Record, labels, *fields: str) -> bool:
    for f in fields:
        if record.values.get(f) in (None, ""):
            record.reject(label(f, labels), f"{label(f, labels)}为空")
            return False
    return True


def _school_in_county(ctx, record: Record, labels) -> School | None:
    school = ctx.schools.get(record.values.get("school_code", ""))
    if school is None:
        record.reject(label("school_code", labels), f"学校标识码{record.values.get('school_code')}不在本县学校名单中，请先导入学校名单")
    return school


def check_registry(ctx, record: Record, labels) -> None:
    if not _need(record, labels, "school_code", "grade") or _school_in_county(ctx, record, labels) is None:
        return
    school = ctx.schools[record.values["school_code"]]
    if record.values["grade"] not in school.grades:
        record.reject(label("grade", labels), f"{school.name}（{school.get_type_display()}）不设{record.values['grade']}年级")
        return
    status = apply.parse_status(record.values.get("status", ""))
    if status is None:
        record.reject(label("status", labels), f"学生状态“{record.values.get('status')}”无法识别（应为在读、休学、转出、毕业等）")
        return
    record.values["status_code"] = status


# What a list's 类别 may say, for the message refusing a row whose category names no group of its source.
CATEGORY_EXAMPLES = {
    apply.S.DISABILITY: "视力、听力、言语、肢体、智力、精神、多重",
    apply.S.CIVIL_AFFAIRS: "孤儿、事实无人抚养儿童、特困供养、低保、困境儿童、留守儿童等",
    apply.S.RURAL_REVITALISATION: "脱贫户、脱贫不稳定户、边缘易致贫户、突发严重困难户等",
}


def _check_category(source):
    def check(ctx, record: Record, labels) -> None:
        if not _need(record, labels, "category"):
            return
        group = apply.group_of(str(record.values["category"]), source)
        if group is None:
            record.reject(label("category", labels), f"类别“{record.values['category']}”无法识别（应为{CATEGORY_EXAMPLES[source]}）")
        else:
            record.values["group"] = group

    return check


def check_study(ctx, record: Record, labels) -> None:
    _need(record, labels, "school_name")


ATTENDANCE_WORDS = {
    "缺勤": "absent",
    "旷课": "absent",
    "缺课": "absent",
    "未到": "absent",
    "请假": "leave",
    "病假": "leave",
    "事假": "leave",
    "迟到": "late",
}


def check_attendance(ctx, record: Record, labels) -> None:
    if not _need(record, labels, "date", "school_code", "name") or _school_in_county(ctx, record, labels) is None:
        return
    status = ATTENDANCE_WORDS.get(str(record.values.get("status", "")).strip())
    if status is None:
        record.reject(label("status", labels), f"考勤状态“{record.values.get('status', '')}”无法识别（应为缺勤、请假或迟到）")
        return
    if not record.values.get("id_number") and not record.values.get("national_student_number"):
        # A pupil the school knows only by name is exactly the lead 无学籍在读 needs: keep it, flagged.
        record.flags.append((label("national_student_number", labels), "无学籍号和证件号，仅凭姓名记录，待比对"))
    record.values["attendance_status"] = status


SCHOOL_TYPES = [
    ("九年一贯", School.Type.NINE_YEAR),
    ("完全中学", School.Type.COMPLETE),
    ("完中", School.Type.COMPLETE),
    ("特殊教育", School.Type.SPECIAL),
    ("特教", School.Type.SPECIAL),
    ("教学点", School.Type.TEACHING_POINT),
    ("初中", School.Type.JUNIOR),
    ("初级中学", School.Type.JUNIOR),
    ("小学", School.Type.PRIMARY),
]


def check_school(ctx, record: Record, labels) -> None:
    if not _need(record, labels, "school_code", "school_name", "school_type"):
        return
    county_code = str(record.values.get("county_code", "")).strip()
    if county_code and county_code[:6] != ctx.county.code:
        record.reject(label("county_code", labels), f"所属区县代码{county_code}不是本县（{ctx.county.code}）")
        return
    kind = next((code for word, code in SCHOOL_TYPES if word in str(record.values["school_type"])), None)
    if kind is None:
        record.reject(label("school_type", labels), f"办学类型“{record.values['school_type']}”无法识别")
        return
    township_text = str(record.values.get("township", "")).strip()
    township = ctx.townships.get(township_text) or ctx.townships.get(apply._short(township_text))
    if township is None:
        record.reject(label("township", labels), f"所属乡镇“{township_text}”不在本县区划中")
        return
    other = School.objects.filter(code=record.values["school_code"]).exclude(county=ctx.county).first()
    if other is not None:
        record.reject(label("school_code", labels), f"学校标识码已属于其他区县的{other.name}")
        return
    record.values["school_type_code"], record.values["township_division"] = kind, township


# --- appliers -----------------------------------------------------------------------------------


def apply_people(ctx, records, labels):
    return [outcome for _, _, outcome in apply.upsert_people(ctx, records, labels)]


def apply_registry(ctx, records, labels):
    return apply.upsert_enrolments(ctx, apply.upsert_people(ctx, records, labels, one_row_per_person=False), labels)


def apply_disability(ctx, records, labels):
    results = apply.upsert_people(ctx, records, labels, extra=apply.disability_values)
    return _with_memberships(ctx, results, lambda r: "disabled")


def apply_group_list(ctx, records, labels):
    results = apply.upsert_people(ctx, records, labels)
    return _with_memberships(ctx, results, lambda r: r.values["group"])


def _with_memberships(ctx, results, group_of):
    """A new membership is news about a child even when none of its fields changed."""
    fresh = apply.write_memberships(ctx, [(child_id, group_of(r)) for r, child_id, _ in results])
    return ["updated" if o == "unchanged" and child_id in fresh else o for _, child_id, o in results]


def apply_study(ctx, records, labels):
    return apply.write_external_studies(ctx, apply.upsert_people(ctx, records, labels))


def apply_attendance(ctx, records, labels):
    nsns = [r.values.get("national_student_number") for r in records if r.values.get("national_student_number")]
    ids = [r.values.get("id_number") for r in records if r.values.get("id_number")]
    by_nsn = dict(
        Enrolment.objects.filter(county=ctx.county, national_student_number__in=nsns).values_list("national_student_number", "child_id")
    )
    by_id = dict(Child.objects.filter(id_number__in=ids).values_list("id_number", "id"))
    existing = set(
        AttendanceRecord.objects.filter(
            school__in=[ctx.schools[r.values["school_code"]] for r in records], date__in={r.values["date"] for r in records}
        ).values_list("school_id", "date", "name", "national_student_number", "id_number")
    )
    create, outcomes = [], []
    for r in records:
        school = ctx.schools[r.values["school_code"]]
        nsn, idn = r.values.get("national_student_number", ""), r.values.get("id_number", "")
        key = (school.pk, r.values["date"], r.values["name"], nsn, idn)
        if key in existing:
            outcomes.append("unchanged")
            continue
        existing.add(key)
        child_id = by_nsn.get(nsn) or by_id.get(idn)
        if child_id is None:
            r.flags.append(("", "学籍中无此学生：作为无学籍在读线索保留，待比对"))
        create.append(
            AttendanceRecord(
                child_id=child_id,
                school=school,
                date=r.values["date"],
                status=r.values["attendance_status"],
                name=r.values["name"],
                id_number=idn,
                national_student_number=nsn,
                county=ctx.county,
                township_id=school.township_id,
                batch=ctx.batch,
            )
        )
        outcomes.append("created")
    AttendanceRecord.objects.bulk_create(create, batch_size=1000)
    return outcomes


def apply_schools(ctx, records, labels):
    existing = {s.code: s for s in School.objects.filter(code__in=[r.values["school_code"] for r in records])}
    create, update, outcomes = [], [], []
    for r in records:
        v = r.values
        values = {"name": v["school_name"], "type": v["school_type_code"], "township": v["township_division"], "county": ctx.county}
        school = existing.get(v["school_code"])
        if school is None:
            school = School(code=v["school_code"], **values)
            existing[school.code] = school
            create.append(school)
            outcomes.append("created")
            continue
        changed = [k for k, val in values.items() if getattr(school, k) != val]
        for k in changed:
            setattr(school, k, values[k])
        if changed and school.pk:
            update.append(school)
        outcomes.append("updated" if changed else "unchanged")
    School.objects.bulk_create(create, batch_size=1000)
    School.objects.bulk_update(update, ["name", "type", "township", "county"], batch_size=1000)
    ctx.schools.update({s.code: s for s in create})
    return outcomes


# Tables whose secondary indexes a large list outgrows (kongchuo.core.bulkload): a child's name, pinyin,
# birth date and village arrive in random order, and every provenance row costs three index entries
# (source, batch, recorder) where one sort at the end is cheaper. Guardian rows have only their child_id
# index, which the import reads and which takes them as appends.
PERSON_TABLES = (Child, FieldProvenance)
# Of people_child the imports keep only its unique index live: they find a county's children without an ID
# in memory (apply.Context.pending), not through the (county, name) index, which random names make dear.
LIVE_INDEXES = {Child: frozenset()}
SPECS: dict[str, SourceSpec] = {
    ImportSource.HOUSEHOLD: SourceSpec(PERSON, ("name",), apply_people, tables=PERSON_TABLES),
    ImportSource.REGISTRY: SourceSpec(
        PERSON + ("national_student_number", "school_code", "school_name", "grade", "class_name", "status"),
        ("name", "school_code"),
        apply_registry,
        check_registry,
        tables=PERSON_TABLES + (Enrolment, StatusChange),
    ),
    ImportSource.DISABILITY: SourceSpec(
        PERSON + ("category", "disability_grade", "certificate_no"),
        ("name", "category"),
        apply_disability,
        _check_category(apply.S.DISABILITY),
        tables=PERSON_TABLES + (GroupMembership,),
    ),
    ImportSource.CIVIL_AFFAIRS: SourceSpec(
        PERSON + ("category",),
        ("name", "category"),
        apply_group_list,
        _check_category(apply.S.CIVIL_AFFAIRS),
        tables=PERSON_TABLES + (GroupMembership,),
    ),
    ImportSource.RURAL_REVITALISATION: SourceSpec(
        PERSON + ("category",),
        ("name", "category"),
        apply_group_list,
        _check_category(apply.S.RURAL_REVITALISATION),
        tables=PERSON_TABLES + (GroupMembership,),
    ),
    ImportSource.STUDY_ELSEWHERE: SourceSpec(
        ("name", "id_number", "gender", "birth_date", "school_name", "study_place", "national_student_number"),
        ("name", "school_name"),
        apply_study,
        check_study,
        tables=PERSON_TABLES + (ExternalStudy,),
    ),
    ImportSource.ATTENDANCE: SourceSpec(
        ("date", "school_code", "national_student_number", "id_number", "name", "status"),
        ("date", "school_code", "name", "status"),
        apply_attendance,
        check_attendance,
        person=False,
        # No deferral: each chunk looks its school-days up through the (school, date) index, and rows
        # arrive school by school, day by day, which that index takes as appends anyway.
    ),
    ImportSource.SCHOOLS: SourceSpec(
        ("school_code", "school_name", "school_type", "county_code", "township"),
        ("school_code", "school_name", "school_type", "township"),
        apply_schools,
        check_school,
        person=False,
    ),
}
