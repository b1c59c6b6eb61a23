"""The demo county: a deterministic, seeded, realistic mountain county (calibrated on seed 003, 城口县).

`generate()` is pure Python (it touches no database) and returns plain dataclasses that
`kongchuo.demo.loader.load` writes. Same seed, scale and date → the same county, byte for
byte: every draw comes from a `random.Random` seeded with a string (hashed with SHA-512, so
PYTHONHASHSEED does not matter) and nothing iterates over a set.

Calibration (seed 003, 2021 autumn term): 109 schools of the compulsory phase — 40 primary,
60 teaching points, 4 junior, 2 nine-year, 2 complete middle, 1 special (the 110th, the
vocational centre, is outside compulsory education) — with 17,497 primary and 10,523 junior
students. `scale` shrinks the children (not the schools) for fast tests.

The known truth of DESIGN.md §6 is in `DemoCounty.anomalies`: category → keys of the
children a correct matcher should flag. Categories are disjoint; a child is listed under its
most specific one (an unplaced disabled child is out of school too, but listed only under
`special_group_unplaced`). For `identity_conflict` the listed key is the record whose identity
disagrees; its `same_as` names the other record of the same person. `DemoCounty.decoys`
lists children that look like findings but are not (verified study elsewhere, under age,
finished grade 9, approved absence): a matcher must leave them alone. Each child's `truth`
says what really happens where the data cannot (which school an unregistered child attends,
how many days a suspected dropout has been away, why a child is out of school); attendance
rows are not generated.
"""

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from itertools import accumulate

from kongchuo.core.choices import Gender, Source
from kongchuo.demo import names_data as data
from kongchuo.enrolments.models import OPEN_STATUSES, Status
from kongchuo.people.identity import compose_id_number
from kongchuo.people.models import Child, Guardian, SpecialGroup
from kongchuo.people.names import name_pinyin
from kongchuo.places.models import Division, School

DEFAULT_SEED = 2026
DEFAULT_AS_OF = dt.date(2026, 11, 23)
COUNTY_CODE = data.COUNTY[0]

# Students on the roll per grade at scale 1: seed 003's 17,497 primary and 10,523 junior,
# spread over cohorts that shrink with the falling birth rate.
GRADE_SIZES = {1: 2617, 2: 2750, 3: 2850, 4: 2980, 5: 3100, 6: 3200, 7: 3453, 8: 3510, 9: 3560}
SPECIAL_SCHOOL_PER_GRADE = 7
ANOMALY_SIZES = {
    "out_of_school": 40,
    "suspected_dropout": 36,
    "duplicate_enrolment": 25,
    "ghost_registration": 30,
    "unregistered_attendance": 28,
    "transition_gap": 30,
    "identity_conflict": 32,
    "special_group_unplaced": 26,
}
DECOY_SIZES = {"study_elsewhere": 420, "under_age": 30, "completed_compulsory": 30, "deferred": 4}

# Household shares (a mountain county sends its parents to the coast: many children stay
# with grandparents) and child shares.
PARENTS_AWAY, POVERTY, MONITORED, MINIMUM_ALLOWANCE = 0.27, 0.10, 0.02, 0.04
SINGLE_PARENT, ORPHAN, UNSUPPORTED = 0.05, 0.003, 0.003
DISABLED_IN_SCHOOL, IN_DIFFICULTY = 0.008, 0.01
BORN_ELSEWHERE, HOUSEHOLD_ELSEWHERE, NO_HOUSEHOLD = 0.04, 0.01, 0.0025
RETURNED, SUSPENDED = 0.025, 0.001
RARE_CHARACTERS = "犇淼喆堃玥赟燚昇"

# Which secondary school each township's children go to (the rest go to the county town).
CATCHMENT = {
    "城口县第一中学": ["葛城街道", "鸡鸣乡", "蓼子乡", "厚坪乡"],
    "城口县第二中学": ["复兴街道", "北屏乡", "龙田乡", "河鱼乡"],
    "城口县巴山初级中学": ["巴山镇", "坪坝镇", "咸宜镇"],
    "城口县庙坝初级中学": ["庙坝镇", "高观镇", "高楠镇", "周溪乡"],
    "城口县修齐初级中学": ["修齐镇", "双河乡", "治平乡", "明中乡"],
    "城口县明通初级中学": ["明通镇", "左岚乡", "岚天乡", "高燕镇"],
    "城口县东安镇九年一贯制学校": ["东安镇"],
    "城口县沿河乡九年一贯制学校": ["沿河乡"],
}
SECONDARY = [  # (name, type, township)
    ("城口县第一中学", School.Type.COMPLETE, "葛城街道"),
    ("城口县第二中学", School.Type.COMPLETE, "复兴街道"),
    ("城口县巴山初级中学", School.Type.JUNIOR, "巴山镇"),
    ("城口县庙坝初级中学", School.Type.JUNIOR, "庙坝镇"),
    ("城口县修齐初级中学", School.Type.JUNIOR, "修齐镇"),
    ("城口县明通初级中学", School.Type.JUNIOR, "明通镇"),
    ("城口县东安镇九年一贯制学校", School.Type.NINE_YEAR, "东安镇"),
    ("城口县沿河乡九年一贯制学校", School.Type.NINE_YEAR, "沿河乡"),
]
URBAN_PRIMARY = {  # name → (township, share of the township's primary children)
    "城口县实验小学": ("葛城街道", 0.35),
    "城口县第二实验小学": ("葛城街道", 0.30),
    "城口县葛城小学": ("葛城街道", 0.20),
    "城口县北大街小学": ("葛城街道", 0.15),
    "城口县复兴小学": ("复兴街道", 0.60),
    "城口县城北小学": ("复兴街道", 0.40),
}
VILLAGE_PRIMARY = {"巴山镇": 2, "庙坝镇": 2, "修齐镇": 2, "明通镇": 2, "坪坝镇": 2, "高观镇": 1, "咸宜镇": 1, "高燕镇": 1}
TEACHING_POINTS = 60
DISABILITY_CODES = {"visual": 1, "hearing": 2, "speech": 3, "physical": 4, "intellectual": 5, "mental": 6, "multiple": 7}

HOUSEHOLD_FIELDS = ("id_number", "name", "gender", "birth_date", "ethnicity", "household_division", "household_address")
REGISTRY_FIELDS = ("id_number", "name", "gender", "birth_date")
DEPARTMENT_FIELDS = ("id_number", "name")
DISABILITY_FIELDS = ("id_number", "name", "disability_category", "disability_grade", "disability_certificate_no")
ATTENDANCE_FIELDS = ("name", "gender", "birth_date")
SCHOOL_FIELDS = ("id_number", "name", "gender", "birth_date", "current_address")
STUDY_ELSEWHERE_FIELDS = ("id_number", "name", "current_address")


