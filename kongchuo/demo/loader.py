"""Writing a generated demo county into the database: set-based, in one transaction, once.

Tables whose ids are needed further on (divisions, schools, classes, children, enrolments,
users) go in with `bulk_create` in batches of 2,000; the leaf tables (guardians, memberships,
provenance, status changes …) with a prepared `executemany`. Never one save per row, so the
ORM's `save()` hooks do not run: the loader sets what they would (Division.prefix, the scope
columns of Child and Enrolment, the child's current school and class). One audit entry
records the load as a whole. A `DemoLoad` marker row makes loading idempotent: the same
seed again changes nothing; another seed is refused with a message saying what to do.
"""

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from kongchuo.accounts.models import Department, Role, User
from kongchuo.audit.services import audit_record
from kongchuo.core.bulkload import secondary_indexes_deferred
from kongchuo.demo.generator import COUNTY_CODE, DemoCounty
from kongchuo.demo.models import DemoChildKey, DemoLoad
from kongchuo.enrolments.models import Enrolment, ExternalStudy, StatusChange
from kongchuo.people.models import Child, FieldProvenance, GroupMembership, Guardian, field_mask
from kongchuo.people.names import name_pinyin
from kongchuo.places.models import Division, School, SchoolClass

BATCH_SIZE = 2000
DEMO_PASSWORD = "kongchuo-demo"
DEMO_SCHOOL = "巴山镇中心小学"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    full_name: str
    node: str  # "county", "township", "school" or "class"
    department: str = ""


DEMO_USERS = [
    DemoUser("admin", Role.COUNTY_ADMIN, "陈明华", "county"),
    DemoUser("staff", Role.COUNTY_STAFF, "李晓燕", "county"),
    DemoUser("township", Role.TOWNSHIP_STAFF, "向德军", "township"),
    DemoUser("school", Role.SCHOOL_ADMIN, "谭春梅", "school"),
    DemoUser("teacher", Role.CLASS_TEACHER, "冉小琴", "class"),
    DemoUser("police", Role.DEPARTMENT_LIAISON, "刘建军", "county", Department.POLICE),
    DemoUser("supervisor", Role.SUPERVISOR, "周正清", "county"),
]

COUNT_LABELS = {
    "divisions": "行政区划",
    "schools": "学校",
    "classes": "班级",
    "children": "儿童",
    "guardians": "监护人",
    "memberships": "重点群体身份",
    "provenance": "字段来源",
    "external_studies": "外地就读证明",
    "attendance": "考勤记录",
    "enrolments": "学籍",
    "status_changes": "学籍变动",
    "keys": "演示编号",
    "users": "演示账号",
}


class DemoLoadError(Exception):
    """The demo county cannot be loaded into this database; `str(exc)` says why, in Chinese."""


@dataclass(frozen=True)
class LoadResult:
    already_loaded: bool
    seed: int
    scale: float
    as_of: dt.date
    counts: dict[str, int]
    loaded_at: dt.datetime
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def load(dataset: DemoCounty, *, actor=None) -> LoadResult:
    """Write `dataset` unless it is already there; raise DemoLoadError if something else is."""
    started = time.perf_counter()
    with transaction.atomic():
        marker = DemoLoad.objects.select_for_update().filter(county_code=COUNTY_CODE).first()
        if marker is not None:
            if not same_load(marker, seed=dataset.seed, scale=dataset.scale, as_of=dataset.as_of):
                raise DemoLoadError(other_load_message(marker, seed=dataset.seed, scale=dataset.scale, as_of=dataset.as_of))
            return LoadResult(True, marker.seed, marker.scale, marker.as_of, marker.counts, marker.loaded_at)
        _check_empty(dataset)
        try:
            with transaction.atomic():
                marker = DemoLoad.objects.create(county_code=COUNTY_CODE, seed=dataset.seed, scale=dataset.scale,
                                                 as_of=dataset.as_of)
        except IntegrityError as exc:  # another process got there first
            raise DemoLoadError("另一个进程正在载入演示数据，请稍后再运行 kongchuo demo") from exc
        counts = _Writer(dataset).write()
        marker.counts = counts
        marker.save(update_fields=["counts"])
        summary = (
            f"载入演示县数据（种子 {dataset.seed}，规模 {dataset.scale:g}）：儿童 {counts['children']} 人、"
            f"学校 {counts['schools']} 所、班级 {counts['classes']} 个、学籍 {counts['enrolments']} 条、"
            f"演示账号 {counts['users']} 个"
        )
        audit_record(actor=actor, action="load", obj=marker, chain=COUNTY_CODE, summary=summary,
                     after={"seed": dataset.seed, "scale": dataset.scale, "as_of": dataset.as_of.isoformat(), **counts})
    return LoadResult(False, dataset.seed, dataset.scale, dataset.as_of, counts, marker.loaded_at,
                      time.perf_counter() - started)


