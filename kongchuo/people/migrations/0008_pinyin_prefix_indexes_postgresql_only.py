"""The pinyin prefix indexes (0004) on PostgreSQL only.

SQLite never used them: people.selectors searches pinyin with `startswith`, a LIKE, and SQLite's LIKE ignores case,
so an index in the column's own (binary) order cannot serve it (EXPLAIN QUERY PLAN: SCAN people_child). They only
cost every write: 0.4 s of building them again after a county's first 200,000-row police list (kongchuo.core.bulkload),
a B-tree step per new child otherwise. A search scans the county's children instead, about 40 ms for 200,000.
PostgreSQL uses them (varchar_pattern_ops) and keeps them.

The models' state drops them on both, so that SQLite's table rebuilds (an altered column) do not bring them back;
on PostgreSQL they stay in the database, which no later migration touches.
"""

from django.db import migrations

INDEXES = {"child_pinyin_prefix": "name_pinyin", "child_initials_prefix": "name_initials"}


def drop_on_sqlite(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def make_on_sqlite(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name, column in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX {schema_editor.quote_name(name)} ON people_child ({schema_editor.quote_name(column)})")


class Migration(migrations.Migration):

    dependencies = [
        ("people", "0007_refused_from_conflicts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="child", name=name) for name in INDEXES
            ],
            database_operations=[migrations.RunPython(drop_on_sqlite, make_on_sqlite)],
        ),
    ]