# --- the dataset ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DemoDivision:
    code: str
    name: str
    level: int
    parent: str | None


@dataclass(frozen=True, slots=True)
class DemoSchool:
    code: str
    name: str
    type: str
    township: str  # division codes
    village: str
    address: str
    phone: str


@dataclass(frozen=True, slots=True)
class DemoClass:
    school: str
    grade: int
    number: int


@dataclass(frozen=True, slots=True)
class DemoGuardian:
    name: str
    relation: str
    phone: str
    order: int


@dataclass(frozen=True, slots=True)
class DemoMembership:
    group: str
    source: str
    recorded_on: dt.date
    valid_until: dt.date | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class DemoSource:
    """One list that supplied some of the child's fields (→ FieldProvenance rows)."""

    source: str
    fields: tuple[str, ...]
    reference: str
    recorded_on: dt.date


@dataclass(frozen=True, slots=True)
class DemoExternalStudy:
    """A verified study outside the county (外地就读证明)."""

    school_name: str
    place: str
    national_student_number: str
    recorded_on: dt.date


@dataclass(frozen=True, slots=True)
class DemoStatusChange:
    from_status: str
    to_status: str
    effective_date: dt.date
    reason: str = ""


@dataclass(slots=True)
class DemoEnrolment:
    school: str
    grade: int
    status: str
    entry_date: dt.date
    national_student_number: str
    class_number: int | None = None
    history: list[DemoStatusChange] = field(default_factory=list)

    @property
    def status_since(self) -> dt.date:
        return self.history[-1].effective_date

    def move(self, to_status: str, on: dt.date, reason: str = "") -> None:
        self.history.append(DemoStatusChange(self.status, to_status, on, reason))
        self.status = to_status


@dataclass(slots=True)
class DemoChild:
    key: str
    name: str
    gender: str
    birth_date: dt.date
    id_number: str | None
    id_number_raw: str = ""
    ethnicity: str = "01"
    health: str = Child.Health.GOOD
    disability_category: str = ""
    disability_grade: int | None = None
    disability_certificate_no: str = ""
    household_village: str | None = None  # division code; None when registered outside the county
    household_address: str = ""
    current_village: str | None = None
    current_address: str = ""
    guardians: list[DemoGuardian] = field(default_factory=list)
    memberships: list[DemoMembership] = field(default_factory=list)
    enrolments: list[DemoEnrolment] = field(default_factory=list)
    sources: list[DemoSource] = field(default_factory=list)
    external_study: DemoExternalStudy | None = None
    same_as: str | None = None  # another record of the same person (identity_conflict)
    truth: dict = field(default_factory=dict)  # what really happens (attends, absent_days, reason …)

    @property
    def groups(self) -> list[str]:
        return [m.group for m in self.memberships]

    def open_enrolment(self) -> DemoEnrolment | None:
        """The enrolment the child's current school/class come from: latest open one."""
        open_ = [e for e in self.enrolments if e.status in OPEN_STATUSES]
        return max(open_, key=lambda e: e.entry_date) if open_ else None


@dataclass
class DemoCounty:
    seed: int
    scale: float
    as_of: dt.date
    divisions: list[DemoDivision]
    schools: list[DemoSchool]
    classes: list[DemoClass]
    children: list[DemoChild]
    anomalies: dict[str, list[str]]
    decoys: dict[str, list[str]]

    def child(self, key: str) -> DemoChild:
        return self.children[int(key[1:]) - 1]

    def counts(self) -> dict[str, int]:
        return {
            "divisions": len(self.divisions),
            "schools": len(self.schools),
            "classes": len(self.classes),
            "children": len(self.children),
            "guardians": sum(len(c.guardians) for c in self.children),
            "memberships": sum(len(c.memberships) for c in self.children),
            "provenance": sum(len(c.sources) for c in self.children),  # one row per child and source
            "enrolments": sum(len(c.enrolments) for c in self.children),
            "status_changes": sum(len(e.history) for c in self.children for e in c.enrolments),
            "external_studies": sum(1 for c in self.children if c.external_study),
        }


# --- the builder ----------------------------------------------------------------------------------

@dataclass(slots=True)
class _Village:
    code: str
    name: str
    township: str  # township name
    community: bool
    weight: float


@dataclass(slots=True)
class _Family:
    village: _Village
    address: str
    surname: str
    mother_surname: str
    father: str
    mother: str
    grandfather: str
    grandmother: str
    maternal_grandfather: str
    maternal_grandmother: str
    phones: tuple[str, str, str]  # father, mother, grandparents
    ethnicity: str
    parents_away: bool = False
    single: str = ""  # "father" or "mother" when one parent brings the children up
    orphan: bool = False
    unsupported: bool = False
    poverty_since: dt.date | None = None
    monitored_since: dt.date | None = None
    allowance_since: dt.date | None = None
    births: list[dt.date] = field(default_factory=list)


def generate(seed: int = DEFAULT_SEED, scale: float = 1.0, as_of: dt.date = DEFAULT_AS_OF) -> DemoCounty:
    """Build the demo county for `seed`; `scale` multiplies the number of children."""
    if not 0 < scale <= 2:
        raise ValueError("scale must be in (0, 2]")
    return _Builder(seed, scale, as_of).build()


