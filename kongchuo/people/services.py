"""Writes to children, guardians and group memberships. Each is atomic and audited."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kongchuo.audit.services import audit_record
from kongchuo.core.choices import Source
from kongchuo.core.services import snapshot
from kongchuo.people.identity import InvalidIdNumber, consistency_errors, normalise_id_number
from kongchuo.people.models import SUPPLIED_FIELDS, Child, FieldProvenance, GroupMembership, Guardian, conflict_value
from kongchuo.people.names import clean_name, name_pinyin
from kongchuo.people.provenance import settle_refused
from kongchuo.places.models import Division
from kongchuo.places.services import county_of, township_of

# What a person may edit on the child's record (the ID number has its own path through _apply_id_number).
EDITABLE_FIELDS = [
    "name",
    "gender",
    "birth_date",
    "ethnicity",
    "health",
    "disability_category",
    "disability_grade",
    "disability_certificate_no",
    "household_division",
    "household_address",
    "current_division",
    "current_address",
]
CHILD_FIELDS = ["id_number", "id_number_status", "id_number_raw", *EDITABLE_FIELDS, "county", "township"]
# Fields whose source is remembered (provenance, people.models.SUPPLIED_FIELDS); derived columns are not.
PROVENANCE_FIELDS = [f for f in CHILD_FIELDS if f in SUPPLIED_FIELDS]
GUARDIAN_FIELDS = ["name", "relation", "phone", "order"]


def _apply_id_number(child: Child, raw: str | None, *, allow_pending: bool) -> None:
    """Validate and normalise; an unusable number is an error, or kept as 证件号待核正 for imports."""
    if raw is None or str(raw).strip() == "":
        if not allow_pending:
            raise ValidationError({"id_number": "请填写居民身份证号"})
        child.id_number, child.id_number_status, child.id_number_raw = None, Child.IdStatus.PENDING, ""
        return
    try:
        checked = normalise_id_number(raw)
    except InvalidIdNumber as exc:
        if not allow_pending:
            raise ValidationError({"id_number": str(exc)}) from exc
        child.id_number, child.id_number_status, child.id_number_raw = None, Child.IdStatus.PENDING, str(raw)[:40]
        return
    problems = consistency_errors(checked, birth_date=child.birth_date, gender=child.gender or None)
    if problems:
        raise ValidationError({field: message for field, message in problems})
    clash = Child.objects.filter(id_number=checked.number).exclude(pk=child.pk).exists()
    if clash:
        raise ValidationError({"id_number": "该身份证号已登记在系统中，请联系县控辍办核对是否为同一人"})
    child.id_number, child.id_number_status, child.id_number_raw = checked.number, Child.IdStatus.VALID, ""


def _place(child: Child, county: Division | None) -> None:
    """Derive the scope columns from the household address (or the given county)."""
    anchor = child.household_division or child.current_division
    if anchor is not None and anchor.level >= Division.Level.COUNTY:
        child.county = county_of(anchor)
        child.township = township_of(anchor)
    elif county is not None:
        child.county, child.township = county, None
    else:
        raise ValidationError({"household_division": "请选择户籍所在乡镇或村（社区）"})


def _record_provenance(child: Child, fields, *, source: str, reference: str, actor) -> None:
    """Add `fields` to what `source` is known to have supplied for the child."""
    fields = set(fields)
    if not fields:
        return
    row = FieldProvenance.objects.filter(child=child, source=source).first()
    by = actor if getattr(actor, "pk", None) else None
    if row is None:
        FieldProvenance.objects.create(
            child=child, source=source, fields=sorted(fields), reference=reference, recorded_at=timezone.now(), recorded_by=by
        )
    else:
        row.fields, row.reference, row.recorded_at, row.recorded_by = sorted(set(row.fields) | fields), reference, timezone.now(), by
        row.save(update_fields=["fields", "reference", "recorded_at", "recorded_by"])


@transaction.atomic
def child_create(
    *,
    actor,
    name: str,
    gender: str,
    birth_date: dt.date,
    id_number: str | None = None,
    county: Division | None = None,
    source: str = Source.MANUAL,
    reference: str = "",
    allow_pending_id: bool = False,
    **fields,
) -> Child:
    child = Child(name=clean_name(name), gender=gender, birth_date=birth_date, **fields)
    if not child.name:
        raise ValidationError({"name": "请填写姓名"})
    _apply_id_number(child, id_number, allow_pending=allow_pending_id)
    _place(child, county)
    child.name_pinyin, child.name_initials = name_pinyin(child.name)
    child.full_clean(exclude=["county"], validate_constraints=False)
    child.save()
    given = [f for f, value in snapshot(child, PROVENANCE_FIELDS).items() if value not in (None, "")]
    _record_provenance(child, given, source=source, reference=reference, actor=actor)
    audit_record(
        actor=actor,
        action="create",
        obj=child,
        chain=child.county.prefix,
        summary=f"新增儿童 {child.name}",
        after=snapshot(child, CHILD_FIELDS),
    )
    return child


@transaction.atomic
def child_update(*, actor, child: Child, source: str = Source.MANUAL, reference: str = "", **changes) -> Child:
    """Change some fields; only what really changed is saved, attributed and audited."""
    child = Child.objects.select_for_update().get(pk=child.pk)
    before = snapshot(child, CHILD_FIELDS)
    held = {f: conflict_value(getattr(child, f)) for f in PROVENANCE_FIELDS}  # as FieldProvenance.refused keeps values
    id_number = changes.pop("id_number", None)
    if "name" in changes:
        changes["name"] = clean_name(changes["name"])
    for field, value in changes.items():
        if field not in CHILD_FIELDS:
            raise ValueError(f"child_update does not change {field}")
        setattr(child, field, value)
    if id_number is not None and id_number != child.id_number:
        _apply_id_number(child, id_number, allow_pending=False)
    elif child.id_number:
        _apply_id_number(child, child.id_number, allow_pending=False)  # birth date / gender still agree?
    _place(child, child.county)
    child.name_pinyin, child.name_initials = name_pinyin(child.name)
    child.full_clean(exclude=["county"], validate_constraints=False)
    after = snapshot(child, CHILD_FIELDS)
    changed = [f for f in CHILD_FIELDS if before[f] != after[f]]
    if not changed:
        return child
    child.save()
    _record_provenance(child, [f for f in changed if f in PROVENANCE_FIELDS], source=source, reference=reference, actor=actor)
    replaced = {f: held[f] for f in changed if f in PROVENANCE_FIELDS}
    for row in settle_refused(FieldProvenance.objects.filter(child=child), child, replaced, source=source):
        row.save(update_fields=["refused"])
    audit_record(
        actor=actor,
        action="update",
        obj=child,
        chain=child.county.prefix,
        summary=f"修改儿童信息 {child.name}",
        before={f: before[f] for f in changed},
        after={f: after[f] for f in changed},
    )
    return child


@transaction.atomic
def guardian_save(*, actor, child: Child, guardian: Guardian | None = None, **values) -> Guardian:
    creating = guardian is None
    guardian = guardian or Guardian(child=child)
    if guardian.child_id != child.pk:
        raise ValidationError("监护人不属于该儿童")
    before = None if creating else snapshot(guardian, GUARDIAN_FIELDS)
    values["name"] = clean_name(values.get("name", guardian.name))
    for field, value in values.items():
        if field not in GUARDIAN_FIELDS:
            raise ValueError(f"guardian_save does not change {field}")
        setattr(guardian, field, value)
    guardian.full_clean()
    guardian.save()
    audit_record(
        actor=actor,
        action="create" if creating else "update",
        obj=guardian,
        chain=child.county.prefix,
        summary=f"{'新增' if creating else '修改'}监护人 {guardian.name}（儿童 {child.name}）",
        before=before,
        after=snapshot(guardian, GUARDIAN_FIELDS),
    )
    return guardian


@transaction.atomic
def guardian_delete(*, actor, guardian: Guardian) -> None:
    child = guardian.child
    before = snapshot(guardian, GUARDIAN_FIELDS)
    audit_record(
        actor=actor,
        action="delete",
        obj=guardian,
        chain=child.county.prefix,
        summary=f"删除监护人 {guardian.name}（儿童 {child.name}）",
        before=before,
    )
    guardian.delete()


@transaction.atomic
def membership_add(
    *, actor, child: Child, group: str, source: str, recorded_on: dt.date, valid_until: dt.date | None = None, note: str = ""
) -> GroupMembership:
    membership, created = GroupMembership.objects.update_or_create(
        child=child,
        group=group,
        source=source,
        defaults={"recorded_on": recorded_on, "valid_until": valid_until, "note": note},
    )
    audit_record(
        actor=actor,
        action="create" if created else "update",
        obj=membership,
        chain=child.county.prefix,
        summary=f"{child.name} 认定为{membership.get_group_display()}（{membership.get_source_display()}）",
        after=snapshot(membership, ["group", "source", "recorded_on", "valid_until", "note"]),
    )
    return membership
