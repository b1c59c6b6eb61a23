"""What each source's file must contain and how its rows are checked and applied (CONTRACT.md)."""

import functools
import operator
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import OuterRef, Q, Subquery

from kongchuo.attendance.models import AttendanceRecord
from kongchuo.cases.models import Case, HomeTeachingPlan
from kongchuo.enrolments.models import OPEN_STATUSES, Enrolment, ExternalStudy, StatusChange
from kongchuo.imports import apply
from kongchuo.imports.models import ImportSource
from kongchuo.imports.records import PENDING_ID, Record, label
from kongchuo.matching.models import Finding
from kongchuo.people.models import Child, GroupMembership
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
    # Rows written after every other row of the file (services._apply_chunk), when what they mean depends on rows
    # that may come further down: a registry row closing a stint (closes_a_stint).
    later: Callable[[Record], bool] | None = None


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


def closes_a_stint(record: Record) -> bool:
    """A registry row whose status closes an enrolment (转出, 毕业, 死亡…). Whether it states a stint that is over
    or closes the one the child is in depends on whether the file also lists that stint open (apply._enrolment_for):
    such rows are written once every row of the file with an open status has been, wherever they stand in the file."""
    return record.values.get("status_code") not in OPEN_STATUSES


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
    if "id_error" in record.values:
        # Not a person source: settle_identity does not run, so the cell's own problem is told here.
        record.flags.append((label("id_number", labels), f"{PENDING_ID}：{record.values['id_error']}"))
    elif not record.values.get("id_number") and not record.values.get("national_student_number"):
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


NEW_FROM_STUDY = "本县名单中原无此儿童，已按外地就读核实名单新增，请核实户籍"


def apply_study(ctx, records, labels):
    results = apply.upsert_people(ctx, records, labels)
    for record, _, outcome in results:
        if outcome == "created":  # the list says the household is here; no county list had the child
            record.flags.append(("", NEW_FROM_STUDY))
    return apply.write_external_studies(ctx, results)


def apply_attendance(ctx, records, labels):
    """One record per pupil, school and day: a later import with another status corrects it.

    The pupil is the linked child (by 学籍号 or 证件号, or, for a row whose ID number cannot be read, the
    school's one enrolled pupil of that name), else the name. Of two rows of one file for the same pupil
    and day, the first stands (`ctx.seen` remembers, across chunks, which row wrote or corrected a record).
    """
    nsns = [r.values.get("national_student_number") for r in records if r.values.get("national_student_number")]
    ids = [r.values.get("id_number") for r in records if r.values.get("id_number")]
    by_nsn = dict(
        Enrolment.objects.filter(county=ctx.county, national_student_number__in=nsns).values_list("national_student_number", "child_id")
    )
    by_id = dict(Child.objects.filter(id_number__in=ids).values_list("id_number", "id"))
    by_name = _sole_pupils_by_name(ctx, [r for r in records if "id_error" in r.values and not r.values.get("national_student_number")])
    days = defaultdict(list)  # (school id, date) → its records, those this chunk adds included
    for a in AttendanceRecord.objects.filter(
        school__in=[ctx.schools[r.values["school_code"]] for r in records], date__in={r.values["date"] for r in records}
    ).only("id", "child_id", "school_id", "date", "status", "name", "national_student_number", "id_number", "batch_id"):
        days[(a.school_id, a.date)].append(a)
    met = {}  # id(record) → (record, the row of this chunk that wrote or matched it)
    create, update, outcomes = [], {}, []
    for r in records:
        v = r.values
        school = ctx.schools[v["school_code"]]
        nsn, idn, status = v.get("national_student_number", ""), v.get("id_number", ""), v["attendance_status"]
        child_id = by_nsn.get(nsn) or by_id.get(idn)
        if child_id is None and (child_id := by_name.get((school.pk, v["name"]))):
            r.flags.append((label("name", labels), f"证件号无法使用，已按姓名对应到{school.name}唯一在读的同名学生，请核实"))
        if child_id is None:
            r.flags.append(("", "学籍中无此学生：作为无学籍在读线索保留，待比对"))
        day = days[(school.pk, v["date"])]
        found = _same_pupil(day, child_id, v["name"], nsn, idn)
        if found is None:
            found = AttendanceRecord(
                child_id=child_id,
                school=school,
                date=v["date"],
                status=status,
                name=v["name"],
                id_number=idn,
                national_student_number=nsn,
                county=ctx.county,
                township_id=school.township_id,
                batch=ctx.batch,
            )
            day.append(found)
            met[id(found)] = (found, r.row)
            create.append(found)
            outcomes.append("created")
            continue
        first = met[id(found)][1] if id(found) in met else ctx.seen.get(("attendance", found.pk))
        if first is not None:
            if found.status != status:
                r.flags.append(
                    (
                        label("status", labels),
                        f"与第{first}行为同一学生同一天而状态不同（第{first}行为“{found.get_status_display()}”，"
                        f"本行为“{AttendanceRecord.Status(status).label}”），已按第{first}行处理，请核实",
                    )
                )
            outcomes.append("unchanged")
            continue
        met[id(found)] = (found, r.row)
        changed = False
        if found.status != status:
            earlier = f"（原记录来自导入批次#{found.batch_id}）" if found.batch_id else ""
            r.flags.append(
                (
                    label("status", labels),
                    f"该生当天考勤原为“{found.get_status_display()}”{earlier}，已改为“{AttendanceRecord.Status(status).label}”",
                )
            )
            found.status, changed = status, True
        if child_id is not None and found.child_id is None:  # a pupil the registry did not know then
            found.child_id, changed = child_id, True
        if changed:
            found.batch_id = ctx.batch.pk
            update[id(found)] = found
        outcomes.append("updated" if changed else "unchanged")
    AttendanceRecord.objects.bulk_create(create, batch_size=1000)
    AttendanceRecord.objects.bulk_update(list(update.values()), ["status", "child", "batch"], batch_size=1000)
    ctx.seen.update({("attendance", a.pk): row for a, row in met.values()})
    return outcomes


