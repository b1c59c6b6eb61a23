"""FieldProvenance's batch and recorded_by without an index of their own (the model says why).

Only the indexes go (DROP INDEX, on both databases): altering the fields as Django would rebuilds the whole table
on SQLite, twice, for a change of no column.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEXES = {  # as Django named them when it made them (0001, 0002), on SQLite and PostgreSQL alike
    "people_fieldprovenance_batch_id_c472fc5e": "batch_id",
    "people_fieldprovenance_recorded_by_id_c03598ea": "recorded_by_id",
}


class Migration(migrations.Migration):

    dependencies = [
        ("people", "0008_pinyin_prefix_indexes_postgresql_only"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="fieldprovenance",
                    name="batch",
                    field=models.ForeignKey(
                        blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                        to="imports.importbatch", verbose_name="导入批次",
                    ),
                ),
                migrations.AlterField(
                    model_name="fieldprovenance",
                    name="recorded_by",
                    field=models.ForeignKey(
                        blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX "{name}" ON "people_fieldprovenance" ("{column}")')
                for name, column in INDEXES.items()
            ],
        ),
    ]
