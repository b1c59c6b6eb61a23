from django.db.models import Count, Q
from django.shortcuts import render
from django.utils import timezone

from kongchuo.accounts.scoping import Perm, can_run_match, cases_for, children_for, findings_for, has_perm, schools_for
from kongchuo.cases.deadlines import due_items
from kongchuo.enrolments.models import ACTIVE_STATUSES, APPROVED_ABSENCE_STATUSES, Enrolment
from kongchuo.matching.models import Finding, LinkCandidate
from kongchuo.people.models import Child, GroupMembership


def home(request):
    children = children_for(request.user)
    in_school = Q(pk__in=Enrolment.objects.filter(status__in=ACTIVE_STATUSES).values("child_id"))
    approved = Q(pk__in=Enrolment.objects.filter(status__in=APPROVED_ABSENCE_STATUSES).values("child_id"))
    counts = children.aggregate(
        total=Count("id"),
        in_school=Count("id", filter=in_school),
        approved=Count("id", filter=approved & ~in_school),
        pending_id=Count("id", filter=Q(id_number_status=Child.IdStatus.PENDING)),
    )
    groups = GroupMembership.objects.filter(child__in=children).values("group").annotate(n=Count("child", distinct=True)).order_by("-n")
    group_labels = dict(GroupMembership._meta.get_field("group").choices)
    dues = due_items(cases_for(request.user), timezone.localdate())
    todo = {
        "findings": findings_for(request.user).filter(status=Finding.Status.OPEN).count()
        if has_perm(request.user, Perm.VERIFY_FINDINGS) or can_run_match(request.user)
        else None,
        "review": LinkCandidate.objects.filter(status=LinkCandidate.Status.PENDING, left__in=children).count()
        if can_run_match(request.user)
        else None,
        "overdue": sum(1 for d in dues if d.overdue),
        "due_soon": sum(1 for d in dues if not d.overdue and d.days <= 7),
        "notices": sum(1 for d in dues if d.kind in ("enrolment_notice", "deadline_notice")),
    }
    context = {
        "todo": todo,
        "counts": counts,
        "schools": schools_for(request.user).count(),
        "groups": [(g["group"], group_labels[g["group"]], g["n"]) for g in groups],
    }
    return render(request, "web/home.html", context)
