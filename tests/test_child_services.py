"""child_create / child_update: validation of the ID number, scope derived from the address,
provenance, and an audit trail that records only real changes and never a full ID number."""

import datetime as dt
import json
import re

import pytest
from django.core.exceptions import ValidationError

from kongchuo.audit.models import AuditEntry
from kongchuo.core.choices import Source
from kongchuo.people.identity import compose_id_number
from kongchuo.people.models import Child, FieldProvenance
from kongchuo.people.services import child_create, child_update
from kongchuo.places.models import Division

BIRTH = dt.date(2016, 9, 1)
NEW_ID = compose_id_number("500229", BIRTH, 21)  # male, unused by the world
FULL_ID = re.compile(r"\d{17}[\dXx]")


def _create(world, **overrides):
    values = {
        "actor": world.users["county_staff"],
        "name": "刘小强",
        "gender": "M",
        "birth_date": BIRTH,
        "id_number": NEW_ID,
        "household_division": world.village_b,
        "household_address": "二组",
    }
    values.update(overrides)
    return child_create(**values)


def _errors(exc_info) -> dict:
    return exc_info.value.message_dict


def _entries_text() -> str:
    rows = AuditEntry.objects.values("summary", "before", "after", "object_id", "object_type")
    return json.dumps(list(rows), ensure_ascii=False)


# --- create ------------------------------------------------------------------------------------


def test_invalid_id_is_refused_with_a_chinese_message_on_id_number(world):
    before = Child.objects.count()
    with pytest.raises(ValidationError) as exc:
        _create(world, id_number=NEW_ID[:17] + ("0" if NEW_ID[17] != "0" else "1"))
    errors = _errors(exc)
    assert list(errors) == ["id_number"]
    assert "校验位错误" in errors["id_number"][0]
    assert Child.objects.count() == before


def test_missing_id_is_refused_unless_pending_is_allowed(world):
    with pytest.raises(ValidationError) as exc:
        _create(world, id_number="")
    assert _errors(exc) == {"id_number": ["请填写居民身份证号"]}
    child = _create(world, id_number=None, allow_pending_id=True)
    assert child.id_number is None and child.id_number_status == Child.IdStatus.PENDING


def test_birth_date_inconsistent_with_id_is_refused(world):
    with pytest.raises(ValidationError) as exc:
        _create(world, birth_date=dt.date(2016, 1, 9))
    assert "与证件号中的2016-09-01不一致" in _errors(exc)["birth_date"][0]
    assert not Child.objects.filter(name="刘小强").exists()


def test_gender_inconsistent_with_id_is_refused(world):
    with pytest.raises(ValidationError) as exc:
        _create(world, gender="F")
    assert "性别与证件号不一致" in _errors(exc)["gender"][0]
    assert not Child.objects.filter(name="刘小强").exists()


def test_the_normalised_id_is_stored(world):
    sloppy = " ".join([NEW_ID[:6], NEW_ID[6:14], NEW_ID[14:]]).translate(
        {ord(d): ord(d) + 0xFEE0 for d in "0123456789"}
    )
    child = _create(world, id_number=sloppy)
    child.refresh_from_db()
    assert child.id_number == NEW_ID
    assert child.id_number_status == Child.IdStatus.VALID
    assert child.id_number_raw == ""


def test_legacy_15_digit_id_is_stored_as_18_digits(world):
    child = _create(world, id_number="500229970801123", birth_date=dt.date(1997, 8, 1))
    assert Child.objects.get(pk=child.pk).id_number == "500229199708011235"


def test_pending_id_keeps_the_child_with_the_raw_value(world):
    child = _create(world, id_number="50022920160901021", allow_pending_id=True)  # 17 digits
    child.refresh_from_db()
    assert child.id_number is None
    assert child.id_number_status == Child.IdStatus.PENDING
    assert child.id_number_raw == "50022920160901021"


def test_pending_id_still_refuses_a_valid_id_that_contradicts_the_birth_date(world):
    with pytest.raises(ValidationError) as exc:
        _create(world, birth_date=dt.date(2015, 1, 1), allow_pending_id=True)
    assert "birth_date" in _errors(exc)


def test_duplicate_id_is_refused_even_when_typed_differently(world):
    existing = world.children["a"]
    with pytest.raises(ValidationError) as exc:
        _create(
            world,
            id_number=f"{existing.id_number[:6]} {existing.id_number[6:]}",
            birth_date=existing.birth_date,
            gender=existing.gender,
        )
    assert "该身份证号已登记在系统中" in _errors(exc)["id_number"][0]
    assert Child.objects.filter(id_number=existing.id_number).count() == 1