def _same_pupil(day: list[AttendanceRecord], child_id: int | None, name: str, nsn: str, idn: str) -> AttendanceRecord | None:
    """The record of `day` a row names: its child's; else, unlinked, one of its name whose identifiers do not
    contradict it; else the one with the very same identifiers (attendance_once_per_day allows no other)."""
    if child_id is not None:
        found = next((a for a in day if a.child_id == child_id), None) or next(
            (
                a
                for a in day
                if a.child_id is None and a.name == name and a.national_student_number in ("", nsn) and a.id_number in ("", idn)
            ),
            None,
        )
    else:  # two unknown pupils of one name are one only if no identifier tells them apart (both given, different)
        found = next(
            (
                a
                for a in day
                if a.child_id is None and a.name == name and _compatible(a.national_student_number, nsn) and _compatible(a.id_number, idn)
            ),
            None,
        )
    return found or next((a for a in day if (a.name, a.national_student_number, a.id_number) == (name, nsn, idn)), None)


def _compatible(kept: str, given: str) -> bool:
    """Whether two identifiers of a pupil can be the same pupil's: equal, or either not given."""
    return not kept or not given or kept == given


def _sole_pupils_by_name(ctx, records: list[Record]) -> dict[tuple[int, str], int]:
    """(school id, name) → the child, where the school has exactly one pupil of that name on its roll."""
    if not records:
        return {}
    pupils = defaultdict(set)
    for school_id, name, child_id in Enrolment.objects.filter(
        school_id__in={ctx.schools[r.values["school_code"]].pk for r in records},
        status__in=OPEN_STATUSES,
        child__name__in={r.values["name"] for r in records},
    ).values_list("school_id", "child__name", "child_id"):
        pupils[(school_id, name)].add(child_id)
    return {key: next(iter(children)) for key, children in pupils.items() if len(children) == 1}


