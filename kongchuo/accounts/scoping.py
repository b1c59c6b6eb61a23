"""The one place that decides what a user may see and change.

Every list, detail, edit and export goes through these helpers (STYLE.md §1). A
user is bound to one node (division, school or class); they see that node's
subtree and nothing else. Out-of-scope objects raise Http404 (we do not confirm
that they exist); in-scope objects the role may not change raise PermissionDenied.
"""

from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from kongchuo.accounts.models import Role, User
from kongchuo.audit.models import AuditEntry
from kongchuo.core.choices import DEPARTMENT_SOURCES
from kongchuo.enrolments.models import OPEN_STATUSES, Enrolment
from kongchuo.people.models import Child, FieldProvenance
from kongchuo.places.models import Division, School, SchoolClass


class Perm(StrEnum):
    VIEW_FULL_ID = "view_full_id"  # the unmasked ID number on the detail page (audited)
    EDIT_CHILD = "edit_child"
    CHANGE_ENROLMENT = "change_enrolment"
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT = "view_audit"
    RUN_MATCH = "run_match"  # start a cross-matching run and decide the link review queue
    VERIFY_FINDINGS = "verify_findings"  # exclude (with reason and evidence) or confirm a finding


ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.COUNTY_ADMIN: frozenset(Perm),
    Role.COUNTY_STAFF: frozenset(
        {Perm.VIEW_FULL_ID, Perm.EDIT_CHILD, Perm.CHANGE_ENROLMENT, Perm.VIEW_AUDIT, Perm.RUN_MATCH, Perm.VERIFY_FINDINGS}
    ),
    Role.TOWNSHIP_STAFF: frozenset({Perm.VIEW_FULL_ID, Perm.EDIT_CHILD, Perm.VERIFY_FINDINGS}),
    Role.SCHOOL_ADMIN: frozenset({Perm.VIEW_FULL_ID, Perm.EDIT_CHILD, Perm.CHANGE_ENROLMENT, Perm.VERIFY_FINDINGS}),
    Role.CLASS_TEACHER: frozenset({Perm.EDIT_CHILD}),
    Role.DEPARTMENT_LIAISON: frozenset(),
    Role.SUPERVISOR: frozenset({Perm.VIEW_AUDIT}),  # read-only: sees everything in scope, changes nothing
}


def has_perm(user: User, perm: Perm) -> bool:
    return user.is_authenticated and perm in ROLE_PERMS.get(user.role, frozenset())


def require(user: User, perm: Perm) -> None:
    if not has_perm(user, perm):
        raise PermissionDenied("您的角色无权执行此操作")


def _division_filter(node: Division, *, county: str = "county", township: str = "township") -> dict:
    """Filter kwargs for rows whose county/township columns fall in the subtree of `node`."""
    if node.level == Division.Level.COUNTY:
        return {f"{county}_id": node.pk}
    if node.level == Division.Level.TOWNSHIP:
        return {f"{township}_id": node.pk}
    if node.level < Division.Level.COUNTY:
        return {f"{county}__prefix__startswith": node.prefix}
    return {"pk__in": []}  # village-level accounts are not a role


def _nothing(qs: QuerySet) -> QuerySet:
    return qs.none()


# --- places -----------------------------------------------------------------------------------


def schools_for(user: User) -> QuerySet[School]:
    qs = School.objects.select_related("county", "township")
    if user.school_class_id:
        return qs.filter(pk=user.school_class.school_id)
    if user.school_id:
        return qs.filter(pk=user.school_id)
    if user.division_id:
        return qs.filter(**_division_filter(user.division))
    return _nothing(qs)


def classes_for(user: User) -> QuerySet[SchoolClass]:
    qs = SchoolClass.objects.select_related("school")
    if user.school_class_id:
        return qs.filter(pk=user.school_class_id)
    return qs.filter(school__in=schools_for(user))


