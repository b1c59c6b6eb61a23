"""Scoped reads for the child-level parts of the ledger (送教上门, 一人一案), built on accounts.scoping.

A plan or a measure belongs to a child; a user may see it when the child is in their scope or the
child has a case in their scope (a school keeps its dropout's case after the enrolment ends), and a
teacher named on a 送教上门 plan may see and record that plan.
"""

from django.db.models import Q, QuerySet
from django.http import Http404

from kongchuo.accounts.models import Role, User
from kongchuo.accounts.scoping import cases_for, children_for
from kongchuo.cases.models import HomeTeachingPlan, Notification
from kongchuo.people.models import Child


def _casework_children(user: User) -> Q:
    return Q(child__in=children_for(user)) | Q(child__in=cases_for(user).values("child_id"))


def get_child_for_casework(user: User, child_id: int) -> Child:
    """A child whose plans and measures the user may see: in scope, or with a case in scope."""
    if not user.is_authenticated or user.role == Role.DEPARTMENT_LIAISON:
        raise Http404("没有找到该儿童，或不在您的管辖范围内")
    child = Child.objects.filter(Q(pk__in=children_for(user)) | Q(pk__in=cases_for(user).values("child_id")), pk=child_id).first()
    if child is None:
        raise Http404("没有找到该儿童，或不在您的管辖范围内")
    return child


def home_teaching_plans_for(user: User) -> QuerySet[HomeTeachingPlan]:
    qs = HomeTeachingPlan.objects.select_related("child", "school", "township", "case")
    if not user.is_authenticated or user.role == Role.DEPARTMENT_LIAISON:
        return qs.none()
    return qs.filter(_casework_children(user) | Q(pk__in=HomeTeachingPlan.objects.filter(teacher_users=user).values("pk")))


def get_plan_for_user(user: User, plan_id: int) -> HomeTeachingPlan:
    plan = home_teaching_plans_for(user).filter(pk=plan_id).first()
    if plan is None:
        raise Http404("没有找到该送教上门方案，或不在您的管辖范围内")
    return plan


def notifications_for(user: User) -> QuerySet[Notification]:
    """A user's own notifications; nobody reads another's."""
    return Notification.objects.filter(user=user) if user.is_authenticated else Notification.objects.none()


def unread_notification_count(user: User) -> int:
    return notifications_for(user).filter(read_at__isnull=True).count()


def teacher_choices(school) -> QuerySet[User]:
    """Accounts that can be named as a plan's teachers: the school's admins and class teachers."""
    if school is None:
        return User.objects.none()
    return User.objects.filter(Q(school=school) | Q(school_class__school=school), is_active=True).order_by("full_name", "username")