def apply_schools(ctx, records, labels):
    """Create or update the schools of the list; the first row of a 学校标识码 stands.

    A school moved to another township takes its rows' scope columns along (`_move_scope`).
    """
    codes = [r.values["school_code"] for r in records]
    existing = {s.code: s for s in School.objects.filter(code__in=codes).select_related("county", "township", "village")}
    create, update, moved, outcomes = [], {}, {}, []
    for r in records:
        v = r.values
        first = ctx.seen.get(("school", v["school_code"]))
        if first is not None:
            r.flags.append((label("school_code", labels), f"与第{first}行学校标识码相同，已按第{first}行处理，请核实"))
            outcomes.append("unchanged")
            continue
        ctx.seen[("school", v["school_code"])] = r.row
        values = {"name": v["school_name"], "type": v["school_type_code"], "township": v["township_division"], "county": ctx.county}
        school = existing.get(v["school_code"])
        if school is None:
            create.append(School(code=v["school_code"], **values))
            outcomes.append("created")
            continue
        changed = [k for k, val in values.items() if getattr(school, k) != val]
        if "township" in changed:
            before, after = school.township, values["township"]
            moved[school.pk] = before.pk
            if school.village is not None and not school.village.prefix.startswith(after.prefix):
                school.village = None  # a village of the old township: the list names none in the new one
            r.flags.append((label("township", labels), f"学校由{before.name}迁至{after.name}，已同步其学生的所属乡镇"))
        for k in changed:
            setattr(school, k, values[k])
        if changed:
            update[school.pk] = school
        outcomes.append("updated" if changed else "unchanged")
    School.objects.bulk_create(create, batch_size=1000)
    School.objects.bulk_update(list(update.values()), ["name", "type", "township", "village", "county"], batch_size=1000)
    if moved:
        _move_scope(moved)
    ctx.schools.update({s.code: s for s in [*create, *update.values()]})
    return outcomes


def _move_scope(moved: dict[int, int]) -> None:
    """Give the rows of moved schools (school id → old township id) their school's township, in the import's
    transaction: every enrolment and attendance record, and the cases, plans and findings whose township was
    the school's (their child has no household township; with one, the township is the child's and stays)."""
    township = Subquery(School.objects.filter(pk=OuterRef("school_id")).values("township_id")[:1])
    Enrolment.objects.filter(school_id__in=moved).update(township_id=township)
    AttendanceRecord.objects.filter(school_id__in=moved).update(township_id=township)
    from_school = functools.reduce(operator.or_, (Q(school_id=s, township_id=t) for s, t in moved.items()))
    for model in (Case, HomeTeachingPlan, Finding):
        model.objects.filter(from_school, child__township__isnull=True).update(township_id=township)


# Tables whose secondary indexes a large list outgrows (kongchuo.core.bulkload): a child's name, ID number
# and village arrive in random order, and building such an index once after the last row is
# cheaper than keeping it up row by row. The county's children without an ID are found in memory
# (apply.Context.pending), so the (county, name) index waits too; the unique index on ID numbers waits for a
# county's first list with them (apply.first_ids). Kept live: people_child's indexes on a child's class and
# current residence alone, which hold only the children placed (partial, migration people 0010): a police list,
# the largest and the one a county loads into an empty table, adds nothing to them (nor to (school, name),
# which waits, for a registry list adds to it in random order: built again, it costs a police list one scan of
# the table, 0.03 s for 200,000 children, where the whole index took 0.17 s); and every index of provenance
# and guardians, whose rows an import appends in order on each (its own source, batch and recorder; the
# child just added). Built after the last row, those would only lengthen the time the preparing process has
# nothing left to do (measured 2026-12-01: a 200,000-row list in 20.4 s against 21.4 s, medians of six runs,
# with (current_school_id, name) kept live too, which random names make dear: it waits again since).
PERSON_TABLES = (Child,)
LIVE_INDEXES = {Child: frozenset({"current_class_id", "current_division_id"})}
SPECS: dict[str, SourceSpec] = {
    ImportSource.HOUSEHOLD: SourceSpec(PERSON, ("name",), apply_people, tables=PERSON_TABLES),
    ImportSource.REGISTRY: SourceSpec(
        PERSON + ("national_student_number", "school_code", "school_name", "grade", "class_name", "status"),
        ("name", "school_code"),
        apply_registry,
        check_registry,
        tables=PERSON_TABLES + (Enrolment, StatusChange),
        later=closes_a_stint,
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