class _Builder:
    def __init__(self, seed: int, scale: float, as_of: dt.date):
        self.seed, self.scale, self.as_of = seed, scale, as_of
        self.year = as_of.year if as_of.month >= 9 else as_of.year - 1  # school year starts 1 Sept
        self.rng = random.Random(f"kongchuo-demo:{seed}")
        self.divisions: list[DemoDivision] = []
        self.villages: dict[str, list[_Village]] = {}  # township name → villages
        self.village_by_code: dict[str, _Village] = {}
        self.township_code: dict[str, str] = {}
        self.schools: list[DemoSchool] = []
        self.school_by_name: dict[str, DemoSchool] = {}
        self.primary_of: dict[str, DemoSchool] = {}  # township name → central primary (or nine-year)
        self.village_primary: dict[str, DemoSchool] = {}  # village code → village primary
        self.teaching_point: dict[str, DemoSchool] = {}  # village code → teaching point
        self.junior_of: dict[str, DemoSchool] = {}  # township name → catchment secondary
        self.children: list[DemoChild] = []
        self.families: dict[str, list[_Family]] = {}
        self.orders: dict[tuple[str, dt.date], set[int]] = {}
        self.phones: set[str] = set()
        self.used: set[str] = set()  # keys already turned into an anomaly or decoy
        self.classes: list[DemoClass] = []
        self.class_counts: dict[tuple[str, int], int] = {}
        self.anomalies: dict[str, list[str]] = {name: [] for name in ANOMALY_SIZES}
        self.decoys: dict[str, list[str]] = {name: [] for name in [*DECOY_SIZES, "approved_absence"]}
        # Cumulative weights once, not per draw (the draws are the same as with plain weights).
        self.surnames = _table([s for s, _ in data.SURNAMES], [w for _, w in data.SURNAMES])
        self.given_names = {
            gender: _table(pool, [1 if any(ch in RARE_CHARACTERS for ch in name) else 8 for name in pool])
            for gender, pool in ((Gender.MALE, data.BOY_NAMES), (Gender.FEMALE, data.GIRL_NAMES))
        }
        self.townships = _table([t for _, t, _, _ in data.TOWNSHIPS], [w for _, _, w, _ in data.TOWNSHIPS])
        self.village_tables: dict[str, tuple[list, list[float]]] = {}
        self.references: dict[str, tuple[str, dt.date]] = {}

    # -- small helpers ---------------------------------------------------------------------------

    def n(self, count: float, minimum: int = 0) -> int:
        return max(minimum, round(count * self.scale))

    def date(self, year: int, month: int, day: int) -> dt.date:
        """A date of the school calendar, never after as_of."""
        return min(dt.date(year, month, day), self.as_of)

    def between(self, start: dt.date, end: dt.date) -> dt.date:
        """A uniform day in [start, end], never after as_of."""
        end = min(end, self.as_of)
        start = min(start, end)
        return start + dt.timedelta(days=self.rng.randrange((end - start).days + 1))

    def weighted(self, items, weights):
        return self.rng.choices(items, weights=weights, k=1)[0]

    def draw(self, table: tuple[list, list[float]]):
        return self.rng.choices(table[0], cum_weights=table[1], k=1)[0]

    def birth_window(self, grade: int, shift: int = 0) -> tuple[dt.date, dt.date]:
        """Grade 1 = turned 6 by 31 August of the school year's start; `shift` years older."""
        last = self.year - 5 - grade - shift
        return dt.date(last - 1, 9, 1), dt.date(last, 8, 31)

    def birth_date(self, grade: int, *, junior_rate: bool = False) -> dt.date:
        r = self.rng.random()
        late1, late2 = (0.08, 0.015) if junior_rate else (0.06, 0.008)
        shift = 2 if r < late2 else 1 if r < late2 + late1 else 0
        return self.between(*self.birth_window(grade, shift))

    def entry(self, year: int) -> dt.date:
        return self.date(year, 9, 1)

    def phone(self) -> str:
        while True:
            number = self.rng.choice(data.PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def id_number(self, region: str, birth: dt.date, gender: str) -> str:
        used = self.orders.setdefault((region, birth), set())
        while True:
            station = self.rng.randrange(0, 60)
            order = station * 10 + self.rng.choice((1, 3, 5, 7, 9) if gender == Gender.MALE else (0, 2, 4, 6, 8))
            if order and order not in used:
                used.add(order)
                return compose_id_number(region, birth, order)

    def surname(self) -> str:
        return self.draw(self.surnames)

    def given(self, gender: str) -> str:
        if self.rng.random() < 0.5:
            return self.draw(self.given_names[gender])
        first, second = (data.BOY_FIRST, data.BOY_SECOND) if gender == Gender.MALE else (data.GIRL_FIRST, data.GIRL_SECOND)
        a, b = self.rng.choice(first), self.rng.choice(second)
        return a + b if a != b else a

    # -- places ------------------------------------------------------------------------------------

    def build_places(self) -> None:
        L = Division.Level
        (pcode, pname), (ccode, cname), (kcode, kname) = data.PROVINCE, data.CITY, data.COUNTY
        self.divisions += [DemoDivision(pcode, pname, L.PROVINCE, None), DemoDivision(ccode, cname, L.CITY, pcode),
                           DemoDivision(kcode, kname, L.COUNTY, ccode)]
        for code, name, weight, count in data.TOWNSHIPS:
            self.township_code[name] = code
            self.divisions.append(DemoDivision(code, name, L.TOWNSHIP, kcode))
            stem = name[:-2] if name.endswith("街道") else name[:-1]
            if name in data.URBAN_COMMUNITIES:
                communities = data.URBAN_COMMUNITIES[name][: count - 3]
            elif name.endswith("镇") or self.rng.random() < 0.5:
                communities = [f"{stem}社区"]
            else:
                communities = []
            taken = set(communities)
            pool = [v for v in data.VILLAGE_NAMES if v not in taken and v[:-1] != stem]
            villages = [*communities, *self.rng.sample(pool, count - len(communities))]
            rows = []
            for i, vname in enumerate(villages):
                community = vname.endswith("社区")
                vcode = code + (f"{i + 1:03d}" if community else f"{200 + i - len(communities) + 1:03d}")
                share = (4.0 if name in data.URBAN_COMMUNITIES else 3.0) if community else self.rng.uniform(0.6, 1.4)
                rows.append(_Village(vcode, vname, name, community, share * weight))
                self.village_by_code[vcode] = rows[-1]
                self.divisions.append(DemoDivision(vcode, vname, L.VILLAGE, code))
            self.villages[name] = rows

    def seat(self, township: str) -> _Village:
        return self.villages[township][0]

    def add_school(self, name: str, type_: str, village: _Village) -> DemoSchool:
        school = DemoSchool(
            code="", name=name, type=type_, township=self.township_code[village.township], village=village.code,
            address=f"重庆市城口县{village.township}{village.name}", phone=f"023-59{self.rng.randrange(10**6):06d}",
        )
        self.schools.append(school)
        return school

    def build_schools(self) -> None:
        for name, type_, township in SECONDARY:
            self.add_school(name, type_, self.seat(township))
        self.add_school("城口县特殊教育学校", School.Type.SPECIAL, self.seat("葛城街道"))
        for name, (township, _) in URBAN_PRIMARY.items():
            village = self.rng.choice([v for v in self.villages[township] if v.community])
            self.add_school(name, School.Type.PRIMARY, village)
        nine_year = {township for name, type_, township in SECONDARY if type_ == School.Type.NINE_YEAR}
        rural = [t for _, t, _, _ in data.TOWNSHIPS if t not in data.URBAN_COMMUNITIES]
        for township in rural:
            if township not in nine_year:
                self.add_school(f"{township}中心小学", School.Type.PRIMARY, self.seat(township))
        free = {t: [v for v in self.villages[t][1:] if not v.community] for t in rural}
        for township, count in VILLAGE_PRIMARY.items():
            for village in self.rng.sample(free[township], count):
                free[township].remove(village)
                self.add_school(f"{township}{village.name[:-1]}小学", School.Type.PRIMARY, village)
        candidates = [v for t in rural for v in free[t]]
        for village in sorted(self.rng.sample(candidates, TEACHING_POINTS), key=lambda v: v.code):
            self.add_school(f"{village.township}{village.name}教学点", School.Type.TEACHING_POINT, village)
        # National school codes in the order of the township and village they stand in.
        rank = {t: i for i, t in enumerate(School.Type.values)}
        self.schools.sort(key=lambda s: (s.township, rank[s.type], s.village, s.name))
        self.schools = [
            DemoSchool(f"{COUNTY_CODE}{i:04d}", s.name, s.type, s.township, s.village, s.address, s.phone)
            for i, s in enumerate(self.schools, start=1)
        ]
        names = {code: name for name, code in self.township_code.items()}
        for school in self.schools:
            self.school_by_name[school.name] = school
            township = names[school.township]
            if school.type == School.Type.TEACHING_POINT:
                self.teaching_point[school.village] = school
            elif school.type == School.Type.PRIMARY and school.name.startswith(township):
                if school.name.endswith("中心小学"):
                    self.primary_of[township] = school
                else:
                    self.village_primary[school.village] = school
            elif school.type == School.Type.NINE_YEAR:
                self.primary_of[township] = school
        for secondary, townships in CATCHMENT.items():
            for township in townships:
                self.junior_of[township] = self.school_by_name[secondary]

    def pick_village(self, township: str | None = None) -> _Village:
        township = township or self.draw(self.townships)
        if township not in self.village_tables:
            villages = self.villages[township]
            self.village_tables[township] = _table(villages, [v.weight for v in villages])
        return self.draw(self.village_tables[township])

    def urban_primary(self, township: str = "葛城街道") -> DemoSchool:
        options = [(name, share) for name, (t, share) in URBAN_PRIMARY.items() if t == township]
        return self.school_by_name[self.weighted([n for n, _ in options], [s for _, s in options])]

    def primary_for(self, village: _Village) -> tuple[DemoSchool, bool]:
        """The primary school a child of `village` attends, and whether it studies in town (陪读)."""
        township = village.township
        if township in data.URBAN_COMMUNITIES:
            return self.urban_primary(township), False
        r = self.rng.random()
        if r < 0.10:
            return self.urban_primary(), True
        if village.code in self.village_primary and r < 0.85:
            return self.village_primary[village.code], False
        return self.primary_of[township], False

    def junior_for(self, village: _Village) -> tuple[DemoSchool, bool]:
        township = village.township
        if township not in data.URBAN_COMMUNITIES and self.rng.random() < 0.20:
            school = self.school_by_name["城口县第一中学" if self.rng.random() < 0.6 else "城口县第二中学"]
            return school, self.rng.random() < 0.5
        return self.junior_of[township], False

    # -- families and children -------------------------------------------------------------------

    def address(self, village: _Village) -> str:
        if village.community:
            return (f"重庆市城口县{village.township}{village.name}"
                    f"{self.rng.choice(data.STREETS)}{self.rng.randrange(1, 300)}号")
        return f"重庆市城口县{village.township}{village.name}{self.rng.randrange(1, 13)}组"

    def new_family(self, village: _Village, *, plain: bool = False) -> _Family:
        rng = self.rng
        surname, mother_surname = self.surname(), self.surname()
        r = rng.random()
        ethnicity = "01" if r < 0.955 else "15" if r < 0.99 else "06" if r < 0.998 else "03"
        family = _Family(
            village=village, address=self.address(village), surname=surname, mother_surname=mother_surname,
            father=surname + rng.choice(data.FATHER_NAMES), mother=mother_surname + rng.choice(data.MOTHER_NAMES),
            grandfather=surname + rng.choice(data.GRANDFATHER_NAMES),
            grandmother=self.surname() + rng.choice(data.GRANDMOTHER_NAMES),
            maternal_grandfather=mother_surname + rng.choice(data.GRANDFATHER_NAMES),
            maternal_grandmother=self.surname() + rng.choice(data.GRANDMOTHER_NAMES),
            phones=(self.phone(), self.phone(), self.phone() if rng.random() < 0.9 else ""), ethnicity=ethnicity,
        )
        if plain:
            return family
        r = rng.random()
        if r < ORPHAN:
            family.orphan = True
        elif r < ORPHAN + UNSUPPORTED:
            family.unsupported = True
        elif r < ORPHAN + UNSUPPORTED + SINGLE_PARENT:
            family.single = "mother" if rng.random() < 0.55 else "father"
            family.parents_away = rng.random() < 0.4
        else:
            family.parents_away = rng.random() < PARENTS_AWAY
        r = rng.random()
        if r < POVERTY:
            family.poverty_since = self.between(dt.date(2014, 10, 1), dt.date(2019, 12, 31))
        elif r < POVERTY + MONITORED:
            family.monitored_since = self.between(dt.date(2021, 3, 1), dt.date(self.year, 6, 30))
        if rng.random() < MINIMUM_ALLOWANCE:
            family.allowance_since = self.between(self.as_of - dt.timedelta(days=340), self.as_of - dt.timedelta(days=30))
        return family

    def family(self, village: _Village, birth: dt.date) -> _Family:
        """Brothers and sisters share a household: join one now and then, else start a new one."""
        families = self.families.setdefault(village.code, [])
        if families and self.rng.random() < 0.3:
            for _ in range(3):
                candidate = self.rng.choice(families)
                if len(candidate.births) < 3 and all(abs((birth - b).days) > 300 for b in candidate.births):
                    candidate.births.append(birth)
                    return candidate
        family = self.new_family(village)
        family.births.append(birth)
        families.append(family)
        return family

    def guardians(self, family: _Family, *, left_behind: bool) -> list[DemoGuardian]:
        R = Guardian.Relation
        father, mother, grand = family.phones
        if family.orphan or family.unsupported:
            people = [(family.grandmother, R.GRANDMOTHER, grand)] if self.rng.random() < 0.6 else [
                (family.surname + self.rng.choice(data.FATHER_NAMES), R.RELATIVE, father)]
            if family.unsupported:
                people.append((family.mother, R.MOTHER, ""))  # whereabouts unknown
        elif left_behind:
            if self.rng.random() < 0.8:
                first = (family.grandmother, R.GRANDMOTHER, grand) if self.rng.random() < 0.6 else (
                    family.grandfather, R.GRANDFATHER, grand)
            else:
                first = (family.maternal_grandmother, R.MATERNAL_GRANDMOTHER, grand)
            parent = (family.mother, R.MOTHER, mother) if family.single == "mother" else (family.father, R.FATHER, father)
            people = [first, parent]
        elif family.single:
            people = [(family.mother, R.MOTHER, mother) if family.single == "mother" else (family.father, R.FATHER, father)]
        else:
            people = [(family.father, R.FATHER, father), (family.mother, R.MOTHER, mother)]
            if self.rng.random() < 0.45:
                people.reverse()
        return [DemoGuardian(name, relation, phone, i) for i, (name, relation, phone) in enumerate(people, start=1)]

    def memberships(self, child: DemoChild, family: _Family, *, left_behind: bool) -> None:
        G, S = SpecialGroup, Source
        census = self.between(self.date(self.year, 9, 8), self.date(self.year, 9, 20))  # within 2 weeks of term
        add = child.memberships.append
        if left_behind:
            add(DemoMembership(G.LEFT_BEHIND, S.SCHOOL, census, note="父母均外出务工" if not family.single else "单亲外出务工"))
        if family.single:
            add(DemoMembership(G.SINGLE_PARENT, S.SCHOOL, census))
        if family.poverty_since:
            add(DemoMembership(G.POVERTY_REGISTERED, S.RURAL_REVITALISATION, family.poverty_since, note="脱贫户"))
        if family.monitored_since:
            add(DemoMembership(G.MONITORED_HOUSEHOLD, S.RURAL_REVITALISATION, family.monitored_since,
                               note=self.rng.choice(["脱贫不稳定户", "边缘易致贫户", "突发严重困难户"])))
        if family.allowance_since:
            add(DemoMembership(G.MINIMUM_LIVING_ALLOWANCE, S.CIVIL_AFFAIRS, family.allowance_since,
                               valid_until=family.allowance_since + dt.timedelta(days=365)))
        if family.orphan:
            add(DemoMembership(G.ORPHAN, S.CIVIL_AFFAIRS, self.between(child.birth_date, self.as_of)))
        if family.unsupported:
            add(DemoMembership(G.DE_FACTO_UNSUPPORTED, S.CIVIL_AFFAIRS, self.between(dt.date(2020, 1, 1), self.as_of)))
        if self.rng.random() < IN_DIFFICULTY:
            add(DemoMembership(G.CHILD_IN_DIFFICULTY, S.CIVIL_AFFAIRS, self.between(dt.date(2021, 1, 1), self.as_of),
                               note=self.rng.choice(["重病儿童", "家庭突发困难", "父母重残"])))

    def disable(self, child: DemoChild, *, severe: bool = False, mild: bool = False) -> None:
        C = Child.DisabilityCategory
        if severe:
            category = self.weighted([C.INTELLECTUAL, C.MULTIPLE, C.PHYSICAL, C.MENTAL], [5, 3, 2, 1])
            grade = self.weighted([1, 2], [4, 6])
        else:
            category = self.weighted([C.INTELLECTUAL, C.PHYSICAL, C.HEARING, C.SPEECH, C.VISUAL, C.MENTAL, C.MULTIPLE],
                                     [40, 20, 10, 8, 7, 5, 10])
            grade = self.weighted([3, 4], [1, 1]) if mild else self.weighted([1, 2, 3, 4], [15, 30, 30, 25])
        child.health = Child.Health.DISABLED
        child.disability_category, child.disability_grade = category, grade
        issued = self.between(child.birth_date + dt.timedelta(days=700), self.as_of - dt.timedelta(days=20))
        if child.id_number:
            child.disability_certificate_no = f"{child.id_number}{DISABILITY_CODES[category]}{grade}"
        child.memberships.append(DemoMembership(SpecialGroup.DISABLED, Source.DISABILITY, issued,
                                                note=f"{Child.DisabilityCategory(category).label}{grade}级"))

    def new_child(self, birth: dt.date, village: _Village, *, family: _Family | None = None,
                  region: str | None = None, left_behind_ok: bool = True) -> DemoChild:
        rng = self.rng
        gender = Gender.MALE if rng.random() < 0.53 else Gender.FEMALE
        family = family or self.family(village, birth)
        if region is None:
            region = COUNTY_CODE if rng.random() >= BORN_ELSEWHERE else rng.choice(data.OTHER_BIRTH_REGIONS)[0]
        surname = family.surname if rng.random() > 0.03 else family.mother_surname
        child = DemoChild(
            key=f"C{len(self.children) + 1:06d}", name=surname + self.given(gender), gender=gender, birth_date=birth,
            id_number=self.id_number(region, birth, gender), ethnicity=family.ethnicity,
        )
        child.household_village = child.current_village = village.code
        child.household_address = child.current_address = family.address
        r = rng.random()
        child.health = Child.Health.CHRONIC if r < 0.01 else Child.Health.FAIR if r < 0.04 else Child.Health.GOOD
        left_behind = left_behind_ok and family.parents_away and not (family.orphan or family.unsupported)
        child.guardians = self.guardians(family, left_behind=left_behind)
        self.memberships(child, family, left_behind=left_behind)
        self.children.append(child)
        return child

    def enrol(self, child: DemoChild, school: DemoSchool, grade: int, entry: dt.date, status: str = Status.ENROLLED,
              reason: str = "") -> DemoEnrolment:
        nsn = "G" + child.id_number if child.id_number else f"J{COUNTY_CODE}{child.birth_date:%Y%m%d}{child.key[-4:]}"
        enrolment = DemoEnrolment(school.code, grade, status, entry, nsn,
                                  history=[DemoStatusChange("", status, entry, reason)])
        child.enrolments.append(enrolment)
        return enrolment

    # -- the sources that know of each child ------------------------------------------------------

    def reference(self, source: str) -> tuple[str, dt.date]:
        if not self.references:
            self.references.update(self.source_references())
        return self.references[source]

    def source_references(self) -> dict[str, tuple[str, dt.date]]:
        y = self.year
        return {
            Source.HOUSEHOLD: (f"城口县公安局户籍人口（{y}年秋季学期核查）", self.date(y, 9, 5)),
            Source.REGISTRY: (f"全国中小学生学籍信息管理系统导出（{y}年{self.as_of.month}月）", self.date(y, 9, 25)),
            Source.DISABILITY: (f"城口县残联残疾儿童名单（{y}年）", self.date(y, 9, 12)),
            Source.CIVIL_AFFAIRS: (f"城口县民政局困境儿童等名单（{y}年）", self.date(y, 9, 15)),
            Source.RURAL_REVITALISATION: (f"城口县乡村振兴局脱贫户及监测户名单（{y}年）", self.date(y, 9, 15)),
            Source.SCHOOL: (f"学校填报（{y}年秋季学期）", self.date(y, 9, 20)),
            Source.ATTENDANCE: (f"考勤记录（{y}年{self.as_of.month}月）", self.as_of - dt.timedelta(days=3)),
            Source.STUDY_ELSEWHERE: (f"外地就读证明（{y}年秋季学期）", self.date(y, 10, 10)),
        }

    def add_source(self, child: DemoChild, source: str, fields: tuple[str, ...]) -> None:
        reference, on = self.reference(source)
        child.sources.append(DemoSource(source, fields, reference, on))

    def attach_sources(self) -> None:
        """Provenance: the police list knows the locally registered, the registry the enrolled,
        each department the children on its list (besides any source given explicitly)."""
        for child in self.children:
            wanted = []
            if child.household_village is not None and child.id_number:
                wanted.append((Source.HOUSEHOLD, HOUSEHOLD_FIELDS))
            if child.enrolments:
                wanted.append((Source.REGISTRY, REGISTRY_FIELDS))
            for source in dict.fromkeys(m.source for m in child.memberships if m.source != Source.SCHOOL):
                wanted.append((source, DISABILITY_FIELDS if source == Source.DISABILITY else DEPARTMENT_FIELDS))
            have = [s.source for s in child.sources]
            for source, fields in wanted:
                if source not in have:
                    self.add_source(child, source, fields)

    # -- the population on the roll ---------------------------------------------------------------

    def build_population(self) -> None:
        special = self.school_by_name["城口县特殊教育学校"]
        for grade, size in GRADE_SIZES.items():
            total = self.n(size)
            slots: list[tuple[DemoSchool | None, _Village | None]] = []
            if grade <= 4:
                for village_code, tp in self.teaching_point.items():
                    village = self.village_by_code[village_code]
                    for _ in range(self.n(self.rng.randint(3, 15))):
                        slots.append((tp, village if self.rng.random() < 0.85 else self.pick_village(village.township)))
            slots += [(special, None)] * self.n(SPECIAL_SCHOOL_PER_GRADE)
            slots += [(None, None)] * max(total - len(slots), 0)
            for school, village in slots[:total]:
                self.place_child(grade, school, village)

    def place_child(self, grade: int, school: DemoSchool | None, village: _Village | None) -> None:
        rng, junior = self.rng, grade >= 7
        village = village or self.pick_village()
        in_town = False
        if school is None:
            school, in_town = self.junior_for(village) if junior else self.primary_for(village)
        birth = self.birth_date(grade, junior_rate=junior)
        r = rng.random()
        if r < NO_HOUSEHOLD:  # never registered (黑户): no ID, only the registry knows the child
            child = self.new_child(birth, village)
            child.id_number, child.household_village, child.household_address = None, None, ""
        elif r < NO_HOUSEHOLD + HOUSEHOLD_ELSEWHERE:  # 随迁: registered in the parents' home county
            code, place, towns = rng.choice(data.OUTSIDE_HOUSEHOLDS)
            child = self.new_child(birth, village, region=code)
            child.household_village = None
            child.household_address = f"{place}{rng.choice(towns)}{rng.choice(data.VILLAGE_NAMES)}{rng.randrange(1, 10)}组"
            child.memberships.append(DemoMembership(SpecialGroup.MIGRANT, Source.SCHOOL, self.reference(Source.SCHOOL)[1]))
        else:
            child = self.new_child(birth, village, left_behind_ok=not in_town)
        if in_town:  # a parent rents in the county town so the child can study there (陪读)
            township = "葛城街道" if school.township == self.township_code["葛城街道"] else "复兴街道"
            town = self.rng.choice([v for v in self.villages[township] if v.community])
            child.current_village, child.current_address = town.code, self.address(town)
        self.enrol_history(child, school, grade, village)

    def enrol_history(self, child: DemoChild, school: DemoSchool, grade: int, village: _Village) -> None:
        rng, y = self.rng, self.year
        first_year = y - grade + 1
        if school.type == School.Type.SPECIAL:
            self.disable(child, severe=rng.random() < 0.3)
            status = Status.HOME_TEACHING if child.disability_grade <= 2 and rng.random() < 0.4 else Status.ENROLLED
            self.enrol(child, school, grade, self.entry(first_year), status)
            return
        if grade >= 7 and school.type != School.Type.NINE_YEAR:
            primary, _ = self.primary_for(village)
            previous = self.enrol(child, primary, 6, self.entry(first_year))
            previous.move(Status.GRADUATED, self.date(y - grade + 7, 7, 1), "小学毕业")
            first_year = y - grade + 7
        enrolment = None
        r = rng.random()
        tp = self.teaching_point.get(village.code)
        if 5 <= grade <= 6 and tp is not None and school.type == School.Type.PRIMARY and r < 0.7:
            earlier = self.enrol(child, tp, 4, self.entry(first_year))
            moved = self.date(y - grade + 5, 7, 10)
            earlier.move(Status.TRANSFERRED_OUT, moved, f"教学点四年级结业，转入{school.name}")
            enrolment = self.enrol(child, school, grade, self.entry(y - grade + 5), Status.TRANSFERRED_IN,
                                   f"由{tp.name}转入")
        elif r < RETURNED and child.household_village is not None:
            entry = self.weighted([self.entry(y), self.date(y, 3, 1), self.entry(y - 1)], [5, 3, 2])
            entry = max(entry, self.entry(first_year))
            enrolment = self.enrol(child, school, grade, entry, Status.TRANSFERRED_IN,
                                   f"由{rng.choice(data.AWAY_PLACES)}随父母返乡转入")
            if (self.as_of - entry).days < 366:
                child.memberships.append(DemoMembership(SpecialGroup.RETURNED, Source.SCHOOL, entry))
        if enrolment is None:
            enrolment = self.enrol(child, school, grade, self.entry(first_year))
        if rng.random() < DISABLED_IN_SCHOOL:
            r = rng.random()
            self.disable(child, severe=0.6 <= r < 0.8, mild=r >= 0.8)
            if r < 0.6:
                enrolment.move(Status.INCLUSIVE, self.between(enrolment.entry_date, enrolment.entry_date + dt.timedelta(60)),
                               "经县残疾儿童入学评估，随班就读")
            elif r < 0.8:
                enrolment.move(Status.HOME_TEACHING, self.between(enrolment.entry_date, self.as_of),
                               "重度残疾不能到校，经评估安排送教上门")
        elif rng.random() < SUSPENDED:
            since = self.between(max(enrolment.entry_date + dt.timedelta(30), self.entry(y - 1)), self.as_of)
            enrolment.move(Status.SUSPENDED, since, "因病休学（附县人民医院诊断证明）")
            self.decoys["approved_absence"].append(child.key)
            self.used.add(child.key)

    def build_classes(self) -> None:
        groups: dict[tuple[str, int], list[DemoEnrolment]] = {}
        for child in self.children:
            for enrolment in child.enrolments:
                if enrolment.status in OPEN_STATUSES:
                    groups.setdefault((enrolment.school, enrolment.grade), []).append(enrolment)
        types = {s.code: s.type for s in self.schools}
        for school, grade in sorted(groups):
            members = groups[(school, grade)]
            self.rng.shuffle(members)
            cap = {School.Type.TEACHING_POINT: 10**6, School.Type.SPECIAL: 12}.get(types[school], 50)
            count = math.ceil(len(members) / cap)
            for i, enrolment in enumerate(members):
                enrolment.class_number = i % count + 1
            self.class_counts[(school, grade)] = count
            self.classes += [DemoClass(school, grade, number) for number in range(1, count + 1)]

    # -- findings a matcher should make (DESIGN.md §6), and look-alikes it should not -------------

    def pick_enrolled(self, count: int, *, grades=range(1, 10), weights=None) -> list[DemoChild]:
        """Local children on the roll, not disabled, not yet used for anything special."""
        pool = [
            c for c in self.children
            if c.key not in self.used and c.id_number and c.household_village and not c.disability_category
            and len(c.enrolments) >= 1 and c.enrolments[-1].status in (Status.ENROLLED, Status.TRANSFERRED_IN)
            and c.enrolments[-1].grade in grades
        ]
        if len(pool) < count:
            raise ValueError(f"too few children on the roll for {count} anomalies; raise the scale")
        if weights is not None:
            picked: list[DemoChild] = []
            while len(picked) < count:
                child = self.weighted(pool, [weights[c.enrolments[-1].grade] for c in pool])
                if child.key not in self.used:
                    picked.append(child)
                    self.used.add(child.key)
            return picked
        picked = self.rng.sample(pool, count)
        self.used.update(c.key for c in picked)
        return picked

    def eligible_birth(self, grades=range(1, 10)) -> tuple[dt.date, int]:
        grade = self.rng.choice(list(grades))
        return self.between(*self.birth_window(grade)), grade

    def plain_child(self, birth: dt.date, *, village: _Village | None = None) -> DemoChild:
        village = village or self.pick_village()
        return self.new_child(birth, village, family=self.new_family(village, plain=True))

    def build_anomalies(self) -> None:
        rng, y, A = self.rng, self.year, self.anomalies
        size = {name: self.n(count, 3) for name, count in ANOMALY_SIZES.items()}

        for _ in range(size["out_of_school"]):
            birth, grade = self.eligible_birth([1, 1, 2, 3, 5, 6, 7, 7, 8, 8, 9, 9])
            child = self.plain_child(birth)
            reason = self.weighted(["监护人不重视(读书无用)", "厌学/学习困难", "外出务工", "早婚早育", "其他"],
                                   [3, 3, 3 if grade >= 7 else 0, 1 if grade >= 8 else 0, 1])
            child.truth = {"reason": reason, "age_grade": grade}
            A["out_of_school"].append(child.key)

        junior_heavy = {g: w for g, w in zip(range(1, 10), [1, 1, 1, 2, 3, 5, 8, 10, 10], strict=True)}
        for i, child in enumerate(self.pick_enrolled(size["suspected_dropout"], weights=junior_heavy)):
            enrolment = child.enrolments[-1]
            if i % 3 == 0:  # already reported as dropped out this term
                since = self.between(max(self.as_of - dt.timedelta(days=40), enrolment.status_since),
                                     self.as_of - dt.timedelta(days=3))
                reason = self.weighted(data.DROPOUT_REASONS[:3] + data.DROPOUT_REASONS[5:7], [4, 2, 4, 2, 2])
                enrolment.move(Status.DROPPED_OUT, since, reason)
                child.truth = {"absent_days": (self.as_of - since).days, "reason": reason}
            else:
                child.truth = {"absent_days": rng.randint(3, 25)}
            A["suspected_dropout"].append(child.key)

        for child in self.pick_enrolled(size["ghost_registration"]):
            away = rng.random() < 0.7
            if away:  # went with the parents; the registry was never transferred (空挂学籍)
                child.current_village, child.current_address = None, rng.choice(data.AWAY_PLACES)
            child.truth = {"attends": None, "where": child.current_address if away else "在家"}
            A["ghost_registration"].append(child.key)

        for child in self.pick_enrolled(size["duplicate_enrolment"]):
            first = child.enrolments[-1]
            options = [s for s in self.schools if s.code != first.school and s.type != School.Type.SPECIAL
                       and (s.code, first.grade) in self.class_counts]
            second_school = rng.choice(options)
            entry = self.between(self.entry(y), self.entry(y) + dt.timedelta(days=14))
            second = self.enrol(child, second_school, first.grade, entry,
                                rng.choice([Status.TRANSFERRED_IN, Status.ENROLLED]), "转入未在原校办理转出")
            second.class_number = rng.randint(1, self.class_counts[(second_school.code, first.grade)])
            child.truth = {"attends": second_school.code}
            A["duplicate_enrolment"].append(child.key)

        for i, child in enumerate(self.pick_enrolled(size["identity_conflict"])):
            A["identity_conflict"].append(self.split_identity(child, i % 5))

        for _ in range(size["unregistered_attendance"]):
            school = rng.choice([s for s in self.schools if s.type in (School.Type.PRIMARY, School.Type.JUNIOR)])
            grade = rng.choice(list(School.GRADES[school.type]))
            birth = self.between(*self.birth_window(grade))
            village = self.pick_village(self.village_by_code[school.village].township)
            code, place, towns = rng.choice(data.OUTSIDE_HOUSEHOLDS)
            child = self.new_child(birth, village, family=self.new_family(village, plain=True), region=code)
            child.household_village = None
            child.household_address = f"{place}{rng.choice(towns)}{rng.choice(data.VILLAGE_NAMES)}{rng.randrange(1, 10)}组"
            if rng.random() < 0.4:  # the school only wrote down name and birth date
                child.id_number = None
            if rng.random() < 0.5:
                self.add_source(child, Source.ATTENDANCE, ATTENDANCE_FIELDS)
            else:
                self.add_source(child, Source.SCHOOL, SCHOOL_FIELDS)
            child.truth = {"attends": school.code, "grade": grade}
            A["unregistered_attendance"].append(child.key)

        for _ in range(size["transition_gap"]):
            birth = self.birth_date(7, junior_rate=True)
            child = self.plain_child(birth)
            primary, _ = self.primary_for(self.village_by_code[child.household_village])
            enrolment = self.enrol(child, primary, 6, self.entry(y - 6))
            enrolment.move(Status.GRADUATED, self.date(y, 7, 1), "小学毕业")
            child.truth = {"reason": rng.choice(["外出务工", "在家务农", "随父母外出未办转学", "厌学/学习困难"])}
            A["transition_gap"].append(child.key)

        for i in range(size["special_group_unplaced"]):
            birth, _ = self.eligible_birth()
            village = self.pick_village()
            family = self.new_family(village, plain=True)
            family.orphan = i % 10 >= 7
            child = self.new_child(birth, village, family=family)
            if family.orphan:
                child.truth = {"reason": "监护人不重视(读书无用)"}
            else:
                self.disable(child, severe=rng.random() < 0.6)
                child.truth = {"reason": "家长不愿送教上门" if rng.random() < 0.5 else "身体原因/残疾"}
            A["special_group_unplaced"].append(child.key)

    def split_identity(self, registry: DemoChild, variant: int) -> str:
        """One person, two records: the police's (correct) and the registry's (mistyped).

        The enrolled record becomes the registry's version; a new record carries the police
        list's values. Returns the key of the registry's record (its `same_as` is the other).
        """
        household = DemoChild(
            key=f"C{len(self.children) + 1:06d}", name=registry.name, gender=registry.gender,
            birth_date=registry.birth_date, id_number=registry.id_number, ethnicity=registry.ethnicity,
            health=registry.health, household_village=registry.household_village,
            household_address=registry.household_address, current_village=registry.current_village,
            current_address=registry.current_address, guardians=list(registry.guardians),
            memberships=[m for m in registry.memberships if m.source != Source.SCHOOL],
        )
        self.children.append(household)
        registry.memberships = [m for m in registry.memberships if m.source == Source.SCHOOL]
        number = registry.id_number
        registry.id_number = None
        heard = homophone(registry.name)
        if variant == 1 and heard is None:
            variant = 0
        if variant in (0, 3):  # one digit mistyped, or two neighbours swapped: the check digit fails
            i = self.rng.randrange(6, 16)
            if variant == 0:
                digits = [d for d in "0123456789" if d != number[i]]
                raw = number[:i] + self.rng.choice(digits) + number[i + 1:]
            else:
                while number[i] == number[i + 1]:
                    i = self.rng.randrange(6, 16)
                raw = number[:i] + number[i + 1] + number[i] + number[i + 2:]
            registry.id_number_raw = raw
        if variant in (1, 3) and heard:
            registry.name = heard
        if variant == 2:
            b = registry.birth_date
            if b.day <= 12 and b.day != b.month:
                registry.birth_date = b.replace(month=b.day, day=b.month)
            else:
                registry.gender = Gender.FEMALE if registry.gender == Gender.MALE else Gender.MALE
        if variant == 4:
            registry.gender = Gender.FEMALE if registry.gender == Gender.MALE else Gender.MALE
        for enrolment in registry.enrolments:
            enrolment.national_student_number = f"L{enrolment.school}{self.rng.randrange(10**5):05d}"
        registry.same_as = household.key
        return registry.key

    def build_decoys(self) -> None:
        rng, y, D = self.rng, self.year, self.decoys
        for _ in range(self.n(DECOY_SIZES["study_elsewhere"], 3)):
            birth, grade = self.eligible_birth()
            child = self.plain_child(birth)
            place = rng.choice(data.AWAY_PLACES)
            child.current_village, child.current_address = None, place
            self.add_source(child, Source.STUDY_ELSEWHERE, STUDY_ELSEWHERE_FIELDS)
            town = place.rsplit("市", 1)[-1] or place[-3:]
            kind = rng.choice(["第一小学", "第二小学", "实验小学", "中心小学"] if grade <= 6 else ["第一初级中学", "实验中学", "第二中学"])
            child.external_study = DemoExternalStudy(f"{town}{kind}", place, "G" + child.id_number,
                                                     self.reference(Source.STUDY_ELSEWHERE)[1])
            child.truth = {"attends": "elsewhere", "where": child.current_address}
            D["study_elsewhere"].append(child.key)
        for _ in range(self.n(DECOY_SIZES["under_age"], 2)):
            child = self.plain_child(self.between(dt.date(y - 6, 9, 1), dt.date(y - 6, 12, 31)))
            D["under_age"].append(child.key)
        for _ in range(self.n(DECOY_SIZES["completed_compulsory"], 2)):
            child = self.plain_child(self.birth_date(9))
            school, _ = self.junior_for(self.village_by_code[child.household_village])
            enrolment = self.enrol(child, school, 9, self.entry(y - 3))
            enrolment.move(Status.GRADUATED, self.date(y, 7, 1), "初中毕业")
            D["completed_compulsory"].append(child.key)
        for _ in range(self.n(DECOY_SIZES["deferred"], 1)):
            child = self.plain_child(self.birth_date(1))
            self.disable(child, severe=True)
            school, _ = self.primary_for(self.village_by_code[child.household_village])
            self.enrol(child, school, 1, self.entry(y), Status.DEFERRED, "经县教委批准延缓入学一年（附医院证明）")
            D["deferred"].append(child.key)
            D["approved_absence"].append(child.key)

    def build(self) -> DemoCounty:
        self.build_places()
        self.build_schools()
        self.build_population()
        self.build_classes()
        self.build_anomalies()
        self.build_decoys()
        self.attach_sources()
        return DemoCounty(self.seed, self.scale, self.as_of, self.divisions, self.schools, self.classes, self.children,
                          self.anomalies, self.decoys)


def _table(items: list, weights: list[float]) -> tuple[list, list[float]]:
    return items, list(accumulate(weights))


def homophone(name: str) -> str | None:
    """The same name as a typist who heard it might write it (张晓明 → 张小明), or None if we know
    no same-sounding character for any of its characters."""
    for i in [*range(len(name) - 1, 0, -1), 0]:
        if name[i] in data.HOMOPHONES:
            heard = name[:i] + data.HOMOPHONES[name[i]] + name[i + 1:]
            if name_pinyin(heard) == name_pinyin(name):  # 朝阳 is chaoyang, 朝洋 zhaoyang: not that one
                return heard
    return None
