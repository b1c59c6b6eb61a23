"""The comparisons of DESIGN.md §6 (四查三比对) as set-based reads of one county.

`compute_findings` reads the county's tables once each (children, provenance, enrolments,
external studies, memberships, attendance in the window, open identity conflicts), groups the
children that are one person (exact ID numbers are unique already; fuzzy links from the linkage
engine join the rest), and applies each category's rule to those people. It writes nothing.
Every finding carries its evidence in plain Chinese, the sources involved and a confidence.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from kongchuo.attendance.models import AttendanceRecord
from kongchuo.enrolments.models import ACTIVE_STATUSES, APPROVED_ABSENCE_STATUSES, Enrolment, ExternalStudy, Status
from kongchuo.imports.models import IdentityConflict
from kongchuo.matching.models import Category
from kongchuo.people.models import Child, FieldProvenance, GroupMembership, Guardian, SpecialGroup
from kongchuo.places.models import Division, School

SOURCE_NAMES = {
    "household": "公安户籍",
    "registry": "学籍",
    "attendance": "考勤",
    "disability": "残联",
    "civil_affairs": "民政",
    "rural_revitalisation": "乡村振兴",
    "study_elsewhere": "外地就读证明",
    "school": "学校",
    "manual": "手工录入",
}
PRIORITY_GROUPS = [
    SpecialGroup.DISABLED,
    SpecialGroup.ORPHAN,
    SpecialGroup.DE_FACTO_UNSUPPORTED,
    SpecialGroup.POVERTY_REGISTERED,
    SpecialGroup.MONITORED_HOUSEHOLD,
    SpecialGroup.MINIMUM_LIVING_ALLOWANCE,
    SpecialGroup.EXTREME_POVERTY_SUPPORT,
    SpecialGroup.CHILD_IN_DIFFICULTY,
    SpecialGroup.LEFT_BEHIND,
]


@dataclass(frozen=True)
class MatchRules:
    """The county's rules (defaults from the seeds; every one can be changed per run)."""

    cutoff_month: int = 8  # turned 6 by 31 August …
    cutoff_day: int = 31
    min_age: int = 6
    max_age: int = 15  # … up to 15, or grade 9 finished
    absence_days: int = 3  # unexcused days in the window → suspected dropout (seed 004: 3 days → report)
    absence_window_days: int = 14
    ghost_window_days: int = 60  # about a term so far
    ghost_min_school_days: int = 20
    ghost_share: float = 0.9  # absent on at least this share of the school days → 名在人不在
    transition_months: int = 15  # graduated from primary within this many months, no junior enrolment now


def school_year_start(as_of: dt.date) -> int:
    return as_of.year if as_of.month >= 9 else as_of.year - 1


def age_window(as_of: dt.date, rules: MatchRules = MatchRules()) -> tuple[dt.date, dt.date]:
    """(born after, born on or before): eligible children turned `min_age` by the cut-off of this
    school year and were at most `max_age` on it. A child born 1 September is not yet eligible."""
    year = school_year_start(as_of)
    latest = dt.date(year - rules.min_age, rules.cutoff_month, rules.cutoff_day)
    earliest_exclusive = dt.date(year - rules.max_age - 1, rules.cutoff_month, rules.cutoff_day)
    return earliest_exclusive, latest


def is_eligible(birth_date: dt.date | None, as_of: dt.date, rules: MatchRules = MatchRules()) -> bool:
    if birth_date is None:
        return False
    after, until = age_window(as_of, rules)
    return after < birth_date <= until


@dataclass
class Draft:
    category: str
    key: str
    detail: str
    confidence: float
    sources: list[str]
    child_id: int | None = None
    other_child_id: int | None = None
    enrolment_id: int | None = None
    attendance_id: int | None = None
    school_id: int | None = None
    township_id: int | None = None


