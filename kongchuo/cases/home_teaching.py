"""送教上门 (DESIGN.md §5; seed 002 三, seed 004): plans, session records, holiday contacts, and the
weekly compliance check.

The rule, per county (CaseRules, defaults from the seeds): in every teaching week at least
`home_teaching_sessions_per_week` (1) sessions of at least `home_teaching_min_hours` (2) class hours
each; in the county's holiday weeks (`CaseRules.holidays`, default 寒假 20 Jan–20 Feb and 暑假
10 Jul–31 Aug) a contact record instead (a session counts as contact too).

Weeks run Monday to Sunday. A week is judged when the plan covers at least three of its weekdays
(a plan starting on a Thursday is not faulted for that week); it is a holiday week when fewer than
three of those weekdays are outside the holidays. The current week is "in progress" until it is
met or over.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from kongchuo.audit.services import audit_record
from kongchuo.cases.models import (
    OPEN_STATES,
    Attachment,
    Case,
    CaseRules,
    HolidayContact,
    HomeTeachingPlan,
    HomeTeachingSession,
    State,
    county_rules,
    is_holiday,
    rules_by_county,
)
from kongchuo.cases.services import CASE_WORKERS, _need_role, _store_attachment
from kongchuo.core.masking import mask_id_number
from kongchuo.enrolments.services import active_enrolment

MIN_WEEKDAYS = 3  # weekdays of a week the plan (or the teaching calendar) must cover for the week to count
RECENT_WEEKS = 4  # completed weeks the to-do board looks back over
PLAN_FIELDS = ["teachers", "content", "weekdays", "class_hours", "schedule_note", "start_date", "end_date", "certificate_no"]


class WeekStatus(models.TextChoices):
    OK = "ok", "达标"
    MISSING = "missing", "未送教"
    TOO_SHORT = "too_short", "学时或次数不足"
    HOLIDAY_CONTACT_MISSING = "holiday_contact_missing", "假期未联系"
    IN_PROGRESS = "in_progress", "本周进行中"


@dataclass(frozen=True)
class Week:
    start: dt.date
    end: dt.date
    holiday: bool
    status: str
    sessions: int
    hours: Decimal
    contacts: int

    @property
    def label(self) -> str:
        return WeekStatus(self.status).label

    @property
    def compliant(self) -> bool:
        return self.status in (WeekStatus.OK, WeekStatus.IN_PROGRESS)


def hours(value) -> str:
    """Class hours as people write them: 2, 1.5 (not 2.0)."""
    return format(Decimal(value).normalize(), "f")


def _week_kind(monday: dt.date, plan: HomeTeachingPlan, holidays) -> bool | None:
    """None: the week is not judged; True: a holiday week; False: a teaching week."""
    covered = [d for d in (monday + dt.timedelta(days=n) for n in range(5)) if plan.is_active(d)]
    if len(covered) < MIN_WEEKDAYS:
        return None
    return sum(1 for d in covered if not is_holiday(d, holidays)) < MIN_WEEKDAYS


def plan_weeks(plan: HomeTeachingPlan, *, rules: CaseRules, today: dt.date, count: int = 8, sessions=None, contacts=None) -> list[Week]:
    """The plan's last `count` judged weeks up to the current one, newest first."""
    sessions = list(plan.sessions.all()) if sessions is None else sessions
    contacts = list(plan.contacts.all()) if contacts is None else contacts
    last = min(today, plan.end_date) if plan.end_date else today
    monday = last - dt.timedelta(days=last.weekday())
    weeks: list[Week] = []
    while len(weeks) < count and monday + dt.timedelta(days=6) >= plan.start_date:
        sunday = monday + dt.timedelta(days=6)
        holiday = _week_kind(monday, plan, rules.holidays)
        if holiday is not None:
            held = [s for s in sessions if monday <= s.date <= sunday]
            talks = sum(1 for c in contacts if monday <= c.date <= sunday)
            qualifying = sum(1 for s in held if s.class_hours >= rules.home_teaching_min_hours)
            over = sunday < today
            if holiday:
                status = WeekStatus.OK if held or talks else WeekStatus.HOLIDAY_CONTACT_MISSING if over else WeekStatus.IN_PROGRESS
            elif qualifying >= rules.home_teaching_sessions_per_week:
                status = WeekStatus.OK
            else:
                status = WeekStatus.IN_PROGRESS if not over else WeekStatus.TOO_SHORT if held else WeekStatus.MISSING
            weeks.append(Week(monday, sunday, holiday, status, len(held), sum((s.class_hours for s in held), Decimal(0)), talks))
        monday -= dt.timedelta(days=7)
    return weeks


@dataclass(frozen=True)
class PlanCheck:
    plan: HomeTeachingPlan
    weeks: list[Week]

    @property
    def problems(self) -> list[Week]:
        return [w for w in self.weeks if not w.compliant]


def _with_recent_records(plans, today: dt.date, weeks: int):
    since = today - dt.timedelta(days=7 * (weeks + 1))
    return plans.prefetch_related(
        Prefetch("sessions", queryset=HomeTeachingSession.objects.filter(date__gte=since)),
        Prefetch("contacts", queryset=HolidayContact.objects.filter(date__gte=since)),
    )