def load_places(dataset: DemoCounty, *, actor=None) -> dict[str, int] | None:
    """Divisions, schools, classes and the demo logins only, for importing the lists as files
    afterwards. Returns None when the county is already there (nothing is changed)."""
    with transaction.atomic():
        if Division.objects.filter(code=COUNTY_CODE).exists():
            return None
        _check_empty(dataset)
        counts = _Writer(dataset).write(places_only=True)
        audit_record(actor=actor, action="load", chain=COUNTY_CODE, summary=f"载入演示县区划与学校：学校 {counts['schools']} 所",
                     after=counts)
    return counts


def loaded() -> DemoLoad | None:
    return DemoLoad.objects.filter(county_code=COUNTY_CODE).first()


def same_load(marker: DemoLoad, *, seed: int, scale: float, as_of: dt.date) -> bool:
    return (marker.seed, marker.scale, marker.as_of) == (seed, scale, as_of)


def other_load_message(marker: DemoLoad, *, seed: int, scale: float, as_of: dt.date) -> str:
    return (
        f"数据库中已载入演示县（种子 {marker.seed}，规模 {marker.scale:g}，基准日 {marker.as_of:%Y-%m-%d}），"
        f"不能再载入种子 {seed}（规模 {scale:g}，基准日 {as_of:%Y-%m-%d}）。"
        "如需另一套演示数据，请设置新的数据目录 KONGCHUO_DATA_DIR（或另一个 DATABASE_URL）后重试。"
    )


def child_ids() -> dict[str, int]:
    """Generator key → Child id of the loaded demo county."""
    return dict(DemoChildKey.objects.values_list("key", "child_id"))


def _check_empty(dataset: DemoCounty) -> None:
    county = next(d for d in dataset.divisions if d.code == COUNTY_CODE)
    if Division.objects.filter(code=COUNTY_CODE).exists():
        raise DemoLoadError(f"数据库中已有{county.name}（{COUNTY_CODE}）的真实或导入数据，演示县只能载入到新的数据库。"
                            "请设置新的数据目录 KONGCHUO_DATA_DIR 后重试。")
    codes = [s.code for s in dataset.schools]
    clash = School.objects.filter(code__in=codes).values_list("code", flat=True).first()
    if clash:
        raise DemoLoadError(f"学校标识码 {clash} 已被占用，演示县只能载入到新的数据库")
    taken = list(User.objects.filter(username__in=[u.username for u in DEMO_USERS]).values_list("username", flat=True))
    if taken:
        raise DemoLoadError(f"用户名 {'、'.join(sorted(taken))} 已存在，演示县只能载入到新的数据库")


