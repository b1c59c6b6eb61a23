"""What is due on each open case, by the county's rules (DESIGN.md §5): the to-do lists and the overdue board."""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from kongchuo.cases.home_teaching import WeekStatus, hours, plan_weeks, running_plans
from kongchuo.cases.models import OPEN_STATES, Case, CaseRules, State, rules_by_county
from kongchuo.matching.rules import weekdays

S = State
MISSED = {
    WeekStatus.MISSING: "未送教上门",
    WeekStatus.TOO_SHORT: "送教学时或次数不足",
    WeekStatus.HOLIDAY_CONTACT_MISSING: "假期未联系送教对象",
}


@dataclass(frozen=True)
class Due:
    case: Case
    kind: str
    what: str
    due: dt.date
    today: dt.date

    @property
    def overdue(self) -> bool:
        return self.due < self.today

    @property
    def days(self) -> int:
        return (self.due - self.today).days


def due_items(cases, today: dt.date) -> list[Due]:
    """Every open case's next obligations, overdue first. `cases` is an already scoped queryset."""
    items: list[Due] = []
    cases = list(
        cases.filter(state__in=OPEN_STATES)
        .select_related("child", "township", "school", "county")
        .prefetch_related("persuasions", "documents")
    )
    rules = rules_by_county({c.county_id for c in cases})
    plans = _running_plans([c.child_id for c in cases if c.state == S.HOME_TEACHING], today)
    for case in cases:
        r = rules[case.county_id]
        since = timezone.localdate(case.state_since or case.opened_at)  # the county's calendar day, not UTC's
        records = sorted(case.persuasions.all(), key=lambda p: p.date)
        documents = {d.kind: d for d in sorted(case.documents.all(), key=lambda d: d.issued_on)}

        def add(kind, what, due, case=case):
            items.append(Due(case, kind, what, due, today))

        if case.state in (S.SUSPECTED, S.VERIFYING):
            add("verify", "核查疑似情况（确认或排除）", timezone.localdate(case.opened_at) + dt.timedelta(days=r.verify_days))
        elif case.state == S.CONFIRMED:
            add("first_persuasion", "首次劝返（即辍即劝）", (case.confirmed_on or since) + dt.timedelta(days=r.first_persuasion_days))
        elif case.state == S.RETURNED:
            days = weekdays(since, since + dt.timedelta(days=r.closure_school_days * 2))
            add("close", "复学满期，审核销号", days[r.closure_school_days - 1] if len(days) >= r.closure_school_days else since)
        if case.state in (S.PERSUADING, S.DEFERRED, S.HOME_TEACHING, S.ESCALATED):
            last = records[-1].date if records else since
            add("record", "登记本月劝返记录（每月至少一次）", last + dt.timedelta(days=r.record_interval_days))
        if case.state == S.PERSUADING:
            deadline_notice = documents.get("deadline_notice")
            if deadline_notice and deadline_notice.deadline:
                add("escalate", "限期复学期满未返校：依法申请司法调处", deadline_notice.deadline + dt.timedelta(days=1))
            elif "enrolment_notice" in documents:
                issued = documents["enrolment_notice"].issued_on
                add("deadline_notice", "送达《限期复学通知书》", issued + dt.timedelta(days=r.deadline_notice_days))
            elif len(records) >= r.notice_after_persuasions:
                add("enrolment_notice", "送达《入学（复学）通知书》", records[r.notice_after_persuasions - 1].date + dt.timedelta(days=3))
        if case.state == S.HOME_TEACHING:
            _home_teaching_items(add, plans.get(case.child_id), r, since, today)
    items.sort(key=lambda d: (d.due, d.case.pk))
    return items


def _running_plans(child_ids: list[int], today: dt.date) -> dict:
    """The 送教上门 plan running today for each child, with the last three weeks' records."""
    return {p.child_id: p for p in running_plans(child_ids, today, weeks=2)} if child_ids else {}


def _home_teaching_items(add, plan, r: CaseRules, since: dt.date, today: dt.date) -> None:
    """A 送教上门 case: a plan within N days, then this week's session (or holiday contact); a missed week is overdue."""
    if plan is None:
        add("home_teaching_plan", "制定送教上门方案（送教教师、内容、时间）", since + dt.timedelta(days=r.home_teaching_plan_days))
        return
    weeks = plan_weeks(plan, rules=r, today=today, count=2, sessions=list(plan.sessions.all()), contacts=list(plan.contacts.all()))
    done = next((w for w in weeks if w.end < today), None)
    if done is not None and not done.compliant:
        add("home_teaching_missed", f"{done.start.month}月{done.start.day}日起的一周{MISSED[done.status]}（须补齐并登记）", done.end)
    current = weeks[0] if weeks and weeks[0].start <= today <= weeks[0].end else None
    if current is not None and current.status == WeekStatus.IN_PROGRESS:
        if current.holiday:
            add("home_teaching_contact", "本周（假期）联系送教对象并登记", current.end)
        else:
            what = f"本周送教上门（至少{r.home_teaching_sessions_per_week}次，每次不少于{hours(r.home_teaching_min_hours)}学时）"
            add("home_teaching_week", what, current.start + dt.timedelta(days=4))