def check_plans(plans, *, today: dt.date, weeks: int = RECENT_WEEKS) -> list[PlanCheck]:
    """Plans running in the last `weeks` completed weeks (an already scoped queryset), each with its weeks."""
    window_start = today - dt.timedelta(days=today.weekday() + 7 * weeks)
    plans = list(
        _with_recent_records(plans.filter(Q(end_date__isnull=True) | Q(end_date__gte=window_start), start_date__lte=today), today, weeks)
    )
    rules = rules_by_county(p.county_id for p in plans)
    return [
        PlanCheck(
            p,
            plan_weeks(
                p, rules=rules[p.county_id], today=today, count=weeks + 1, sessions=list(p.sessions.all()), contacts=list(p.contacts.all())
            ),
        )
        for p in plans
    ]


def _plans_running_on(day: dt.date):
    """The database twin of HomeTeachingPlan.is_active(day)."""
    return HomeTeachingPlan.objects.filter(Q(end_date__isnull=True) | Q(end_date__gte=day), start_date__lte=day)


def running_plans(child_ids, today: dt.date, *, weeks: int):
    """Plans running today for these children (latest start wins), with `weeks` weeks of records."""
    plans = _plans_running_on(today).filter(child_id__in=child_ids)
    return _with_recent_records(plans.order_by("start_date", "pk"), today, weeks)


def cases_without_plan(cases, today: dt.date):
    """Cases in 送教上门 whose child has no plan running today."""
    return cases.filter(state=State.HOME_TEACHING).exclude(child__in=_plans_running_on(today).values("child_id"))


def plans_for_child(child, *, today: dt.date, count: int = 8) -> list[PlanCheck]:
    """The child's plans, newest first, each with its recent weeks (for the case page)."""
    plans = list(child.home_teaching_plans.select_related("school").prefetch_related("sessions", "contacts", "certificate_scans"))
    rules = rules_by_county(p.county_id for p in plans)
    return [PlanCheck(p, plan_weeks(p, rules=rules[p.county_id], today=today, count=count)) for p in plans]


# --- writes -----------------------------------------------------------------------------------


def _check_plan(plan: HomeTeachingPlan, rules: CaseRules) -> None:
    plan.full_clean(exclude=["child", "county", "created_by"])
    if plan.class_hours < rules.home_teaching_min_hours:
        raise ValidationError({"class_hours": f"每次送教不少于{hours(rules.home_teaching_min_hours)}学时（本县规则）"})
    overlapping = (
        HomeTeachingPlan.objects.filter(child=plan.child_id)
        .exclude(pk=plan.pk)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=plan.start_date))
    )
    if plan.end_date:
        overlapping = overlapping.filter(start_date__lte=plan.end_date)
    if other := overlapping.first():
        raise ValidationError(f"该儿童已有时间重叠的送教上门方案（{other.start_date:%Y-%m-%d} 起），请先填写原方案的结束日期")


def school_for_child(child):
    """The school that sends the teachers: the child's active enrolment, else its open case's school."""
    active = active_enrolment(child)
    if active:
        return active.school
    case = Case.objects.filter(child=child, state__in=OPEN_STATES, school__isnull=False).select_related("school").first()
    return case.school if case else child.current_school


def _snapshot(source, fields) -> dict:
    """Field values for the audit log. A 残疾证号 is the ID number plus two digits: logged masked."""
    values = {f: source[f] if isinstance(source, dict) else getattr(source, f) for f in fields}
    if values.get("certificate_no"):
        values["certificate_no"] = mask_id_number(values["certificate_no"])
    return values


def _store_scan(plan: HomeTeachingPlan, upload) -> Attachment:
    return _store_attachment(upload, plan=plan)


@transaction.atomic
def plan_create(
    *,
    actor,
    child,
    teachers: str,
    content: str,
    weekdays: list[int],
    class_hours: Decimal,
    start_date: dt.date,
    certificate_no: str = "",
    end_date: dt.date | None = None,
    schedule_note: str = "",
    teacher_users=(),
    certificate=None,
) -> HomeTeachingPlan:
    """A 送教上门 plan for a disabled child; linked to the child's open case when there is one.
    Without a certificate number the one on the child's record is used."""
    _need_role(actor, CASE_WORKERS, "制定送教上门方案")
    if not child.disability_category:
        raise ValidationError("送教上门仅适用于登记了残疾类别的儿童（请先在学生档案中登记残疾类别、等级和残疾证号）")
    certificate_no = certificate_no.strip() or child.disability_certificate_no
    if not certificate_no:
        raise ValidationError({"certificate_no": "请填写残疾证号（或县级以上医院诊断证明编号）"})
    case = Case.objects.filter(child=child, state__in=OPEN_STATES).first()
    school = school_for_child(child)
    plan = HomeTeachingPlan(
        child=child,
        case=case,
        county=child.county,
        township=child.township or (school.township if school else None),
        school=school,
        teachers=teachers,
        content=content,
        weekdays=sorted({int(d) for d in weekdays}),
        class_hours=class_hours,
        schedule_note=schedule_note,
        start_date=start_date,
        end_date=end_date,
        certificate_no=certificate_no,
        created_by=actor,
    )
    rules = county_rules(child.county_id)
    _check_plan(plan, rules)
    plan.save()
    plan.teacher_users.set(teacher_users)
    if certificate is not None:
        _store_scan(plan, certificate)
    audit_record(
        actor=actor,
        action="create",
        obj=plan,
        chain=plan.county.prefix,
        summary=f"送教上门方案：{child.name}，{plan.weekday_labels}每次{hours(plan.class_hours)}学时，{start_date:%Y-%m-%d} 起",
        after=_snapshot(plan, PLAN_FIELDS) | {"case": case.number if case else None, "certificate_scan": certificate is not None},
    )
    return plan


