"""Bulk loads on SQLite: build the secondary indexes once at the end instead of row by row.

An index on a column whose values arrive in random order (a name, its pinyin, a birth date, a
village) costs a B-tree descent and often a page split for every row written: on a county's first
household list of 200,000 children that is most of the import's time. Building the same index from
the finished table is one sort, several times cheaper. This is what SQLite's own documentation and
every bulk loader (pg_restore, sqlite3 `.import` scripts) do.

`secondary_indexes_deferred` drops such indexes inside the caller's transaction and creates them
again, from the very statements that made them, before the transaction commits. SQLite's DDL is
transactional: a rollback, an exception or a killed process brings them back with everything else,
and other connections (WAL readers) never see a table without them. Kept live, because the load
itself looks rows up through them or they guard data:

* unique indexes and constraints (an ID number stays unique while the load runs), but for a
  caller's `unique_too` (below);
* indexes leading with `child_id` or `county_id` (the import finds a child's guardians and
  provenance through them, a registry list the county's enrolments). A caller gives a model its own
  set of leading columns in `keep_leading`: the imports find the county's children without an ID in
  memory, so of people_child's they keep only those whose keys they append in order (a new child's
  class and current residence alone: empty in a police list), which cost next to nothing live.

A caller that looks nothing up through a table's unique indexes may have them wait too (`unique_too`):
made again at the end, they check every row at once, and a duplicate raises IntegrityError there, which
rolls the whole load back. (A county's first police list: no child has an ID number yet, so it looks none
up, and a random-order unique index of 200,000 ID numbers kept live costs more than building it.)

Only a load at least as large as the table is worth it (otherwise rebuilding costs more than it
saves), and PostgreSQL is left alone: there DROP INDEX would lock the table against every reader of
every county for the whole load, and COPY already writes fast.
"""

import contextlib
from collections.abc import Iterable, Iterator, Mapping

from django.db import connection, models

KEEP_LEADING = frozenset({"child_id", "county_id"})
MINIMUM_ROWS = 10_000  # below this, incremental index upkeep is cheap enough


@contextlib.contextmanager
def secondary_indexes_deferred(
    models_: Iterable[type[models.Model]],
    *,
    incoming: int | None,
    keep_leading: Mapping[type[models.Model], frozenset[str]] | None = None,
    unique_too: Iterable[type[models.Model]] = (),
) -> Iterator[list[str]]:
    """Within a transaction: drop the deferrable indexes of each model's table that `incoming` new rows
    would outgrow, yield their names, create them again on a clean exit. `keep_leading` gives a model
    its own set of leading columns to keep live instead of KEEP_LEADING; the unique indexes of the models
    in `unique_too` wait as well (see the module's docstring)."""
    unique_too = set(unique_too)
    if connection.vendor != "sqlite" or not incoming or incoming < MINIMUM_ROWS:
        yield []
        return
    if not connection.in_atomic_block:
        raise RuntimeError("secondary_indexes_deferred needs the caller's transaction (transaction.atomic)")
    statements: list[tuple[str, str]] = []  # (index name, CREATE INDEX …) in the order they were made
    with connection.cursor() as cursor:
        for model in models_:
            table = model._meta.db_table
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            if cursor.fetchone()[0] > incoming:
                continue
            statements += _deferrable(cursor, table, (keep_leading or {}).get(model, KEEP_LEADING), unique=model in unique_too)
        for name, _ in statements:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    yield [name for name, _ in statements]
    # An exception skips this: the rollback restores the indexes. So does a transaction already doomed.
    if statements and not connection.needs_rollback:
        with connection.cursor() as cursor:
            for _, sql in statements:
                cursor.execute(sql)


def _deferrable(cursor, table: str, keep_leading: frozenset[str], *, unique: bool = False) -> list[tuple[str, str]]:
    cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL", [table])
    made = dict(cursor.fetchall())
    found = []
    cursor.execute(f"PRAGMA index_list({connection.ops.quote_name(table)})")
    for _seq, name, is_unique, origin, _partial in cursor.fetchall():
        if origin != "c" or name not in made:  # the table's own (PRIMARY KEY, UNIQUE in CREATE TABLE): not ours to drop
            continue
        if is_unique:
            if unique:
                found.append((name, made[name]))
            continue
        cursor.execute(f"PRAGMA index_info({connection.ops.quote_name(name)})")
        columns = [column for _rank, _cid, column in sorted(cursor.fetchall())]
        if columns and columns[0] not in keep_leading:
            found.append((name, made[name]))
    return found