def divisions_for(user: User) -> QuerySet[Division]:
    """The divisions in the user's subtree (a school sees its own township and villages)."""
    if user.division_id:
        return Division.objects.filter(prefix__startswith=user.division.prefix)
    school = user.school or (user.school_class.school if user.school_class_id else None)
    if school is not None:
        return Division.objects.filter(prefix__startswith=school.township.prefix)
    return Division.objects.none()


# --- children and enrolments ------------------------------------------------------------------


def _open_enrolment_exists(**filters) -> Q:
    """Children with an open enrolment matching `filters`.

    Written as `pk IN (subquery)` rather than a correlated EXISTS: SQLite without fresh statistics
    runs the EXISTS once per child through the wrong index (minutes on one county), while the IN
    subquery is evaluated once.
    """
    return Q(pk__in=Enrolment.objects.filter(status__in=OPEN_STATUSES, **filters).values("child_id"))


def children_for(user: User) -> QuerySet[Child]:
    qs = Child.objects.all()
    if not user.is_authenticated:
        return _nothing(qs)
    if user.school_class_id:
        return qs.filter(_open_enrolment_exists(school_class_id=user.school_class_id))
    if user.school_id:
        return qs.filter(_open_enrolment_exists(school_id=user.school_id))
    if not user.division_id:
        return _nothing(qs)
    node = user.division
    lives_here = Q(**_division_filter(node))
    studies_here = _open_enrolment_exists(**_division_filter(node))
    qs = qs.filter(lives_here | studies_here)
    if user.role == Role.DEPARTMENT_LIAISON:
        sources = DEPARTMENT_SOURCES.get(user.department, [])
        qs = qs.filter(pk__in=FieldProvenance.objects.filter(source__in=sources).values("child_id"))
    return qs


def get_child_for_user(user: User, child_id: int, *, write: bool = False) -> Child:
    child = (
        children_for(user)
        .filter(pk=child_id)
        .select_related("county", "township", "household_division", "current_division", "current_school", "current_class")
        .first()
    )
    if child is None:
        raise Http404("没有找到该儿童，或不在您的管辖范围内")
    if write:
        require(user, Perm.EDIT_CHILD)
    return child


def enrolments_for(user: User) -> QuerySet[Enrolment]:
    """Enrolment history readable by the user: every enrolment of a child in scope."""
    return Enrolment.objects.filter(child__in=children_for(user))


def get_enrolment_for_write(user: User, enrolment_id: int) -> Enrolment:
    """Only a school in the user's scope may change its own enrolments."""
    enrolment = (
        Enrolment.objects.filter(pk=enrolment_id, school__in=schools_for(user), child__in=children_for(user))
        .select_related("child", "school")
        .first()
    )
    if enrolment is None:
        raise Http404("没有找到该学籍，或不在您的管辖范围内")
    require(user, Perm.CHANGE_ENROLMENT)
    return enrolment


def get_school_for_user(user: User, school_id: int) -> School:
    school = schools_for(user).filter(pk=school_id).first()
    if school is None:
        raise Http404("没有找到该学校，或不在您的管辖范围内")
    return school


# --- accounts and audit -----------------------------------------------------------------------


def users_for(user: User) -> QuerySet[User]:
    require(user, Perm.MANAGE_USERS)
    prefix = user.division.prefix
    return User.objects.filter(
        Q(division__prefix__startswith=prefix)
        | Q(school__township__prefix__startswith=prefix)
        | Q(school_class__school__township__prefix__startswith=prefix)
    ).select_related("division", "school", "school_class__school")


def audit_for(user: User) -> QuerySet[AuditEntry]:
    require(user, Perm.VIEW_AUDIT)
    if not user.division_id or user.division.level > Division.Level.COUNTY:
        return AuditEntry.objects.none()
    return AuditEntry.objects.filter(chain__startswith=user.division.prefix)


# --- imports ----------------------------------------------------------------------------------