@dataclass
class Person:
    """The children that are one person, with what every source says about them."""

    members: list[int]
    primary: int  # the member whose identity is best (a valid ID number, from the police list)
    link_confidence: float = 1.0
    sources: set = field(default_factory=set)
    enrolments: list = field(default_factory=list)


class _UnionFind:
    def __init__(self):
        self.parent = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class CountyData:
    children: dict
    sources: dict
    enrolments: list
    studies: set
    groups: dict
    absences: dict
    unmatched_attendance: list
    conflicts: list
    schools: dict
    townships: dict
    guardians: dict
    raw_ids: dict = field(default_factory=dict)  # child → the unusable ID value kept for review (证件号待核正)

    @property
    def counts(self) -> dict:
        return {
            "children": len(self.children),
            "enrolments": len(self.enrolments),
            "external_studies": len(self.studies),
            "group_memberships": sum(len(g) for g in self.groups.values()),
            "attendance_absences": sum(len(d) for d in self.absences.values()),
            "unmatched_attendance": len(self.unmatched_attendance),
            "identity_conflicts": len(self.conflicts),
        }


CHILD_FIELDS = (
    "id",
    "name",
    "gender",
    "birth_date",
    "id_number",
    "id_number_status",
    "township_id",
    "household_division__code",
    "current_school_id",
)


def load_county(county: Division, as_of: dt.date, rules: MatchRules) -> CountyData:
    children = {row[0]: row for row in Child.objects.filter(county=county).values_list(*CHILD_FIELDS)}
    sources = defaultdict(set)
    for child_id, source in FieldProvenance.objects.filter(child__county=county).values_list("child_id", "source"):
        sources[child_id].add(source)
    enrolments = list(
        Enrolment.objects.filter(child__county=county).values_list("id", "child_id", "school_id", "grade", "status", "status_since")
    )
    studies = set(ExternalStudy.objects.filter(child__county=county).values_list("child_id", flat=True))
    groups = defaultdict(set)
    for child_id, group in GroupMembership.objects.filter(child__county=county).values_list("child_id", "group"):
        groups[child_id].add(group)
    since = as_of - dt.timedelta(days=max(rules.absence_window_days, rules.ghost_window_days))
    absences, unmatched = defaultdict(set), []
    attendance = AttendanceRecord.objects.filter(county=county, date__gt=since, date__lte=as_of)
    for rec_id, child_id, school_id, day, status, name, nsn, idn in attendance.values_list(
        "id", "child_id", "school_id", "date", "status", "name", "national_student_number", "id_number"
    ):
        if child_id is None:
            unmatched.append((rec_id, school_id, day, name, nsn, idn))
        elif status == AttendanceRecord.Status.ABSENT:
            absences[(child_id, school_id)].add(day)
        elif status in (AttendanceRecord.Status.LATE, AttendanceRecord.Status.LEAVE):
            absences.setdefault((child_id, school_id), set())
    conflicts = list(
        IdentityConflict.objects.filter(county=county, status=IdentityConflict.Status.OPEN).values_list(
            "id", "child_id", "field", "kept_value", "kept_source", "other_value", "other_source"
        )
    )
    schools = {s.pk: s for s in School.objects.filter(county=county)}
    townships = {d.pk: d for d in Division.objects.filter(prefix__startswith=county.prefix, level=Division.Level.TOWNSHIP)}
    guardians = {}
    for child_id, name in Guardian.objects.filter(child__county=county).order_by("child_id", "order").values_list("child_id", "name"):
        guardians.setdefault(child_id, name)
    return CountyData(children, sources, enrolments, studies, groups, absences, unmatched, conflicts, schools, townships, guardians)


