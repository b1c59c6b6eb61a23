"""Reads of children, always starting from the scoping helper."""

import re
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from kongchuo.accounts.scoping import children_for
from kongchuo.enrolments.models import OPEN_STATUSES, Enrolment
from kongchuo.people.models import Child, GroupMembership

_ID_QUERY = re.compile(r"^[0-9Xx]{4,18}$")
_LATIN = re.compile(r"^[A-Za-z]+$")


@dataclass(frozen=True)
class ChildFilters:
    q: str = ""
    township: int | None = None
    school: int | None = None
    grade: int | None = None
    group: str = ""
    id_status: str = ""


def _with_open_enrolment(**filters) -> Q:
    return Q(pk__in=Enrolment.objects.filter(status__in=OPEN_STATUSES, **filters).values("child_id"))


def child_list_for_user(user, filters: ChildFilters) -> QuerySet[Child]:
    qs = children_for(user)
    q = filters.q.strip()
    if q:
        if _ID_QUERY.match(q):
            qs = qs.filter(id_number__contains=q.upper())
        elif _LATIN.match(q):
            q = q.lower()
            qs = qs.filter(name_initials__startswith=q) | qs.filter(name_pinyin__startswith=q)
        else:
            qs = qs.filter(name__contains=q)
    if filters.township:
        qs = qs.filter(Q(township_id=filters.township) | _with_open_enrolment(township_id=filters.township))
    if filters.school:
        qs = qs.filter(_with_open_enrolment(school_id=filters.school))
    if filters.grade:
        qs = qs.filter(_with_open_enrolment(grade=filters.grade))
    if filters.group:
        qs = qs.filter(pk__in=GroupMembership.objects.filter(group=filters.group).values("child_id"))
    if filters.id_status:
        qs = qs.filter(id_number_status=filters.id_status)
    return qs.select_related("township", "current_school", "current_class").order_by("name", "id")