def imports_for(user: User) -> QuerySet:
    """County staff see their county's imports; a department liaison sees the files it uploaded."""
    from kongchuo.imports.models import ImportBatch
    from kongchuo.imports.services import allowed_sources

    if not allowed_sources(user):
        raise PermissionDenied("您的角色无权导入名单")
    # A batch's merged cells are read only by its import (a sheet can have thousands): not by the pages listing batches.
    qs = ImportBatch.objects.filter(county=user.division).select_related("uploaded_by", "applied_by").defer("merged_cells")
    if user.role == Role.DEPARTMENT_LIAISON:
        qs = qs.filter(uploaded_by=user)
    return qs


def get_import_for_user(user: User, batch_id: int):
    batch = imports_for(user).filter(pk=batch_id).first()
    if batch is None:
        raise Http404("没有找到该导入记录，或不在您的管辖范围内")
    return batch


def conflicts_for(user: User) -> QuerySet:
    from kongchuo.imports.models import IdentityConflict

    qs = IdentityConflict.objects.filter(child__in=children_for(user)).select_related("child", "batch")
    if user.role == Role.DEPARTMENT_LIAISON:  # only where the department's own list is one side
        sources = DEPARTMENT_SOURCES.get(user.department, [])
        qs = qs.filter(Q(kept_source__in=sources) | Q(other_source__in=sources))
    return qs


# --- matching ---------------------------------------------------------------------------------


def findings_for(user: User) -> QuerySet:
    """Findings in the user's subtree: county roles the county, a township its own, a school its own."""
    from kongchuo.matching.models import Finding

    qs = Finding.objects.select_related("child", "school", "township")
    if user.school_class_id:
        return qs.filter(Q(child__in=children_for(user)))
    if user.school_id:
        return qs.filter(Q(school_id=user.school_id) | Q(child__in=children_for(user)))
    if not user.division_id or user.role == Role.DEPARTMENT_LIAISON:
        return qs.none()
    node = user.division
    if node.level == Division.Level.TOWNSHIP:
        return qs.filter(township=node)
    return qs.filter(county__prefix__startswith=node.prefix)


def get_finding_for_user(user: User, finding_id: int, *, write: bool = False):
    finding = findings_for(user).filter(pk=finding_id).first()
    if finding is None:
        raise Http404("没有找到该比对发现，或不在您的管辖范围内")
    if write:
        require(user, Perm.VERIFY_FINDINGS)
    return finding


def sees_whole_county(user: User) -> bool:
    """Whether the user's findings are a whole county's (or more): a match run's county-wide totals are theirs to see."""
    if user.school_class_id or user.school_id or not user.division_id or user.role == Role.DEPARTMENT_LIAISON:
        return False
    return user.division.level <= Division.Level.COUNTY


def can_run_match(user: User) -> bool:
    return has_perm(user, Perm.RUN_MATCH) and user.division_id is not None and user.division.level == Division.Level.COUNTY


# --- cases ------------------------------------------------------------------------------------


def cases_for(user: User) -> QuerySet:
    """The ledger in the user's subtree; a department liaison sees no cases (outcomes come in reports)."""
    from kongchuo.cases.models import Case

    qs = Case.objects.select_related("child", "township", "school")
    if user.school_class_id:
        return qs.filter(child__in=children_for(user))
    if user.school_id:
        return qs.filter(Q(school_id=user.school_id) | Q(child__in=children_for(user)))
    if not user.division_id or user.role == Role.DEPARTMENT_LIAISON:
        return qs.none()
    node = user.division
    if node.level == Division.Level.TOWNSHIP:
        return qs.filter(Q(township=node) | Q(child__in=children_for(user)))
    return qs.filter(county__prefix__startswith=node.prefix)


def get_case_for_user(user: User, case_id: int):
    case = cases_for(user).filter(pk=case_id).first()
    if case is None:
        raise Http404("没有找到该台账，或不在您的管辖范围内")
    return case