def build_people(data: CountyData, links) -> list[Person]:
    """Group children into people: every child is its own person unless a link (auto or accepted) joins them."""
    uf = _UnionFind()
    confidence = {}
    for left, right, probability in links:
        if left in data.children and right in data.children:
            uf.union(left, right)
            confidence[left] = min(confidence.get(left, 1.0), probability)
            confidence[right] = min(confidence.get(right, 1.0), probability)
    members = defaultdict(list)
    for child_id in data.children:
        members[uf.find(child_id)].append(child_id)
    by_child = defaultdict(list)
    for row in data.enrolments:
        by_child[row[1]].append(row)
    people = []
    for ids in members.values():
        ids.sort()
        primary = min(ids, key=lambda c: (data.children[c][5] != Child.IdStatus.VALID, "household" not in data.sources.get(c, ()), c))
        person = Person(members=ids, primary=primary, link_confidence=min((confidence.get(c, 1.0) for c in ids), default=1.0))
        for c in ids:
            person.sources |= data.sources.get(c, set())
            person.enrolments.extend(by_child.get(c, []))
        people.append(person)
    return people


def _township_of(data: CountyData, child_id: int | None, school_id: int | None = None) -> int | None:
    if child_id is not None and data.children[child_id][6]:
        return data.children[child_id][6]
    if school_id is not None and school_id in data.schools:
        return data.schools[school_id].township_id
    return None


def _sources(names) -> list[str]:
    return sorted({SOURCE_NAMES.get(n, n) for n in names})