@transaction.atomic
def plan_update(*, actor, plan: HomeTeachingPlan, teacher_users=None, certificate=None, **values) -> HomeTeachingPlan:
    """Change the plan (schedule, teachers, end date …) or add a certificate scan; audited field by field."""
    _need_role(actor, CASE_WORKERS, "修改送教上门方案")
    plan = HomeTeachingPlan.objects.select_for_update().select_related("county", "child").get(pk=plan.pk)
    before = {f: getattr(plan, f) for f in PLAN_FIELDS}
    before_users = sorted(plan.teacher_users.values_list("pk", flat=True))
    for field, value in values.items():
        if field not in PLAN_FIELDS:
            raise ValueError(f"plan_update does not change {field}")
        setattr(plan, field, sorted({int(d) for d in value}) if field == "weekdays" else value)
    _check_plan(plan, county_rules(plan.county_id))
    changed = [f for f in PLAN_FIELDS if before[f] != getattr(plan, f)]
    if changed:
        plan.save(update_fields=changed)
    after_users = before_users
    if teacher_users is not None:
        plan.teacher_users.set(teacher_users)
        after_users = sorted(u.pk for u in teacher_users)
    scan = _store_scan(plan, certificate) if certificate is not None else None
    if changed or after_users != before_users or scan:
        audit_record(
            actor=actor,
            action="update",
            obj=plan,
            chain=plan.county.prefix,
            summary=f"修改送教上门方案：{plan.child.name}" + ("（上传残疾证扫描件）" if scan else ""),
            before=_snapshot(before, changed) | ({"teacher_users": before_users} if after_users != before_users else {}),
            after=_snapshot(plan, changed)
            | ({"teacher_users": after_users} if after_users != before_users else {})
            | ({"certificate_scan": scan.file_name} if scan else {}),
        )
    return plan


def _check_record_date(plan: HomeTeachingPlan, day: dt.date) -> None:
    if day > timezone.localdate():
        raise ValidationError({"date": "日期不能晚于今天"})
    if not plan.is_active(day):
        raise ValidationError({"date": "该日期不在送教上门方案的起止日期内"})


@transaction.atomic
def session_add(
    *,
    actor,
    plan: HomeTeachingPlan,
    date: dt.date,
    class_hours: Decimal,
    teachers: str,
    content: str,
    mode: str = HomeTeachingSession.Mode.HOME,
    files=(),
) -> HomeTeachingSession:
    """One 送教 visit with its photos. Sessions shorter than the rule are kept, and show as 学时不足."""
    _need_role(actor, CASE_WORKERS, "登记送教上门记录")
    plan = HomeTeachingPlan.objects.select_related("county", "child").get(pk=plan.pk)
    _check_record_date(plan, date)
    session = HomeTeachingSession(
        plan=plan, date=date, class_hours=class_hours, mode=mode, teachers=teachers, content=content, recorded_by=actor
    )
    session.full_clean()
    if not Decimal("0") < class_hours <= Decimal("8"):
        raise ValidationError({"class_hours": "学时应在0.5到8之间"})
    session.save()
    for upload in files:
        _store_attachment(upload, session=session)
    audit_record(
        actor=actor,
        action="create",
        obj=session,
        chain=plan.county.prefix,
        summary=f"送教上门记录：{plan.child.name} {date:%Y-%m-%d} {session.get_mode_display()} {hours(class_hours)}学时（{teachers}）",
        after={"date": date.isoformat(), "class_hours": str(class_hours), "mode": mode, "teachers": teachers, "photos": len(files)},
    )
    return session


@transaction.atomic
def contact_add(*, actor, plan: HomeTeachingPlan, date: dt.date, method: str, notes: str) -> HolidayContact:
    """寒暑假联系记录."""
    _need_role(actor, CASE_WORKERS, "登记假期联系记录")
    plan = HomeTeachingPlan.objects.select_related("county", "child").get(pk=plan.pk)
    _check_record_date(plan, date)
    contact = HolidayContact(plan=plan, date=date, method=method, notes=notes, recorded_by=actor)
    contact.full_clean()
    contact.save()
    audit_record(
        actor=actor,
        action="create",
        obj=contact,
        chain=plan.county.prefix,
        summary=f"假期联系记录：{plan.child.name} {date:%Y-%m-%d} {contact.get_method_display()}",
        after={"date": date.isoformat(), "method": method, "notes": notes},
    )
    return contact
