"""Reminders for what is due on the ledger (issue 5 item 4): `kongchuo remind`, run daily from cron.

Each item of deadlines.due_items that is overdue or due within the county's `remind_days_before`
goes to the people who answer for the case: the school admins of its school and the township staff
of its township; when it is overdue, the county staff as well (the county admins where a county has
no staff accounts, and the county whenever nobody local exists). One reminder per user, case, kind and
due date, ever: the Reminder row is the claim, so reruns and overlapping runs send nothing twice.
"""

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse

from kongchuo.accounts.models import Role, User
from kongchuo.audit.services import audit_record
from kongchuo.cases.deadlines import Due, due_items
from kongchuo.cases.models import Case, Reminder, rules_by_county
from kongchuo.cases.notify import notifiers as configured_notifiers

log = logging.getLogger(__name__)


@dataclass
class RemindResult:
    sent: list[tuple[User, Due]] = field(default_factory=list)  # (would be) sent this run
    already: int = 0  # claimed by an earlier run
    failed: list[tuple[User, Due, str]] = field(default_factory=list)


def _recipients(cases: list[Case]) -> tuple[dict, dict, dict]:
    """Active users by school, by township and by county (county staff, else county admins), in one query."""
    users = User.objects.filter(is_active=True).filter(
        Q(role=Role.SCHOOL_ADMIN, school_id__in={c.school_id for c in cases if c.school_id})
        | Q(role=Role.TOWNSHIP_STAFF, division_id__in={c.township_id for c in cases if c.township_id})
        | Q(role__in=[Role.COUNTY_STAFF, Role.COUNTY_ADMIN], division_id__in={c.county_id for c in cases})
    )
    by_school, by_township, staff, admins = defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(list)
    for u in users.order_by("pk"):
        if u.role == Role.SCHOOL_ADMIN:
            by_school[u.school_id].append(u)
        elif u.role == Role.TOWNSHIP_STAFF:
            by_township[u.division_id].append(u)
        else:
            (staff if u.role == Role.COUNTY_STAFF else admins)[u.division_id].append(u)
    county = {cid: staff.get(cid) or admins.get(cid, []) for cid in {c.county_id for c in cases}}
    return by_school, by_township, county


def recipients_for(item: Due, by_school, by_township, by_county) -> list[User]:
    case = item.case
    local = by_school.get(case.school_id, []) + by_township.get(case.township_id, [])
    people = local + (by_county.get(case.county_id, []) if item.overdue or not local else [])
    return list({u.pk: u for u in people}.values())


def message(item: Due) -> tuple[str, str, str]:
    case, due = item.case, item.due
    where = case.school.name if case.school else (case.township.name if case.township else "")
    when = f"期限 {due.year}年{due.month}月{due.day}日，" + (
        f"已逾期{-item.days}天" if item.overdue else "今天到期" if item.days == 0 else f"还有{item.days}天"
    )
    title = f"{'【已逾期】' if item.overdue else '【待办】'}{item.what}"[:100]
    body = f"{case.child.name}（台账 {case.number}{'，' + where if where else ''}）：{item.what}；{when}。"
    return title, body, reverse("case_detail", args=[case.pk])


def remind(*, today: dt.date, dry_run: bool = False, county=None, notifiers=None) -> RemindResult:
    cases = Case.objects.all() if county is None else Case.objects.filter(county=county)
    items = due_items(cases, today)
    rules = rules_by_county(d.case.county_id for d in items)
    items = [d for d in items if d.due <= today + dt.timedelta(days=rules[d.case.county_id].remind_days_before)]
    by_school, by_township, by_county = _recipients([d.case for d in items])
    claimed = set(Reminder.objects.filter(case_id__in={d.case.pk for d in items}).values_list("user_id", "case_id", "kind", "due"))
    notifiers = configured_notifiers() if notifiers is None else notifiers
    result = RemindResult()
    for item in items:
        for user in recipients_for(item, by_school, by_township, by_county):
            if (user.pk, item.case.pk, item.kind, item.due) in claimed:
                result.already += 1
                continue
            if dry_run:
                result.sent.append((user, item))
                continue
            title, body, url = message(item)
            try:
                with transaction.atomic():
                    Reminder.objects.create(user=user, case=item.case, kind=item.kind, due=item.due)
                    for notifier in notifiers:
                        notifier.send(user, title, body, url)
            except IntegrityError:  # another run claimed it meanwhile
                result.already += 1
            except Exception as exc:  # a notifier failed: nothing is claimed, the next run tries again
                log.exception("reminder to %s for case %s failed", user.username, item.case.number)
                result.failed.append((user, item, str(exc)))
            else:
                result.sent.append((user, item))
    if not dry_run:
        per_county = defaultdict(list)
        for user, item in result.sent:
            per_county[item.case.county].append(user.pk)
        for place, users in per_county.items():
            audit_record(
                actor=None,
                action="create",
                chain=place.prefix,
                summary=f"到期提醒：发送 {len(users)} 条，{len(set(users))} 人",
                after={
                    "date": today.isoformat(),
                    "sent": len(users),
                    "failed": sum(1 for _, d, _ in result.failed if d.case.county == place),
                },
            )
    return result
