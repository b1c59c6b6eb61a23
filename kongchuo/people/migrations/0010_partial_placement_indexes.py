"""people_child's indexes on a child's school (with name), class and current residence: of the children that have one.

A county's police list, the largest it loads, leaves all three empty; indexed whole, they held an entry for every
child, and the (school, name) one was built again after every large import (bulkload). Every look-up through them
names a school, class or division (=, IN), which implies NOT NULL: SQLite and PostgreSQL use the partial ones.

The two foreign keys lose their own index by DROP INDEX (on both databases, as Django named them when it made them):
altering the fields as Django would rebuilds the whole table on SQLite, for a change of no column.
"""

import django.db.models.deletion
from django.db import migrations, models

FK_INDEXES = {
    "people_child_current_class_id_e1895283": "current_class_id",
    "people_child_current_division_id_8c21f5cf": "current_division_id",
}


class Migration(migrations.Migration):

    dependencies = [
        ("people", "0009_provenance_without_fk_indexes"),
        ("places", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="child", name="people_chil_current_0c918b_idx"),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="child",
                    name="current_class",
                    field=models.ForeignKey(
                        blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL,
                        related_name="current_children", to="places.schoolclass", verbose_name="当前班级",
                    ),
                ),
                migrations.AlterField(
                    model_name="child",
                    name="current_division",
                    field=models.ForeignKey(
                        blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT,
                        related_name="resident_children", to="places.division", verbose_name="现住址区划",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX "{name}" ON "people_child" ("{column}")')
                for name, column in FK_INDEXES.items()
            ],
        ),
        migrations.AddIndex(
            model_name="child",
            index=models.Index(condition=models.Q(current_school__isnull=False), fields=["current_school", "name"], name="child_school_name_idx"),
        ),
        migrations.AddIndex(
            model_name="child",
            index=models.Index(condition=models.Q(current_class__isnull=False), fields=["current_class"], name="child_class_idx"),
        ),
        migrations.AddIndex(
            model_name="child",
            index=models.Index(condition=models.Q(current_division__isnull=False), fields=["current_division"], name="child_residence_idx"),
        ),
    ]