def compute_findings(data: CountyData, people: list[Person], as_of: dt.date, rules: MatchRules = MatchRules()) -> list[Draft]:
    drafts: list[Draft] = []
    window_start = as_of - dt.timedelta(days=rules.absence_window_days)
    ghost_start = as_of - dt.timedelta(days=rules.ghost_window_days)
    school_days = weekdays(ghost_start, as_of)  # the same calendar for every school (no county calendar yet)
    year = school_year_start(as_of)
    for person in people:
        child = data.children[person.primary]
        birth = child[3]
        eligible = is_eligible(birth, as_of, rules)
        active = [e for e in person.enrolments if e[4] in ACTIVE_STATUSES]
        approved = [e for e in person.enrolments if e[4] in APPROVED_ABSENCE_STATUSES]
        deceased = any(e[4] == Status.DECEASED for e in person.enrolments)
        finished = any(e[4] == Status.GRADUATED and e[3] == 9 for e in person.enrolments)
        dropped = [e for e in person.enrolments if e[4] == Status.DROPPED_OUT]
        studying_elsewhere = any(c in data.studies for c in person.members)
        placed = bool(active or approved or studying_elsewhere or deceased or finished)
        township = _township_of(data, person.primary)
        township_name = data.townships[township].name if township in data.townships else "本县"
        confidence = round(person.link_confidence * (1.0 if child[5] == Child.IdStatus.VALID else 0.9), 3)
        linked = "（已合并同一人的多条记录）" if len(person.members) > 1 else ""

        groups = set().union(*(data.groups.get(c, set()) for c in person.members))
        priority = [g for g in PRIORITY_GROUPS if g in groups]
        graduated = [
            e
            for e in person.enrolments
            if e[4] == Status.GRADUATED and e[3] == 6 and e[5] >= _months_before(as_of, rules.transition_months)
        ]
        went_on = any(e[3] >= 7 for e in person.enrolments)
        # One child, one category: the most specific one that explains why the child is not in school.
        if eligible and graduated and not went_on and not placed:
            e = max(graduated, key=lambda r: r[5])
            drafts.append(
                Draft(
                    Category.TRANSITION_GAP,
                    f"transition_gap:{person.primary}",
                    f"{e[5]:%Y年%m月}于{data.schools[e[2]].name}小学毕业，{year}学年无初中学籍，无外地就读证明{linked}",
                    confidence,
                    _sources(person.sources | {"registry", "study_elsewhere"}),
                    child_id=person.primary,
                    enrolment_id=e[0],
                    school_id=e[2],
                    township_id=township,
                )
            )
        elif eligible and priority and not placed and not dropped:
            labels = "、".join(SpecialGroup(g).label for g in priority)
            drafts.append(
                Draft(
                    Category.SPECIAL_GROUP_UNPLACED,
                    f"special_group_unplaced:{person.primary}",
                    f"{labels}，适龄，无在读学籍、送教上门或经批准的延缓入学/休学{linked}",
                    confidence,
                    _sources(person.sources | {"registry"}),
                    child_id=person.primary,
                    township_id=township,
                )
            )
        elif eligible and not placed and not dropped and "household" in person.sources:
            drafts.append(
                Draft(
                    Category.OUT_OF_SCHOOL,
                    f"out_of_school:{person.primary}",
                    f"户籍在本县（{township_name}），适龄，全县学籍中无在读记录，无外地就读证明{linked}",
                    confidence,
                    _sources(person.sources | {"registry", "study_elsewhere"}),
                    child_id=person.primary,
                    township_id=township,
                )
            )
        if dropped and not active:
            e = max(dropped, key=lambda r: r[5])
            drafts.append(
                Draft(
                    Category.SUSPECTED_DROPOUT,
                    f"suspected_dropout:{person.primary}",
                    f"学籍状态为辍学（{e[5]:%Y-%m-%d}起，{data.schools[e[2]].name}），尚未复学",
                    confidence,
                    _sources({"registry"}),
                    child_id=person.primary,
                    enrolment_id=e[0],
                    school_id=e[2],
                    township_id=_township_of(data, person.primary, e[2]),
                )
            )
        for e in active:
            days = data.absences.get((e[1], e[2]))
            if days is None:
                continue
            ghost_days = [d for d in days if d > ghost_start]
            recent = sorted(d for d in days if d > window_start)
            school = data.schools[e[2]].name
            if len(school_days) >= rules.ghost_min_school_days and len(ghost_days) >= rules.ghost_share * len(school_days):
                detail = (
                    f"在{school}有在读学籍，近{rules.ghost_window_days}天{len(school_days)}个上课日中缺勤{len(ghost_days)}天，名在人不在"
                )
                drafts.append(_at_enrolment(data, Category.GHOST_REGISTRATION, f"ghost_registration:{e[0]}", detail, confidence, e))
            elif len(recent) >= rules.absence_days:
                detail = f"{school}在读，近{rules.absence_window_days}天无故缺勤{len(recent)}天（最近一次{recent[-1]:%Y-%m-%d}）"
                drafts.append(_at_enrolment(data, Category.SUSPECTED_DROPOUT, f"suspected_dropout:{person.primary}", detail, confidence, e))
        if len({e[2] for e in active}) > 1 or len(active) > 1:
            names = "、".join(data.schools[e[2]].name for e in sorted(active))
            key = "duplicate_enrolment:" + "-".join(str(e[0]) for e in sorted(active))
            drafts.append(
                Draft(
                    Category.DUPLICATE_ENROLMENT,
                    key,
                    f"同一人同时有{len(active)}条在读学籍：{names}{linked}",
                    confidence,
                    _sources({"registry"}),
                    child_id=active[0][1],
                    other_child_id=active[-1][1],
                    enrolment_id=active[0][0],
                    school_id=active[0][2],
                    township_id=_township_of(data, active[0][1], active[0][2]),
                )
            )
    drafts += _unregistered_attendance(data, people)
    return drafts


def _at_enrolment(data: CountyData, category: str, key: str, detail: str, confidence: float, e) -> Draft:
    """A finding about one enrolment, seen in the registry and the attendance lists."""
    return Draft(
        category,
        key,
        detail,
        confidence,
        _sources({"registry", "attendance"}),
        child_id=e[1],
        enrolment_id=e[0],
        school_id=e[2],
        township_id=_township_of(data, e[1], e[2]),
    )


def weekdays(after: dt.date, until: dt.date) -> list[dt.date]:
    """School days in (after, until]: weekdays; a county calendar of holidays can refine this later."""
    days = (until - after).days
    return [after + dt.timedelta(days=n) for n in range(1, days + 1) if (after + dt.timedelta(days=n)).weekday() < 5]


