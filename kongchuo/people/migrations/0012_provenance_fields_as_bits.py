"""FieldProvenance.fields as a bit mask of the child's field names (people.models.FieldNamesField), not a JSON list.

A county's first police list writes a provenance row for each of its 200,000 children, and the list of names as
JSON was 90 of a row's 164 bytes. In Python the field is a sorted list of names, as the JSON list was.
"""

from django.db import migrations

import kongchuo.people.models

BATCH = 500  # primary keys per UPDATE: within SQLite's limit on variables


def _rewrite(apps, schema_editor, *, read: str, write: str, key) -> None:
    FieldProvenance = apps.get_model("people", "FieldProvenance")
    rows = FieldProvenance.objects.using(schema_editor.connection.alias)
    by_value: dict = {}
    for pk, names in rows.values_list("pk", read).iterator(chunk_size=10_000):
        by_value.setdefault(key(names or []), []).append(pk)
    for value, pks in by_value.items():
        for start in range(0, len(pks), BATCH):
            rows.filter(pk__in=pks[start : start + BATCH]).update(**{write: list(value)})


def lists_to_masks(apps, schema_editor) -> None:
    # A name no mask has a bit for stops the migration (field_mask raises): SUPPLIED_FIELDS must be extended first.
    _rewrite(apps, schema_editor, read="fields_json", write="fields", key=lambda names: tuple(sorted(set(names))))


def masks_to_lists(apps, schema_editor) -> None:
    _rewrite(apps, schema_editor, read="fields", write="fields_json", key=tuple)


class Migration(migrations.Migration):

    dependencies = [
        ("people", "0011_no_birth_date_index"),
    ]

    operations = [
        migrations.RenameField(model_name="fieldprovenance", old_name="fields", new_name="fields_json"),
        migrations.AddField(
            model_name="fieldprovenance",
            name="fields",
            field=kongchuo.people.models.FieldNamesField(default=list, verbose_name="提供的字段"),
        ),
        migrations.RunPython(lists_to_masks, masks_to_lists),
        migrations.RemoveField(model_name="fieldprovenance", name="fields_json"),
    ]