def test_county_and_township_come_from_the_household_village(world):
    child = _create(world, household_division=world.village_b)
    assert (child.county, child.township) == (world.county, world.township_b)
    elsewhere = _create(
        world,
        id_number=compose_id_number("500230", BIRTH, 23),
        household_division=Division.objects.get(code="500230101001"),
    )
    assert elsewhere.county == world.county2
    assert elsewhere.township.parent == world.county2


def test_county_without_address_needs_an_explicit_county(world):
    with pytest.raises(ValidationError) as exc:
        _create(world, household_division=None)
    assert "household_division" in _errors(exc)
    child = _create(world, household_division=None, county=world.county)
    assert (child.county, child.township) == (world.county, None)


def test_provenance_is_written_with_the_source(world):
    child = _create(world, source=Source.HOUSEHOLD, reference="2026年户籍名单")
    row = FieldProvenance.objects.get(child=child)  # one row per child and source
    assert {"id_number", "name", "gender", "birth_date", "household_division", "household_address"} <= set(row.fields)
    assert "current_address" not in row.fields  # not given, so no source claimed for it
    assert "county" not in row.fields  # derived, not supplied
    assert (row.source, row.reference) == (Source.HOUSEHOLD, "2026年户籍名单")
    assert row.recorded_by == world.users["county_staff"]


