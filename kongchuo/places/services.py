"""Creating divisions, schools and classes (one at a time; the demo and imports bulk-load)."""

from django.core.exceptions import ValidationError
from django.db import transaction

from kongchuo.audit.services import audit_record
from kongchuo.core.services import snapshot
from kongchuo.places.models import Division, School, SchoolClass


def county_of(division: Division) -> Division:
    """The county a division belongs to (itself when it is one)."""
    if division.level == Division.Level.COUNTY:
        return division
    if division.level < Division.Level.COUNTY:
        raise ValidationError(f"{division.name}在县级以上，没有所属县")
    return Division.objects.get(prefix=division.prefix[:6], level=Division.Level.COUNTY)


def township_of(division: Division) -> Division | None:
    if division.level == Division.Level.TOWNSHIP:
        return division
    if division.level == Division.Level.VILLAGE:
        return Division.objects.get(prefix=division.prefix[:9], level=Division.Level.TOWNSHIP)
    return None


@transaction.atomic
def division_create(*, actor, code: str, name: str, level: int, parent: Division | None = None) -> Division:
    division = Division(code=code, name=name, level=level, parent=parent)
    division.full_clean()
    if parent is not None and not code.startswith(parent.prefix):
        raise ValidationError({"code": f"区划代码{code}不在上级{parent.name}（{parent.code}）之下"})
    division.save()
    audit_record(
        actor=actor,
        action="create",
        obj=division,
        chain=division.prefix[:6] if level >= 3 else "-",
        summary=f"新增区划 {name}",
        after=snapshot(division, ["code", "name", "level", "parent"]),
    )
    return division


@transaction.atomic
def school_create(
    *, actor, code: str, name: str, type: str, township: Division, village: Division | None = None, address: str = ""
) -> School:
    if township.level != Division.Level.TOWNSHIP:
        raise ValidationError({"township": "学校必须属于一个乡镇（街道）"})
    school = School(code=code, name=name, type=type, county=county_of(township), township=township, village=village, address=address)
    school.full_clean()
    school.save()
    audit_record(
        actor=actor,
        action="create",
        obj=school,
        chain=school.county.prefix,
        summary=f"新增学校 {name}",
        after=snapshot(school, ["code", "name", "type", "county", "township", "village"]),
    )
    return school


@transaction.atomic
def class_create(*, actor, school: School, grade: int, number: int) -> SchoolClass:
    if grade not in school.grades:
        raise ValidationError({"grade": f"{school.get_type_display()}不设{grade}年级"})
    klass = SchoolClass(school=school, grade=grade, number=number)
    klass.full_clean()
    klass.save()
    audit_record(
        actor=actor,
        action="create",
        obj=klass,
        chain=school.county.prefix,
        summary=f"新增班级 {school.name}{klass}",
        after=snapshot(klass, ["school", "grade", "number"]),
    )
    return klass