def _batches(objects: Iterable, size: int = BATCH_SIZE) -> Iterator[list]:
    iterator = iter(objects)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _Writer:
    def __init__(self, dataset: DemoCounty):
        self.ds = dataset
        self.counts: dict[str, int] = {}
        self.division: dict[str, int] = {}
        self.school: dict[str, int] = {}
        self.school_township: dict[str, int] = {}
        self.klass: dict[tuple[str, int, int], int] = {}
        self.child: dict[str, int] = {}
        self.pinyin: dict[str, tuple[str, str]] = {}
        self.instants: dict[dt.date, object] = {}
        self.days: dict[dt.date, object] = {}

    def bulk(self, model: type[models.Model], objects: Iterable[models.Model], name: str) -> list[models.Model]:
        """bulk_create in batches; returns the created objects (with their ids)."""
        created: list[models.Model] = []
        for chunk in _batches(objects):
            created += model.objects.bulk_create(chunk, batch_size=BATCH_SIZE)
        self.counts[name] = self.counts.get(name, 0) + len(created)
        return created

    def insert(self, model: type[models.Model], fields: list[str], rows: Iterable[tuple], name: str) -> None:
        """INSERT prepared rows with executemany, in batches: for the leaf tables, whose ids nobody
        needs back (with bulk_create's per-value preparation the full load takes 14 s instead of 8)."""
        meta = model._meta
        quote = connection.ops.quote_name
        table = quote(meta.db_table)
        columns = ", ".join(quote(meta.get_field(f).column) for f in fields)
        self.counts.setdefault(name, 0)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":  # COPY: one stream instead of a statement per row
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        self.counts[name] += 1
                return
            sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
            for chunk in _batches(rows):
                cursor.executemany(sql, chunk)
                self.counts[name] += len(chunk)

    def write(self, *, places_only: bool = False) -> dict[str, int]:
        self.divisions()
        self.schools()
        if places_only:  # the lists are imported as files afterwards (kongchuo demo --lists)
            self.users()
            return self.counts
        # Empty tables filled in one go: their secondary indexes are built once, at the end (kongchuo.core.bulkload).
        with secondary_indexes_deferred([Child, Enrolment, StatusChange], incoming=len(self.ds.children)):
            self.children()
            self.enrolments()
            self.attendance()
        self.users()
        self.analyze()
        return self.counts

    def analyze(self) -> None:
        """Fresh planner statistics: without them SQLite runs the scoping EXISTS subqueries through
        the township index instead of the child's, and a township's child list takes minutes."""
        models_ = [Division, School, SchoolClass, Child, Guardian, GroupMembership, FieldProvenance, ExternalStudy,
                   Enrolment, StatusChange, DemoChildKey, User]
        with connection.cursor() as cursor:
            for model in models_:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")

    def divisions(self) -> None:
        self.counts["divisions"] = 0
        for level in Division.Level.values:
            rows = [d for d in self.ds.divisions if d.level == level]
            # Province and city may already be there (another county of the same province).
            existing = dict(Division.objects.filter(code__in=[d.code for d in rows]).values_list("code", "pk"))
            new = [
                Division(code=d.code, name=d.name, level=d.level, parent_id=self.division.get(d.parent),
                         prefix=d.code[: Division.PREFIX_LENGTH[d.level]])
                for d in rows if d.code not in existing
            ]
            self.division.update(existing)
            self.division.update({d.code: d.pk for d in self.bulk(Division, new, "divisions")})

    def schools(self) -> None:
        county = self.division[COUNTY_CODE]
        schools = self.bulk(School, (
            School(code=s.code, name=s.name, type=s.type, county_id=county, township_id=self.division[s.township],
                   village_id=self.division[s.village], address=s.address, phone=s.phone)
            for s in self.ds.schools
        ), "schools")
        self.school = {s.code: s.pk for s in schools}
        self.school_township = {s.code: s.township_id for s in schools}
        classes = self.bulk(SchoolClass, (
            SchoolClass(school_id=self.school[c.school], grade=c.grade, number=c.number) for c in self.ds.classes
        ), "classes")
        for c, obj in zip(self.ds.classes, classes, strict=True):
            self.klass[(c.school, c.grade, c.number)] = obj.pk

    def names(self, name: str) -> tuple[str, str]:
        if name not in self.pinyin:
            self.pinyin[name] = name_pinyin(name)
        return self.pinyin[name]

    def instant(self, day: dt.date):
        """The moment a list was received, 9 a.m. local time on its date, as the database takes it."""
        if day not in self.instants:
            moment = timezone.make_aware(dt.datetime.combine(day, dt.time(9)))
            self.instants[day] = connection.ops.adapt_datetimefield_value(moment)
        return self.instants[day]

    def day(self, value: dt.date | None):
        if value is None:
            return None
        if value not in self.days:
            self.days[value] = connection.ops.adapt_datefield_value(value)
        return self.days[value]

    def children(self) -> None:
        county = self.division[COUNTY_CODE]
        for chunk in _batches(self.ds.children):
            objects = []
            for c in chunk:
                anchor = c.household_village or c.current_village
                placement = c.open_enrolment()
                pinyin, initials = self.names(c.name)
                objects.append(Child(
                    id_number=c.id_number,
                    id_number_status=Child.IdStatus.VALID if c.id_number else Child.IdStatus.PENDING,
                    id_number_raw=c.id_number_raw, name=c.name, name_pinyin=pinyin, name_initials=initials,
                    gender=c.gender, birth_date=c.birth_date, ethnicity=c.ethnicity, health=c.health,
                    disability_category=c.disability_category, disability_grade=c.disability_grade,
                    disability_certificate_no=c.disability_certificate_no,
                    household_division_id=self.division.get(c.household_village), household_address=c.household_address,
                    current_division_id=self.division.get(c.current_village), current_address=c.current_address,
                    county_id=county, township_id=self.division[anchor[:9]] if anchor else None,
                    current_school_id=self.school[placement.school] if placement else None,
                    current_class_id=(self.klass.get((placement.school, placement.grade, placement.class_number))
                                      if placement else None),
                ))
            created = Child.objects.bulk_create(objects, batch_size=BATCH_SIZE)
            self.child.update((c.key, obj.pk) for c, obj in zip(chunk, created, strict=True))
            self.counts["children"] = self.counts.get("children", 0) + len(created)
        ds, ids = self.ds, self.child
        self.insert(Guardian, ["child", "name", "relation", "phone", "order"], (
            (ids[c.key], g.name, str(g.relation), g.phone, g.order) for c in ds.children for g in c.guardians
        ), "guardians")
        self.insert(GroupMembership, ["child", "group", "source", "recorded_on", "valid_until", "note"], (
            (ids[c.key], str(m.group), str(m.source), self.day(m.recorded_on), self.day(m.valid_until), m.note)
            for c in ds.children for m in c.memberships
        ), "memberships")
        self.insert(FieldProvenance, ["child", "fields", "batches", "refused", "source", "reference", "recorded_at", "recorded_by"], (
            (ids[c.key], field_mask(f for f in s.fields if f != "id_number" or c.id_number), "{}", "{}", str(s.source),
             s.reference, self.instant(s.recorded_on), None)
            for c in ds.children for s in c.sources
        ), "provenance")
        self.insert(ExternalStudy, ["child", "school_name", "place", "national_student_number", "recorded_on"], (
            (ids[c.key], x.school_name, x.place, x.national_student_number, self.day(x.recorded_on))
            for c in ds.children if (x := c.external_study)
        ), "external_studies")
        self.insert(DemoChildKey, ["key", "child"], ((c.key, ids[c.key]) for c in ds.children), "keys")

    def enrolments(self) -> None:
        county = self.division[COUNTY_CODE]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        pairs = ((c, e) for c in self.ds.children for e in c.enrolments)
        self.counts.setdefault("enrolments", 0)
        self.counts.setdefault("status_changes", 0)
        for chunk in _batches(pairs):
            objects = [
                Enrolment(
                    child_id=self.child[c.key], school_id=self.school[e.school],
                    school_class_id=self.klass.get((e.school, e.grade, e.class_number)), grade=e.grade,
                    national_student_number=e.national_student_number, status=e.status, status_since=e.status_since,
                    entry_date=e.entry_date, county_id=county, township_id=self.school_township[e.school],
                )
                for c, e in chunk
            ]
            created = Enrolment.objects.bulk_create(objects, batch_size=BATCH_SIZE)
            self.counts["enrolments"] += len(created)
            self.insert(StatusChange, ["enrolment", "from_status", "to_status", "effective_date", "reason",
                                       "recorded_at", "recorded_by"], (
                (obj.pk, str(h.from_status), str(h.to_status), self.day(h.effective_date), h.reason, now, None)
                for (_, e), obj in zip(chunk, created, strict=True) for h in e.history
            ), "status_changes")

    def attendance(self) -> None:
        from kongchuo.attendance.models import AttendanceRecord
        from kongchuo.demo.attendance import generate_attendance

        county = self.division[COUNTY_CODE]
        self.insert(AttendanceRecord, ["child", "school", "date", "status", "name", "id_number", "national_student_number", "county",
                                       "township", "batch"], (
            (self.child[a.child] if a.child else None, self.school[a.school], self.day(a.date), a.status, a.name, a.id_number,
             a.national_student_number, county, self.school_township[a.school], None)
            for a in generate_attendance(self.ds)
        ), "attendance")

    def users(self) -> None:
        password = make_password(DEMO_PASSWORD)  # PBKDF2 once, not once per user
        county = self.division[COUNTY_CODE]
        school = next(s for s in self.ds.schools if s.name == DEMO_SCHOOL)
        grades = sorted((c.grade, c.number) for c in self.ds.classes if c.school == school.code)
        grade, number = (3, 1) if (3, 1) in grades else grades[0]
        nodes = {
            "county": {"division_id": county},
            "township": {"division_id": self.division[school.township]},
            "school": {"school_id": self.school[school.code]},
            "class": {"school_class_id": self.klass[(school.code, grade, number)]},
        }
        self.bulk(User, (
            User(username=u.username, password=password, role=u.role, full_name=u.full_name, department=u.department,
                 **nodes[u.node])
            for u in DEMO_USERS
        ), "users")