def _months_before(day: dt.date, months: int) -> dt.date:
    month = day.month - months
    year = day.year + (month - 1) // 12
    return dt.date(year, (month - 1) % 12 + 1, 1)


def _unregistered_attendance(data: CountyData, people: list[Person]) -> list[Draft]:
    drafts, seen = [], set()
    active_at = defaultdict(set)
    for person in people:
        schools = {e[2] for e in person.enrolments if e[4] in ACTIVE_STATUSES}
        for c in person.members:
            active_at[c] = schools
    for (child_id, school_id), _days in data.absences.items():
        if school_id not in active_at.get(child_id, set()) and (child_id, school_id) not in seen:
            seen.add((child_id, school_id))
            drafts.append(
                Draft(
                    Category.UNREGISTERED_ATTENDANCE,
                    f"unregistered_attendance:{school_id}:child{child_id}",
                    f"{data.schools[school_id].name}的考勤中有此学生，但在该校无在读学籍",
                    0.95,
                    _sources({"attendance", "registry"}),
                    child_id=child_id,
                    school_id=school_id,
                    township_id=_township_of(data, child_id, school_id),
                )
            )
    for rec_id, school_id, _day, name, nsn, idn in data.unmatched_attendance:
        who = nsn or idn or name
        if (who, school_id) in seen:
            continue
        seen.add((who, school_id))
        drafts.append(
            Draft(
                Category.UNREGISTERED_ATTENDANCE,
                f"unregistered_attendance:{school_id}:{who}",
                f"{data.schools[school_id].name}的考勤中有“{name}”（学籍号/证件号 {nsn or idn or '无'}），全县学籍中无此人",
                0.9,
                _sources({"attendance", "registry"}),
                attendance_id=rec_id,
                school_id=school_id,
                township_id=data.schools[school_id].township_id,
            )
        )
    return drafts


FIELD_NAMES = {
    "name": "姓名",
    "gender": "性别",
    "birth_date": "出生日期",
    "ethnicity": "民族",
    "household_division": "户籍地",
    "household_address": "户籍地址",
    "current_address": "现住址",
}


def identity_findings(data: CountyData, links_explained) -> list[Draft]:
    """Two records of one person (fuzzy links), and open disagreements between sources."""
    drafts = []
    for left, right, weight, probability, agreements in links_explained:
        if left not in data.children or right not in data.children:
            continue
        a, b = data.children[left], data.children[right]
        differences = [
            f"{label}：{a[i] or '空'} / {b[i] or '空'}" for label, i in (("姓名", 1), ("出生日期", 3), ("身份证号", 4)) if a[i] != b[i]
        ]
        explained = "；".join(f"{k}{v}" for k, v in agreements.items())
        drafts.append(
            Draft(
                Category.IDENTITY_CONFLICT,
                f"identity_conflict:pair:{min(left, right)}:{max(left, right)}",
                f"两条记录判定为同一人（匹配权重{weight:.1f}：{explained}），信息不一致——" + "；".join(differences),
                round(probability, 3),
                _sources(data.sources.get(left, set()) | data.sources.get(right, set())),
                child_id=left,
                other_child_id=right,
                township_id=_township_of(data, left) or _township_of(data, right),
            )
        )
    by_child = defaultdict(list)
    for row in data.conflicts:
        by_child[row[1]].append(row)
    for child_id, rows in by_child.items():
        parts = [
            f"{FIELD_NAMES.get(f, f)}：{SOURCE_NAMES.get(ks, ks)}为“{kv}”（采用），{SOURCE_NAMES.get(os_, os_)}为“{ov}”"
            for _, _, f, kv, ks, ov, os_ in rows
        ]
        drafts.append(
            Draft(
                Category.IDENTITY_CONFLICT,
                f"identity_conflict:sources:{child_id}",
                "不同来源信息不一致——" + "；".join(parts),
                1.0,
                _sources({r[4] for r in rows} | {r[6] for r in rows}),
                child_id=child_id,
                township_id=_township_of(data, child_id),
            )
        )
    return drafts
