"""people_child without its index on birth date alone: nothing asks for a child by birth date alone.

The imports find a child without an ID number by name and birth date, through (county, name) (apply.refuse_strangers)
or by id (apply._existing_children); matching reads a county's children whole; no page or list filters by it. The
index cost every child written on PostgreSQL, and 0.15 s after a 200,000-row police list on SQLite (bulkload).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("people", "0010_partial_placement_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="child", name="people_chil_birth_d_fa62a5_idx"),
    ]
