"""The demo county's attendance: derived from the generated truth, deterministic per seed.

Attendance lists hold only the days a child was not plainly present. From the truth: a suspected
dropout is absent on its last `absent_days` school days; a ghost registration on every school day
of the term so far; an unregistered pupil shows up as late or on leave at the school it attends;
and a sprinkle of ordinary children have a sick day or two, as every school does.
"""

import datetime as dt
import random
from dataclasses import dataclass

from kongchuo.demo.generator import DemoCounty
from kongchuo.enrolments.models import ACTIVE_STATUSES

TERM_DAYS = 60  # how far back the demo's attendance reaches


@dataclass(frozen=True)
class DemoAttendance:
    child: str | None  # demo key; None for a pupil nobody registered anywhere
    school: str  # school code
    date: dt.date
    status: str  # absent / leave / late
    name: str
    national_student_number: str
    id_number: str


def school_days(as_of: dt.date, days: int = TERM_DAYS) -> list[dt.date]:
    """Weekdays in the window ending on `as_of` (the demo's calendar has no holidays inside it)."""
    start = as_of - dt.timedelta(days=days)
    return [start + dt.timedelta(days=n) for n in range(1, days + 1) if (start + dt.timedelta(days=n)).weekday() < 5]


def generate_attendance(ds: DemoCounty) -> list[DemoAttendance]:
    rng = random.Random(f"kongchuo-demo-attendance:{ds.seed}")
    days = school_days(ds.as_of)
    rows: list[DemoAttendance] = []

    def active(child):
        return next((e for e in reversed(child.enrolments) if e.status in ACTIVE_STATUSES), None)

    def add(child, enrolment, day, status):
        rows.append(
            DemoAttendance(child.key, enrolment.school, day, status, child.name, enrolment.national_student_number, child.id_number or "")
        )

    special = set()
    for key in ds.anomalies.get("suspected_dropout", []):
        child = ds.child(key)
        enrolment = active(child)
        if enrolment is None:  # already recorded as 辍学 in the registry
            continue
        special.add(key)
        for day in days[-min(child.truth.get("absent_days", 5), len(days)) :]:
            add(child, enrolment, day, "absent")
    for key in ds.anomalies.get("ghost_registration", []):
        child = ds.child(key)
        enrolment = active(child)
        if enrolment is not None:
            special.add(key)
            for day in days:
                add(child, enrolment, day, "absent")
    for key in ds.anomalies.get("unregistered_attendance", []):
        child = ds.child(key)
        school = child.truth.get("attends")
        special.add(key)
        for day in rng.sample(days, 2):
            rows.append(DemoAttendance(key, school, day, rng.choice(["late", "leave"]), child.name, "", child.id_number or ""))
    ordinary = [c for c in ds.children if c.key not in special and active(c) is not None]
    for child in rng.sample(ordinary, k=min(len(ordinary), max(1, len(ordinary) // 60))):
        enrolment = active(child)
        for day in sorted(rng.sample(days, rng.randint(1, 2))):
            add(child, enrolment, day, rng.choice(["absent", "leave", "leave", "late"]))
    rows.sort(key=lambda r: (r.date, r.school, r.name))
    return rows
