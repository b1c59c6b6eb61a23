from django.db.models import Count, Q
from django.shortcuts import render

from kongchuo.accounts.scoping import get_school_for_user, schools_for
from kongchuo.core.paging import paginate
from kongchuo.enrolments.models import ACTIVE_STATUSES
from kongchuo.places.models import School

_ON_ROLL = Count("enrolments", filter=Q(enrolments__status__in=ACTIVE_STATUSES))


def school_list(request):
    qs = schools_for(request.user).annotate(students=_ON_ROLL).order_by("township__code", "code")
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(code__startswith=q))
    school_type = request.GET.get("type", "")
    if school_type:
        qs = qs.filter(type=school_type)
    context = {"q": q, "type": school_type, "types": School.Type.choices, **paginate(request, qs)}
    return render(request, "places/school_list.html", context)


def school_detail(request, school_id: int):
    school = get_school_for_user(request.user, school_id)
    classes = school.classes.annotate(students=Count("enrolments", filter=Q(enrolments__status__in=ACTIVE_STATUSES)))
    by_grade = school.enrolments.filter(status__in=ACTIVE_STATUSES).values("grade").annotate(n=Count("id")).order_by("grade")
    return render(request, "places/school_detail.html", {"school": school, "classes": classes, "by_grade": by_grade})
