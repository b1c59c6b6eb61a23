"""Bulk loads on SQLite build the secondary indexes once at the end; the schema is never left without them."""

import contextlib
import csv
import datetime as dt

import pytest
from django.db import connection, transaction

from kongchuo.core import bulkload
from kongchuo.imports.services import import_run, import_store
from kongchuo.people.identity import compose_id_number
from kongchuo.people.models import Child, FieldProvenance, Guardian

sqlite_only = pytest.mark.skipif("connection.vendor != 'sqlite'", reason="PostgreSQL keeps its indexes live (see bulkload)")


def index_definitions() -> dict[str, str]:
    """Every index of the database with the statement (SQLite) or definition (PostgreSQL) that makes it."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index'")
        else:
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
        return dict(cursor.fetchall())


def household_list(path, count: int, start: int = 0):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["姓名", "性别", "出生日期", "公民身份号码", "乡镇", "村", "监护人", "联系电话"])
        for i in range(start, start + count):
            born = dt.date(2012, 1, 1) + dt.timedelta(days=i % 3000)  # up to 2020: all of school age
            writer.writerow(["张" + "明华强伟芳"[i % 5] + "丽军平秀英"[i // 5 % 5], "男", f"{born:%Y-%m-%d}",
                             compose_id_number("500229", born, 1 + 2 * (i // 3000)), "巴山镇", "巴山村", "张建国", f"139{i:08d}"])
    return path


@pytest.fixture
def recorded(monkeypatch):
    """Small lists count as bulk loads here, and the names of the indexes each load deferred are kept."""
    monkeypatch.setattr(bulkload, "MINIMUM_ROWS", 1)
    seen: list[list[str]] = []
    original = bulkload.secondary_indexes_deferred

    @contextlib.contextmanager
    def spy(*args, **kwargs):
        with original(*args, **kwargs) as names:
            seen.append(list(names))
            yield names

    monkeypatch.setattr("kongchuo.imports.services.secondary_indexes_deferred", spy)
    return seen


@sqlite_only
def test_which_indexes_wait_for_the_end(world):
    before = index_definitions()
    with transaction.atomic(), bulkload.secondary_indexes_deferred([Child, FieldProvenance, Guardian], incoming=50_000) as names:
        during = index_definitions()
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM people_child")  # the load's own queries still work
    assert set(names) == set(before) - set(during)
    deferred = {before[n] for n in names}
    # Random-order keys that the load never reads: village, township + name.
    for column in ('"household_division_id"', '"township_id", "name"'):
        assert any(f"({column})" in sql for sql in deferred), column
    tables = ("people_child", "people_fieldprovenance", "people_guardian")
    kept = {sql for sql in during.values() if any(f'ON "{t}"' in sql for t in tables)}
    # Kept: what enforces uniqueness, and what the import looks children, guardians and provenance up by.
    assert any('"id_number"' in sql and "UNIQUE" in sql for sql in kept)
    assert any('("county_id", "name")' in sql for sql in kept)
    assert any('"people_guardian" ("child_id")' in sql for sql in kept)
    assert not any("UNIQUE" in before[n] for n in names)
    assert index_definitions() == before  # made again, from the same statements


@sqlite_only
def test_an_exception_brings_the_indexes_back_with_the_rollback(world):
    before = index_definitions()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        with bulkload.secondary_indexes_deferred([Child], incoming=50_000) as names:
            assert names and set(names).isdisjoint(index_definitions())
            1 / 0  # noqa: B018
    assert index_definitions() == before


def test_small_loads_and_postgresql_keep_every_index_live(world):
    before = index_definitions()
    with transaction.atomic():
        with bulkload.secondary_indexes_deferred([Child], incoming=bulkload.MINIMUM_ROWS - 1) as names:
            assert names == []
        with bulkload.secondary_indexes_deferred([Child], incoming=10 * bulkload.MINIMUM_ROWS) as names:
            assert bool(names) == (connection.vendor == "sqlite")
    assert index_definitions() == before


@sqlite_only
def test_a_load_smaller_than_the_table_keeps_them_live(world, monkeypatch):
    monkeypatch.setattr(bulkload, "MINIMUM_ROWS", 1)
    existing = Child.objects.count()
    assert existing >= 2
    with transaction.atomic():
        with bulkload.secondary_indexes_deferred([Child], incoming=existing - 1) as names:
            assert names == []  # keeping them up row by row is cheaper than rebuilding the table's
        with bulkload.secondary_indexes_deferred([Child], incoming=existing) as names:
            assert names


@sqlite_only
def test_a_caller_chooses_per_table_which_leading_columns_stay_live(world):
    with transaction.atomic():
        with bulkload.secondary_indexes_deferred([Child, Guardian], incoming=50_000) as default:
            pass
        with bulkload.secondary_indexes_deferred([Child, Guardian], incoming=50_000, keep_leading={Child: frozenset()}) as chosen:
            live = index_definitions()
    assert set(chosen) - set(default) == {name for name, sql in index_definitions().items() if '("county_id", "name")' in sql}
    assert any('"people_guardian" ("child_id")' in sql for sql in live.values())  # other tables: the default
    assert any("UNIQUE" in sql and '"id_number"' in sql for sql in live.values())


def test_constants_are_written_into_every_row(world):
    """insert_rows writes `constants` into each row (SQLite: as literals in the statement, quotes and % included)."""
    from kongchuo.imports.apply import insert_rows, sql_literal

    child = Child.objects.first()
    odd = "它's 100% \"sure\" %s; --"
    insert_rows(Guardian, ["child", "name"], [(child.pk, "甲"), (child.pk, "乙")], {"relation": odd, "phone": "", "order": 7})
    assert list(Guardian.objects.filter(order=7).order_by("pk").values_list("name", "relation", "phone")) == [
        ("甲", odd, ""), ("乙", odd, "")]
    assert [sql_literal(v) for v in (None, True, 3, 2.5, "a'b%c")] == ["NULL", "1", "3", "2.5", "'a''b%c'"]
    for unsafe in (b"x", float("nan"), "a\x00b", object()):
        with pytest.raises(TypeError):
            sql_literal(unsafe)


@pytest.mark.parametrize("variable_limit", [None, 12])
def test_rows_are_written_whole_and_in_order_across_statements(world, variable_limit):
    """insert_rows splits rows into statements of ROWS_PER_STATEMENT (fewer where SQLite allows fewer bound
    values per statement: a limit of 12 leaves two rows of five): every row lands once, in order, the last
    statement shorter."""
    from kongchuo.imports.apply import ROWS_PER_STATEMENT, insert_rows

    child = Child.objects.first()
    count = 2 * ROWS_PER_STATEMENT + 51
    rows = [(child.pk, f"监护人{i}", "other", f"1380000{i:04d}", i) for i in range(count)]
    driver = None
    if variable_limit and connection.vendor == "sqlite":
        import sqlite3

        connection.ensure_connection()
        driver = connection.connection
        before = driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variable_limit)
    try:
        insert_rows(Guardian, ["child", "name", "relation", "phone", "order"], rows)
    finally:
        if driver is not None:
            driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, before)
    written = Guardian.objects.filter(relation="other", name__startswith="监护人").order_by("pk")
    assert list(written.values_list("child_id", "name", "relation", "phone", "order")) == rows


def test_a_refused_row_raises_djangos_error(world):
    from django.db import IntegrityError

    from kongchuo.imports.apply import insert_rows

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Guardian, ["child", "name", "relation", "phone", "order"], [(Child.objects.first().pk, None, "other", "", 1)])


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_refuses():
    if connection.vendor != "sqlite":
        pytest.skip("a no-op on PostgreSQL")
    with pytest.raises(RuntimeError, match="transaction"):
        with bulkload.secondary_indexes_deferred([Child], incoming=50_000):
            pass


@sqlite_only
def test_a_large_import_and_a_dry_run_leave_the_schema_as_it_was(world, tmp_path, recorded):
    before = index_definitions()
    path = household_list(tmp_path / "big.csv", 300)
    for dry_run in (True, False):
        batch = import_store(actor=None, source="household", upload=path, file_name=path.name, county_code="500229")
        summary = import_run(batch=batch, actor=None, dry_run=dry_run)
        assert (summary["created"], summary["rejected"]) == (300, 0)
        assert index_definitions() == before
    assert len(recorded) == 2 and all(recorded)  # both runs did defer them
    deferred = {before[name] for name in recorded[0]}
    # The import finds the county's children without an ID in memory: people_child's (county, name) index waits
    # too, as does (school, name), random names again. What it looks rows up by stays live, and so does what it
    # appends in order: a new child's class and current residence (none, in a police list), and every index of
    # provenance and guardians.
    assert any('ON "people_child" ("county_id", "name")' in sql for sql in deferred)
    assert any('ON "people_child" ("current_school_id", "name")' in sql for sql in deferred)
    assert not any(column in sql for sql in deferred for column in ('("current_class_id")', '("current_division_id")'))
    assert all('ON "people_child"' in sql for sql in deferred)
    assert Child.objects.filter(id_number=compose_id_number("500229", dt.date(2012, 1, 1), 1)).exists()
    # The rebuilt indexes serve the searches they exist for.
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN SELECT id FROM people_child WHERE township_id = 3 ORDER BY name")
        assert "townshi" in " ".join(str(row) for row in cursor.fetchall())


@sqlite_only
def test_unique_indexes_wait_only_when_asked_and_a_duplicate_then_fails_the_whole_load(world):
    from django.db import IntegrityError

    before = index_definitions()
    unique = next(name for name, sql in before.items() if "UNIQUE" in sql and '"id_number"' in sql)
    with transaction.atomic():
        with bulkload.secondary_indexes_deferred([Child], incoming=50_000) as names:
            assert unique not in names
        with bulkload.secondary_indexes_deferred([Child], incoming=50_000, unique_too=[Child]) as names:
            assert unique in names and unique not in index_definitions()
            # The table's own unique constraints are never dropped (provenance's (child, source)).
        with bulkload.secondary_indexes_deferred([FieldProvenance], incoming=50_000, unique_too=[FieldProvenance]) as names:
            assert not any(name.startswith("sqlite_autoindex") for name in names)
    assert index_definitions() == before
    count, twin = Child.objects.count(), Child.objects.exclude(id_number=None).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        with bulkload.secondary_indexes_deferred([Child], incoming=50_000, unique_too=[Child]):
            twin.pk = None
            twin.save()  # nothing checks the number now: the index made again at the end does
    assert index_definitions() == before and Child.objects.count() == count


@pytest.mark.django_db
@sqlite_only
def test_a_first_list_with_id_numbers_builds_their_unique_index_at_the_end(tmp_path, recorded):
    from kongchuo.places.models import Division
    from kongchuo.places.services import division_create

    county = division_create(actor=None, code="500229", name="城口县", level=Division.Level.COUNTY)
    division_create(actor=None, code="500229101", name="巴山镇", level=Division.Level.TOWNSHIP, parent=county)
    before = index_definitions()
    unique = next(name for name, sql in before.items() if "UNIQUE" in sql and '"id_number"' in sql)
    first = household_list(tmp_path / "first.csv", 40)
    with open(first, encoding="utf-8") as fh:
        listed = list(csv.reader(fh))[1]
    with open(first, "a", newline="", encoding="utf-8") as fh:  # a child listed twice: one child, no duplicate number
        csv.writer(fh).writerow(listed)
    for path, dry_run in ((first, True), (first, False), (household_list(tmp_path / "again.csv", 40, start=20), False)):
        batch = import_store(actor=None, source="household", upload=path, file_name=path.name, county_code="500229")
        summary = import_run(batch=batch, actor=None, dry_run=dry_run)
        assert summary["rejected"] == 0 and index_definitions() == before
    # A dry run rolls back before the end, where the index would check the numbers: it keeps it live. The second
    # list looks its numbers up through it.
    assert unique not in recorded[0] and unique in recorded[1] and unique not in recorded[2]
    assert all(recorded)  # each did defer the others
    assert Child.objects.count() == 60 and Child.objects.values("id_number").distinct().count() == 60


def test_the_pinyin_search_has_prefix_indexes_only_where_the_database_can_use_them(world):
    """PostgreSQL answers `name_pinyin LIKE 'q%'` from its pattern_ops indexes; SQLite, whose LIKE ignores case, cannot
    from an index in binary order (migration 0008): there they would only cost every write. The search works on both."""
    from kongchuo.people.selectors import ChildFilters, child_list_for_user

    pinyin = [sql for sql in index_definitions().values() if "name_pinyin" in sql or "name_initials" in sql]
    if connection.vendor == "sqlite":
        assert pinyin == []
    else:
        assert len(pinyin) == 2 and all("varchar_pattern_ops" in sql for sql in pinyin)
        with connection.cursor() as cursor:  # with scans off, the planner shows it can take them
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN SELECT id FROM people_child WHERE name_pinyin LIKE 'liu%'")
            assert "child_pinyin_prefix" in "".join(row[0] for row in cursor.fetchall())
    assert [c.name for c in child_list_for_user(world.users["county_staff"], ChildFilters(q="ZXM"))] == ["张小明"]
    assert [c.name for c in child_list_for_user(world.users["county_staff"], ChildFilters(q="lixiao"))] == ["李小红"]


def test_provenance_keeps_no_index_nothing_looks_up_and_a_deleted_batch_still_lets_go_of_it(world, tmp_path):
    """FieldProvenance's batch and recorded_by have no index of their own (migration people 0009): every provenance
    row would keep them up, and nothing asks which children an import or a user supplied. Deleting a batch still
    sets its rows' batch to NULL."""
    from kongchuo.imports.models import ImportBatch

    provenance = [sql for sql in index_definitions().values() if "people_fieldprovenance" in sql]
    assert not [sql for sql in provenance if "batch_id" in sql or "recorded_by_id" in sql], provenance
    assert any('"source", "child_id"' in sql or "(source, child_id)" in sql for sql in provenance), provenance
    path = household_list(tmp_path / "l.csv", 3)
    batch = import_store(actor=world.users["county_staff"], source="household", upload=path, file_name=path.name)
    import_run(batch=batch, actor=world.users["county_staff"], dry_run=False)
    assert FieldProvenance.objects.filter(batch=batch).count() == 3
    ImportBatch.objects.filter(pk=batch.pk).delete()
    assert FieldProvenance.objects.filter(batch__isnull=True, source="household").count() >= 3


