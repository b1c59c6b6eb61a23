"""Enrolment (学籍) creation and status transitions: one function per kind of move, all checked here."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kongchuo.audit.services import audit_record
from kongchuo.enrolments.models import ACTIVE_STATUSES, OPEN_STATUSES, Enrolment, Status, StatusChange
from kongchuo.people.identity import InvalidIdNumber, normalise_student_number
from kongchuo.people.models import Child
from kongchuo.places.models import School, SchoolClass

S = Status
_ON_ROLL_EXITS = {S.TRANSFERRED_OUT, S.SUSPENDED, S.GRADUATED, S.DROPPED_OUT, S.DECEASED, S.HOME_TEACHING, S.INCLUSIVE}
TRANSITIONS: dict[str, frozenset[str]] = {
    S.ENROLLED: frozenset(_ON_ROLL_EXITS),
    S.TRANSFERRED_IN: frozenset(_ON_ROLL_EXITS),
    S.RESUMED: frozenset(_ON_ROLL_EXITS),
    S.INCLUSIVE: frozenset(_ON_ROLL_EXITS - {S.INCLUSIVE} | {S.ENROLLED}),
    S.HOME_TEACHING: frozenset(_ON_ROLL_EXITS - {S.HOME_TEACHING} | {S.ENROLLED}),
    S.SUSPENDED: frozenset({S.RESUMED, S.DROPPED_OUT, S.TRANSFERRED_OUT, S.DECEASED}),
    S.DEFERRED: frozenset({S.ENROLLED, S.HOME_TEACHING, S.INCLUSIVE, S.TRANSFERRED_OUT, S.DECEASED}),
    S.EXEMPTED: frozenset({S.ENROLLED, S.TRANSFERRED_OUT, S.DECEASED}),
    S.DROPPED_OUT: frozenset({S.RESUMED, S.TRANSFERRED_OUT, S.DECEASED}),
    S.TRANSFERRED_OUT: frozenset(),
    S.GRADUATED: frozenset(),
    S.DECEASED: frozenset(),
}
INITIAL_STATUSES = frozenset({S.ENROLLED, S.TRANSFERRED_IN, S.DEFERRED, S.EXEMPTED, S.HOME_TEACHING, S.INCLUSIVE})
REASON_REQUIRED = frozenset({S.SUSPENDED, S.DEFERRED, S.EXEMPTED, S.DROPPED_OUT, S.DECEASED, S.TRANSFERRED_OUT})
NEEDS_DISABILITY = frozenset({S.HOME_TEACHING, S.INCLUSIVE})
ENROLMENT_FIELDS = ["child", "school", "school_class", "grade", "national_student_number", "status", "status_since", "entry_date"]


class IllegalTransition(ValidationError):
    pass


def _label(status: str) -> str:
    return Status(status).label


def allowed_next(status: str) -> list[tuple[str, str]]:
    return [(s, _label(s)) for s in Status if s in TRANSITIONS[status]]


def _check_common(*, child: Child, status: str, effective_date: dt.date, reason: str) -> None:
    if effective_date > timezone.localdate():
        raise ValidationError({"effective_date": "生效日期不能晚于今天"})
    if status in REASON_REQUIRED and not reason.strip():
        raise ValidationError({"reason": f"办理“{_label(status)}”须填写原因或依据"})
    if status in NEEDS_DISABILITY and not child.disability_category:
        raise ValidationError({"to_status": f"“{_label(status)}”仅适用于登记了残疾类别的儿童，请先登记残疾信息"})


def active_enrolment(child: Child) -> Enrolment | None:
    """The enrolment the child is studying under now (with its school), if any."""
    return child.enrolments.filter(status__in=ACTIVE_STATUSES).select_related("school").first()


def refresh_current_placement(child: Child) -> None:
    """Keep the child's denormalised current school/class equal to its latest open enrolment."""
    latest = child.enrolments.filter(status__in=OPEN_STATUSES).order_by("-entry_date", "-id").first()
    school_id = latest.school_id if latest else None
    class_id = latest.school_class_id if latest else None
    if (child.current_school_id, child.current_class_id) != (school_id, class_id):
        Child.objects.filter(pk=child.pk).update(current_school_id=school_id, current_class_id=class_id)
        child.current_school_id, child.current_class_id = school_id, class_id


