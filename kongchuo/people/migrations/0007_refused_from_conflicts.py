"""A database from before FieldProvenance.refused: fill it from the identity conflicts recorded so far, and name
the villages of household-division conflicts with their township, as conflict_value now does (坪坝镇新村), so
that the next import of a list does not record its conflicts again under the new form of the same value."""

import datetime as dt
from collections import defaultdict

from django.db import migrations

VILLAGE = 5


def _shown(division) -> str:
    if division.level == VILLAGE and division.parent_id:
        return division.parent.name + division.name
    return division.name


def _value(child, field: str) -> str:
    """people.models.conflict_value of the child's field, with this migration's models."""
    value = getattr(child, field, None)
    if hasattr(value, "level") and hasattr(value, "parent_id"):  # a Division
        return _shown(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def _village_named(Division, county_prefix: str, name: str, held):
    """The one division of the county that conflict text `name` (old form: its own name) stands for, else None."""
    if held is not None and held.name == name:
        return held
    found = list(Division.objects.filter(prefix__startswith=county_prefix, level__gte=4, name=name).select_related("parent")[:2])
    return found[0] if len(found) == 1 else None


def forwards(apps, schema_editor):
    Division = apps.get_model("places", "Division")
    Conflict = apps.get_model("imports", "IdentityConflict")
    Provenance = apps.get_model("people", "FieldProvenance")
    for conflict in Conflict.objects.filter(field="household_division").select_related("child__household_division__parent", "county"):
        held = conflict.child.household_division
        prefix = conflict.county.prefix
        kept = _village_named(Division, prefix, conflict.kept_value, held)
        other = _village_named(Division, prefix, conflict.other_value, None)
        kept_value = _shown(kept) if kept else conflict.kept_value
        other_value = _shown(other) if other else conflict.other_value
        if (kept_value, other_value) != (conflict.kept_value, conflict.other_value):
            again = Conflict.objects.filter(child_id=conflict.child_id, field=conflict.field, other_source=conflict.other_source,
                                            other_value=other_value[:200]).exclude(pk=conflict.pk)
            if again.exists():  # recorded again in the new form since: the old one goes
                conflict.delete()
                continue
            conflict.kept_value, conflict.other_value = kept_value[:200], other_value[:200]
            conflict.save(update_fields=["kept_value", "other_value"])

    refused = defaultdict(dict)  # (child id, source) → {field: the source's value the child does not hold}
    for conflict in Conflict.objects.select_related("child__household_division__parent").order_by("id"):  # the latest last
        key = (conflict.child_id, conflict.other_source)
        if _value(conflict.child, conflict.field) != conflict.other_value:
            refused[key][conflict.field] = conflict.other_value
        else:
            refused[key].pop(conflict.field, None)
    for (child_id, source), values in refused.items():
        for row in Provenance.objects.filter(child_id=child_id, source=source) if values else ():
            if not row.refused:  # one an import has written since the column came is left as it is
                row.refused = values
                row.save(update_fields=["refused"])


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0006_provenance_refused"),
        ("imports", "0002_rowissue_sheet"),
        ("places", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
