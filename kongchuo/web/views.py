from django.db.models import Count, Q
from django.shortcuts import render

from kongchuo.accounts.scoping import children_for, schools_for
from kongchuo.enrolments.models import ACTIVE_STATUSES, APPROVED_ABSENCE_STATUSES, Enrolment
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
    context = {
        "counts": counts,
        "schools": schools_for(request.user).count(),
        "groups": [(g["group"], group_labels[g["group"]], g["n"]) for g in groups],
    }
    return render(request, "web/home.html", context)
