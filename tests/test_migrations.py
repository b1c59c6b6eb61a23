"""Migrations that change data, run from the state before them on both databases."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("people", "0006_provenance_refused"), ("imports", "0002_rowissue_sheet")]
AFTER = [("people", "0007_refused_from_conflicts")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def latest_schema_afterwards():
    """Every app migrated to its latest again after a test: the tests after these run on the schema they expect."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_provenance_field_lists_become_bit_masks_and_back():
    apps = migrate([("people", "0011_no_birth_date_index")])
    Division = apps.get_model("places", "Division")
    Child = apps.get_model("people", "Child")
    Provenance = apps.get_model("people", "FieldProvenance")
    county = Division.objects.create(code="500229", name="城口县", level=3, prefix="500229")
    children = [Child.objects.create(name=f"王{n}", gender="F", birth_date="2016-07-21", county=county, name_pinyin="", name_initials="",
                                id_number_status="pending")
                for n in range(4)]
    given = {  # as earlier code wrote them: sorted, unsorted with a repeat, empty, every field
        ("household", 0): ["birth_date", "gender", "household_division", "name"],
        ("registry", 0): ["name", "id_number", "name"],
        ("household", 1): ["birth_date", "gender", "household_division", "name"],
        ("manual", 2): [],
        ("disability", 3): ["disability_grade", "health", "current_division", "current_address", "ethnicity", "household_address",
                            "disability_category", "disability_certificate_no", "name", "gender", "birth_date", "household_division",
                            "id_number"],
    }
    for (source, n), fields in given.items():
        Provenance.objects.create(child=children[n], source=source, fields=fields, recorded_at="2026-11-01T00:00Z")

    apps = migrate([("people", "0012_provenance_fields_as_bits")])
    Provenance = apps.get_model("people", "FieldProvenance")
    held = {(p.source, children.index(next(c for c in children if c.pk == p.child_id))): p.fields for p in Provenance.objects.all()}
    assert held == {key: sorted(set(fields)) for key, fields in given.items()}
    with connection.cursor() as cursor:
        cursor.execute("SELECT fields FROM people_fieldprovenance")
        stored = sorted(row[0] for row in cursor.fetchall())
    assert stored[0] == 0 and stored[-1] == 2**13 - 1 and all(type(v) is int for v in stored)  # bits, not text

    apps = migrate([("people", "0011_no_birth_date_index")])  # and back
    Provenance = apps.get_model("people", "FieldProvenance")
    assert sorted(p.fields for p in Provenance.objects.all()) == sorted(sorted(set(f)) for f in given.values())


@pytest.mark.django_db(transaction=True)
def test_refused_values_are_filled_from_the_conflicts_of_an_older_database():
    apps = migrate(BEFORE)
    Division = apps.get_model("places", "Division")
    Child = apps.get_model("people", "Child")
    Provenance = apps.get_model("people", "FieldProvenance")
    Conflict = apps.get_model("imports", "IdentityConflict")
    county = Division.objects.create(code="500229", name="城口县", level=3, prefix="500229")
    towns = [Division.objects.create(code=f"500229{n}", name=name, level=4, parent=county, prefix=f"500229{n}")
             for n, name in (("101", "巴山镇"), ("102", "坪坝镇"))]
    new_village = [Division.objects.create(code=f"{t.code}002", name="新村", level=5, parent=t, prefix=f"{t.code}002") for t in towns]
    Division.objects.create(code="500229102003", name="龙泉村", level=5, parent=towns[1], prefix="500229102003")

    def child(name, n):
        return Child.objects.create(name=name, gender="F", birth_date="2016-07-21", county=county, township=towns[0],
                                    household_division=new_village[0], name_pinyin="", name_initials="", id_number=f"50022920160721{n:04d}")

    def conflict(c, field, kept, kept_source, other, other_source):
        Conflict.objects.create(child=c, field=field, kept_value=kept, kept_source=kept_source, other_value=other,
                                other_source=other_source, county=county)

    wang, liu = child("王丽", 2021), child("刘军", 1010)
    for c in (wang, liu):
        for source in ("household", "registry", "disability"):
            Provenance.objects.create(child=c, source=source, fields=["name", "household_division"], recorded_at="2026-11-01T00:00Z")
    conflict(wang, "name", "王丽", "household", "汪丽", "registry")  # still not held
    conflict(wang, "name", "王丽", "household", "汪莉", "registry")  # the registry's later value: this one shows
    conflict(liu, "name", "刘军", "household", "刘君", "registry")
    conflict(liu, "name", "刘君", "registry", "刘军", "household")  # held again: nothing to show for the registry
    conflict(wang, "household_division", "新村", "household", "新村", "disability")  # two townships' 新村
    conflict(liu, "household_division", "新村", "household", "龙泉村", "disability")
    conflict(liu, "household_division", "巴山镇新村", "household", "坪坝镇龙泉村", "disability")  # again, in the new form
    liu.name = "刘君"
    liu.save()

    apps = migrate(AFTER)
    Provenance = apps.get_model("people", "FieldProvenance")
    Conflict = apps.get_model("imports", "IdentityConflict")
    refused = {(p.child.name, p.source): p.refused for p in Provenance.objects.select_related("child") if p.refused}
    assert refused == {("王丽", "registry"): {"name": "汪莉"}, ("刘君", "household"): {"name": "刘军"},
                       ("王丽", "disability"): {"household_division": "新村"},  # not the one held, whichever it was
                       ("刘君", "disability"): {"household_division": "坪坝镇龙泉村"}}
    assert set(Conflict.objects.filter(field="household_division").values_list("kept_value", "other_value")) == {
        ("巴山镇新村", "新村"),  # which 新村 the disability list meant cannot be told
        ("巴山镇新村", "坪坝镇龙泉村"),
    }