def test_provenance_fields_are_kept_as_bits_and_read_as_a_sorted_list(world):
    from django.db import connection

    from kongchuo.people.models import SUPPLIED_FIELDS, field_names

    child = world.children["a"]
    row = FieldProvenance.objects.create(child=child, source=Source.SCHOOL, fields=["name", "current_address", "birth_date"],
                                         recorded_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    with connection.cursor() as cursor:
        cursor.execute("SELECT fields FROM people_fieldprovenance WHERE id = %s", [row.pk])
        stored = cursor.fetchone()[0]
    assert stored == sum(1 << SUPPLIED_FIELDS.index(f) for f in ("name", "current_address", "birth_date"))
    row.refresh_from_db()
    assert row.fields == ["birth_date", "current_address", "name"]
    FieldProvenance.objects.filter(pk=row.pk).update(fields=[])
    row.refresh_from_db()
    assert row.fields == []
    with pytest.raises(ValueError, match="guardian_name"):  # a name no bit stands for is refused, not dropped
        FieldProvenance.objects.filter(pk=row.pk).update(fields=["name", "guardian_name"])
    with pytest.raises(ValueError, match="beyond"):
        field_names(1 << len(SUPPLIED_FIELDS))


def test_the_bits_of_supplied_fields_keep_their_meaning():
    """A stored mask means the names its bits had when written: SUPPLIED_FIELDS may grow at its end, nothing else."""
    from kongchuo.people.models import SUPPLIED_FIELDS

    assert SUPPLIED_FIELDS[:13] == (
        "name", "gender", "birth_date", "ethnicity", "household_address", "current_address", "household_division",
        "current_division", "health", "disability_category", "disability_grade", "disability_certificate_no", "id_number",
    )
    assert len(set(SUPPLIED_FIELDS)) == len(SUPPLIED_FIELDS)


def test_provenance_survives_django_serialisation(world):
    """dumpdata / loaddata (fixtures, an export for support) write the mask as a number and read it back as names."""
    from django.core import serializers

    child = world.children["a"]
    FieldProvenance.objects.create(child=child, source=Source.SCHOOL, fields=["name", "current_address"],
                                   recorded_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    text = serializers.serialize("json", FieldProvenance.objects.filter(child=child, source=Source.SCHOOL))
    assert json.loads(text)[0]["fields"]["fields"] == 0b100001  # name, current_address
    FieldProvenance.objects.filter(child=child, source=Source.SCHOOL).delete()
    for obj in serializers.deserialize("json", text):
        obj.save()
    assert FieldProvenance.objects.get(child=child, source=Source.SCHOOL).fields == ["current_address", "name"]
    field = FieldProvenance._meta.get_field("fields")
    assert field.to_python('["name", "gender"]') == field.to_python("3") == field.to_python(("name", "gender")) == ["gender", "name"]


def test_create_is_audited_with_the_id_masked(world):
    child = _create(world)
    entry = AuditEntry.objects.get(object_type="people.child", object_id=str(child.pk), action="create")
    assert entry.chain == "500229"
    assert entry.after["id_number"] == NEW_ID[:6] + "********" + NEW_ID[-4:]
    assert NEW_ID not in _entries_text()


# --- update ------------------------------------------------------------------------------------


def test_update_audits_only_the_changed_fields(world):
    child = world.children["a"]
    n = AuditEntry.objects.count()
    child_update(
        actor=world.users["county_staff"], child=child, name="张 晓明", household_address="一组", health="1"
    )
    entry = AuditEntry.objects.order_by("-id").first()
    assert AuditEntry.objects.count() == n + 1
    assert entry.action == "update" and entry.object_id == str(child.pk)
    assert entry.before == {"name": "张小明"}
    assert entry.after == {"name": "张晓明"}
    child.refresh_from_db()
    assert (child.name, child.name_initials) == ("张晓明", "zxm")


def test_update_provenance_only_for_changed_fields(world):
    child = world.children["a"]
    child_update(
        actor=world.users["school_a"],
        child=child,
        source=Source.SCHOOL,
        reference="学校核对",
        current_address="县城滨河路8号",
        household_address="一组",
    )
    school_row = FieldProvenance.objects.get(child=child, source=Source.SCHOOL)
    assert school_row.fields == ["current_address"]


def test_no_op_update_writes_no_audit_entry(world):
    child = world.children["a"]
    n = AuditEntry.objects.count()
    provenance = FieldProvenance.objects.count()
    child_update(
        actor=world.users["county_staff"],
        child=child,
        name=" 张小明 ",
        gender=child.gender,
        birth_date=child.birth_date,
        id_number=child.id_number,
        household_division=child.household_division,
    )
    assert AuditEntry.objects.count() == n
    assert FieldProvenance.objects.count() == provenance


def test_changing_the_id_is_audited_masked_and_never_in_full(world):
    child = world.children["a"]
    old = child.id_number
    new = compose_id_number("500229", child.birth_date, 31)
    child_update(
        actor=world.users["county_staff"],
        child=child,
        id_number=new,
        household_address=f"一组（原证件号{old}）",
    )
    entry = AuditEntry.objects.order_by("-id").first()
    assert set(entry.before) == {"id_number", "household_address"}
    assert entry.before["id_number"] == old[:6] + "********" + old[-4:]
    assert entry.after["id_number"] == new[:6] + "********" + new[-4:]
    assert Child.objects.get(pk=child.pk).id_number == new
    text = _entries_text()
    for full in [old, new, *Child.objects.exclude(id_number=None).values_list("id_number", flat=True)]:
        assert full not in text
    assert not FULL_ID.search(text)


def test_update_refuses_a_birth_date_the_id_contradicts(world):
    child = world.children["a"]
    n = AuditEntry.objects.count()
    with pytest.raises(ValidationError) as exc:
        child_update(actor=world.users["county_staff"], child=child, birth_date=dt.date(2017, 3, 6))
    assert "birth_date" in _errors(exc)
    assert Child.objects.get(pk=child.pk).birth_date == dt.date(2017, 3, 5)
    assert AuditEntry.objects.count() == n


def test_update_to_a_duplicate_id_is_refused(world):
    a, b = world.children["a"], world.children["x"]
    with pytest.raises(ValidationError) as exc:
        child_update(actor=world.users["county_staff"], child=a, id_number=b.id_number)
    assert "该身份证号已登记在系统中" in _errors(exc)["id_number"][0]


def test_correcting_a_pending_id_makes_it_valid(world):
    child = _create(world, id_number="5002292016090102", allow_pending_id=True)
    child_update(actor=world.users["county_staff"], child=child, id_number=NEW_ID)
    child.refresh_from_db()
    assert (child.id_number, child.id_number_status, child.id_number_raw) == (
        NEW_ID,
        Child.IdStatus.VALID,
        "",
    )


def test_moving_household_to_another_township_moves_the_scope(world):
    child = world.children["a"]
    child_update(actor=world.users["county_staff"], child=child, household_division=world.village_b)
    child.refresh_from_db()
    assert child.township == world.township_b
    entry = AuditEntry.objects.order_by("-id").first()
    assert set(entry.after) == {"household_division", "township"}


def test_update_refuses_fields_it_does_not_own(world):
    with pytest.raises(ValueError):
        child_update(
            actor=world.users["county_staff"], child=world.children["a"], current_school=world.school_b
        )