def test_placement_indexes_hold_only_children_placed_and_serve_the_look_ups_through_them(world, tmp_path):
    """people_child's indexes on a child's school (with name), class and current residence are partial (migration
    people 0010): a police list, which places no one, adds nothing to them, and a school's, class's or village's
    children are still found through them on both databases."""
    from kongchuo.places.models import School

    definitions = {name: sql for name, sql in index_definitions().items() if "people_child" in sql}
    for column in ("current_school_id", "current_class_id", "current_division_id"):
        on_it = [sql for sql in definitions.values() if f'("{column}"' in sql or f"({column}" in sql]
        assert len(on_it) == 1 and "IS NOT NULL" in on_it[0], on_it
    path = household_list(tmp_path / "l.csv", 30)
    batch = import_store(actor=None, source="household", upload=path, file_name=path.name, county_code="500229")
    assert import_run(batch=batch, actor=None, dry_run=False)["created"] == 30
    placed = Child.objects.filter(current_school__isnull=False).count()
    assert 0 < placed < Child.objects.count()  # the world's pupils; the list's children have no school
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT COUNT(*) FROM people_child INDEXED BY child_school_name_idx WHERE current_school_id IS NOT NULL")
            assert cursor.fetchone()[0] == placed  # only they have an entry
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")  # with scans off, the planner shows it can take them
    school = School.objects.filter(current_children__isnull=False).first()
    looked_up = {
        "child_school_name_idx": Child.objects.filter(current_school=school).order_by("name"),
        "child_class_idx": Child.objects.filter(current_class__in=[1, 2]),
        "child_residence_idx": Child.objects.filter(current_division=school.township_id),
    }
    for index, query in looked_up.items():
        assert index in query.explain(), (index, query.explain())
    assert [c.pk for c in looked_up["child_school_name_idx"]] == list(
        Child.objects.filter(current_school_id=school.pk).order_by("name", "id").values_list("pk", flat=True))