@transaction.atomic
def enrolment_create(
    *,
    actor,
    child: Child,
    school: School,
    grade: int,
    entry_date: dt.date,
    status: str = Status.ENROLLED,
    school_class: SchoolClass | None = None,
    national_student_number: str = "",
    reason: str = "",
) -> Enrolment:
    if status not in INITIAL_STATUSES:
        raise IllegalTransition({"status": f"新建学籍的状态只能是：{'、'.join(_label(s) for s in Status if s in INITIAL_STATUSES)}"})
    _check_common(child=child, status=status, effective_date=entry_date, reason=reason)
    if grade not in school.grades:
        raise ValidationError({"grade": f"{school.name}（{school.get_type_display()}）不设{grade}年级"})
    if school_class is not None and (school_class.school_id != school.pk or school_class.grade != grade):
        raise ValidationError({"school_class": "所选班级不属于该学校该年级"})
    try:
        nsn = normalise_student_number(national_student_number)
    except InvalidIdNumber as exc:
        raise ValidationError({"national_student_number": str(exc)}) from exc
    if nsn.startswith("G") and child.id_number and nsn[1:] != child.id_number:
        raise ValidationError({"national_student_number": "G字头学籍号应为G加本人身份证号"})
    Child.objects.select_for_update().filter(pk=child.pk).first()  # serialise enrolment writes per child
    open_here = child.enrolments.filter(school=school, status__in=OPEN_STATUSES).first()
    if open_here is not None:
        raise ValidationError(f"该儿童在{school.name}已有学籍（{open_here.get_status_display()}），请在原学籍上办理变动")
    active_elsewhere = active_enrolment(child)
    if active_elsewhere is not None:
        raise ValidationError(f"该儿童在{active_elsewhere.school.name}仍为“{active_elsewhere.get_status_display()}”，请先由原学校办理转出")
    enrolment = Enrolment.objects.create(
        child=child,
        school=school,
        school_class=school_class,
        grade=grade,
        national_student_number=nsn,
        status=status,
        status_since=entry_date,
        entry_date=entry_date,
        county_id=school.county_id,
        township_id=school.township_id,
    )
    StatusChange.objects.create(
        enrolment=enrolment,
        from_status="",
        to_status=status,
        effective_date=entry_date,
        reason=reason,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    refresh_current_placement(child)
    audit_record(
        actor=actor,
        action="create",
        obj=enrolment,
        chain=school.county.prefix,
        summary=f"{child.name} 在{school.name}建立学籍（{_label(status)}）",
        after={
            "child": child.pk,
            "school": school.pk,
            "grade": grade,
            "status": status,
            "national_student_number": nsn,
            "entry_date": entry_date.isoformat(),
        },
    )
    return enrolment


@transaction.atomic
def enrolment_transition(*, actor, enrolment: Enrolment, to_status: str, effective_date: dt.date, reason: str = "") -> Enrolment:
    """Move an enrolment to `to_status`, or raise IllegalTransition saying why not."""
    enrolment = Enrolment.objects.select_for_update().select_related("child", "school").get(pk=enrolment.pk)
    from_status = enrolment.status
    if to_status not in Status.values:
        raise IllegalTransition({"to_status": f"未知的学籍状态：{to_status}"})
    if to_status not in TRANSITIONS[from_status]:
        allowed = "、".join(label for _, label in allowed_next(from_status)) or "无（该学籍已终结）"
        raise IllegalTransition({"to_status": f"学籍状态不能从“{_label(from_status)}”变更为“{_label(to_status)}”。可办理的变动：{allowed}"})
    if effective_date < enrolment.status_since:
        raise ValidationError({"effective_date": f"生效日期不能早于当前状态的起始日期{enrolment.status_since:%Y-%m-%d}"})
    _check_common(child=enrolment.child, status=to_status, effective_date=effective_date, reason=reason)
    if to_status in ACTIVE_STATUSES and from_status not in ACTIVE_STATUSES:
        elsewhere = enrolment.child.enrolments.filter(status__in=ACTIVE_STATUSES).exclude(pk=enrolment.pk).select_related("school").first()
        if elsewhere is not None:
            raise ValidationError(f"该儿童已在{elsewhere.school.name}就读，不能在此恢复为“{_label(to_status)}”")
    enrolment.status, enrolment.status_since = to_status, effective_date
    enrolment.save(update_fields=["status", "status_since"])
    StatusChange.objects.create(
        enrolment=enrolment,
        from_status=from_status,
        to_status=to_status,
        effective_date=effective_date,
        reason=reason,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    refresh_current_placement(enrolment.child)
    audit_record(
        actor=actor,
        action="transition",
        obj=enrolment,
        chain=enrolment.school.county.prefix,
        summary=f"{enrolment.child.name} 学籍：{_label(from_status)} → {_label(to_status)}",
        before={"status": from_status},
        after={"status": to_status, "effective_date": effective_date.isoformat(), "reason": reason},
    )
    return enrolment
