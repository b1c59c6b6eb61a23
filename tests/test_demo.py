"""The demo county: deterministic, calibrated on seed 003, valid data, loaded once, usable by every persona."""

import datetime as dt
import hashlib
import io
import os
import subprocess
import sys
from collections import Counter

import pytest
from django.core.management import call_command

from kongchuo.accounts.models import Role, User
from kongchuo.accounts.scoping import children_for, classes_for, schools_for
from kongchuo.audit.models import AuditEntry
from kongchuo.audit.services import audit_verify
from kongchuo.core.choices import Source
from kongchuo.demo import names_data
from kongchuo.demo.generator import ANOMALY_SIZES, COUNTY_CODE, DemoCounty, generate
from kongchuo.demo.loader import DEMO_PASSWORD, DEMO_USERS, DemoLoadError, child_ids, load
from kongchuo.enrolments.models import ACTIVE_STATUSES, OPEN_STATUSES, Enrolment, ExternalStudy, Status, StatusChange
from kongchuo.enrolments.services import INITIAL_STATUSES, TRANSITIONS
from kongchuo.people.identity import InvalidIdNumber, normalise_id_number, normalise_student_number
from kongchuo.people.models import Child, FieldProvenance, GroupMembership, Guardian, SpecialGroup
from kongchuo.people.names import name_pinyin
from kongchuo.places.models import Division, School, SchoolClass

SMALL = 0.03  # ~860 children: enough for every category, fast to load
REGIONS = {COUNTY_CODE} | {code for code, _ in names_data.OTHER_BIRTH_REGIONS} | {
    code for code, _, _ in names_data.OUTSIDE_HOUSEHOLDS}


@pytest.fixture(scope="module")
def county() -> DemoCounty:
    return generate()  # full scale, pure Python (~2 s)


@pytest.fixture(scope="module")
def small() -> DemoCounty:
    return generate(scale=SMALL)


def active(child):
    return [e for e in child.enrolments if e.status in ACTIVE_STATUSES]


def school_year_start(ds: DemoCounty) -> int:
    return ds.as_of.year if ds.as_of.month >= 9 else ds.as_of.year - 1


def grade_window(ds: DemoCounty, grade: int, shift: int = 0) -> tuple[dt.date, dt.date]:
    """Born in this window → in `grade` at the normal age (6 by 31 August), `shift` years late."""
    last = school_year_start(ds) - 5 - grade - shift
    return dt.date(last - 1, 9, 1), dt.date(last, 8, 31)


def eligible(ds: DemoCounty, birth: dt.date) -> bool:
    return grade_window(ds, 9)[0] <= birth <= grade_window(ds, 1)[1]


# --- generation -------------------------------------------------------------------------------------------


def test_same_seed_same_county_and_another_seed_another():
    a, b, c = generate(seed=11, scale=0.05), generate(seed=11, scale=0.05), generate(seed=12, scale=0.05)
    assert a == b
    assert a.children != c.children


def test_generation_does_not_depend_on_the_hash_seed():
    code = (
        "import django, hashlib; django.setup();"
        "from kongchuo.demo.generator import generate;"
        "print(hashlib.sha256(repr(generate(scale=0.02)).encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "DJANGO_SETTINGS_MODULE": "kongchuo.settings"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == hashlib.sha256(repr(generate(scale=0.02)).encode()).hexdigest()


def test_calibrated_on_seed_003(county):
    types = Counter(s.type for s in county.schools)
    assert types == {School.Type.PRIMARY: 40, School.Type.TEACHING_POINT: 60, School.Type.JUNIOR: 4,
                     School.Type.NINE_YEAR: 2, School.Type.COMPLETE: 2, School.Type.SPECIAL: 1}
    codes = [s.code for s in county.schools]
    assert len(set(codes)) == 109 and all(len(c) == 10 and c.startswith("50022") for c in codes)
    townships = [d for d in county.divisions if d.level == Division.Level.TOWNSHIP]
    assert [t.name for t in townships] == [name for _, name, _, _ in names_data.TOWNSHIPS]
    assert len(townships) == 25 and all(len(t.code) == 9 and t.code.startswith(COUNTY_CODE) for t in townships)
    villages = Counter(d.parent for d in county.divisions if d.level == Division.Level.VILLAGE)
    assert all(5 <= villages[t.code] <= 12 for t in townships)
    assert all(len(d.code) == 12 for d in county.divisions if d.level == Division.Level.VILLAGE)
    primary = sum(1 for c in county.children if any(e.grade <= 6 for e in active(c)))
    junior = sum(1 for c in county.children if any(e.grade >= 7 for e in active(c)))
    assert abs(primary - 17497) <= 0.03 * 17497
    assert abs(junior - 10523) <= 0.03 * 10523
    assert {"巴山镇中心小学", "坪坝镇中心小学", "城口县第一中学", "城口县特殊教育学校"} <= {s.name for s in county.schools}


def test_class_sizes_are_those_of_a_mountain_county(county):
    types = {s.code: s.type for s in county.schools}
    sizes = Counter((e.school, e.grade, e.class_number) for c in county.children for e in c.enrolments
                    if e.status in OPEN_STATUSES and e.class_number)  # not the deferred: no class yet
    assert {(k.school, k.grade, k.number) for k in county.classes} == set(sizes)
    teaching_points = [n for (school, _, _), n in sizes.items() if types[school] == School.Type.TEACHING_POINT]
    assert max(teaching_points) <= 16 and sum(teaching_points) / len(teaching_points) < 12
    central = [n for (school, _, _), n in sizes.items() if types[school] in (School.Type.JUNIOR, School.Type.COMPLETE)]
    assert 35 <= sum(central) / len(central) <= 50 and max(central) <= 51


def test_every_id_number_is_valid_and_agrees_with_the_child(county):
    seen = set()
    for child in county.children:
        if child.id_number is None:
            if child.id_number_raw:
                with pytest.raises(InvalidIdNumber):
                    normalise_id_number(child.id_number_raw)
            continue
        checked = normalise_id_number(child.id_number)
        assert checked.number == child.id_number
        assert checked.birth_date == child.birth_date and checked.gender == child.gender
        assert child.id_number[:6] in REGIONS
        assert child.id_number not in seen
        seen.add(child.id_number)
        for enrolment in child.enrolments:
            assert normalise_student_number(enrolment.national_student_number) == enrolment.national_student_number
    assert Counter(n[:6] for n in seen).most_common(1)[0][0] == COUNTY_CODE
    assert 0.02 < sum(1 for n in seen if n[:6] != COUNTY_CODE) / len(seen) < 0.08
    pending = [c for c in county.children if c.id_number is None]
    assert 30 < len(pending) < 400


def test_enrolments_fit_schools_and_ages_fit_grades(county):
    types = {s.code: s.type for s in county.schools}
    for child in county.children:
        for enrolment in child.enrolments:
            assert enrolment.grade in School.GRADES[types[enrolment.school]]
            assert enrolment.history[0].from_status == "" and enrolment.history[-1].to_status == enrolment.status
            assert all(h.effective_date <= county.as_of for h in enrolment.history)
            assert enrolment.entry_date <= county.as_of
        for enrolment in active(child):
            earliest, _ = grade_window(county, enrolment.grade, shift=2)
            _, latest = grade_window(county, enrolment.grade)
            assert earliest <= child.birth_date <= latest, (child.key, enrolment.grade, child.birth_date)
    on_time = sum(1 for c in county.children for e in active(c)
                  if grade_window(county, e.grade)[0] <= c.birth_date)
    assert on_time / sum(len(active(c)) for c in county.children) > 0.9


def test_status_histories_follow_the_enrolment_state_machine(county):
    for child in county.children:
        for enrolment in child.enrolments:
            first, *moves = enrolment.history
            assert first.to_status in INITIAL_STATUSES
            for move in moves:
                assert move.to_status in TRANSITIONS[move.from_status], (child.key, move)
            dates = [h.effective_date for h in enrolment.history]
            assert dates == sorted(dates) and dates[0] == enrolment.entry_date


def test_statuses_cover_the_registry_vocabulary(county):
    statuses = Counter(e.status for c in county.children for e in c.enrolments)
    assert statuses[Status.ENROLLED] > 20000
    for status in (Status.TRANSFERRED_IN, Status.INCLUSIVE, Status.HOME_TEACHING, Status.SUSPENDED,
                   Status.GRADUATED, Status.TRANSFERRED_OUT, Status.DROPPED_OUT, Status.DEFERRED):
        assert statuses[status] > 0, status
    for child in county.children:
        if any(e.status in (Status.INCLUSIVE, Status.HOME_TEACHING) for e in child.enrolments):
            assert child.disability_category and SpecialGroup.DISABLED in child.groups


def test_special_groups_at_mountain_county_rates_from_their_lists(county):
    people = [c for c in county.children if not c.same_as]
    share = {g: sum(1 for c in people if g in c.groups) / len(people) for g in SpecialGroup.values}
    expected = {
        "left_behind": (0.20, 0.30), "poverty_registered": (0.08, 0.12), "monitored_household": (0.01, 0.03),
        "minimum_living_allowance": (0.03, 0.05), "orphan": (0.001, 0.006), "de_facto_unsupported": (0.001, 0.006),
        "child_in_difficulty": (0.005, 0.015), "disabled": (0.007, 0.015), "single_parent": (0.04, 0.06),
    }
    for group, (low, high) in expected.items():
        assert low <= share[group] <= high, (group, share[group])
    sources = {
        "disabled": Source.DISABILITY, "poverty_registered": Source.RURAL_REVITALISATION,
        "monitored_household": Source.RURAL_REVITALISATION, "orphan": Source.CIVIL_AFFAIRS,
        "minimum_living_allowance": Source.CIVIL_AFFAIRS, "child_in_difficulty": Source.CIVIL_AFFAIRS,
        "de_facto_unsupported": Source.CIVIL_AFFAIRS, "left_behind": Source.SCHOOL, "single_parent": Source.SCHOOL,
    }
    for child in county.children:
        for m in child.memberships:
            assert m.source == sources.get(m.group, Source.SCHOOL) and m.recorded_on <= county.as_of
        if SpecialGroup.DISABLED in child.groups:
            assert child.disability_category and child.disability_grade in (1, 2, 3, 4)
            assert child.health == Child.Health.DISABLED
            assert not child.id_number or child.disability_certificate_no.startswith(child.id_number)
        if SpecialGroup.LEFT_BEHIND in child.groups:
            assert child.guardians[0].relation not in (Guardian.Relation.FATHER, Guardian.Relation.MOTHER)
        if SpecialGroup.ORPHAN in child.groups:
            assert {g.relation for g in child.guardians}.isdisjoint({Guardian.Relation.FATHER, Guardian.Relation.MOTHER})


def test_sources_say_who_knows_each_child(county):
    for child in county.children:
        sources = [s.source for s in child.sources]
        assert len(sources) == len(set(sources))
        if child.household_village and child.id_number:
            assert Source.HOUSEHOLD in sources
        if child.enrolments:
            assert Source.REGISTRY in sources
    local = [c for c in county.children if c.household_village]
    assert len(local) / len(county.children) > 0.97


def test_names_are_plausible_and_tricky(county):
    names = Counter(c.name for c in county.children)
    assert names["王晓明"] and names["王小明"]
    surnames = Counter(c.name[0] for c in county.children)
    assert surnames["张"] and surnames["章"] and surnames["王"] > surnames["章"] * 10
    assert any(ch in name for name in names for ch in "犇淼喆堃玥赟燚昇")
    assert names.most_common(1)[0][1] < 40  # common, not absurd
    ethnicity = Counter(c.ethnicity for c in county.children)
    assert ethnicity["01"] / len(county.children) > 0.9 and ethnicity["15"] and ethnicity["06"]
    phones = [g.phone for c in county.children for g in c.guardians if g.phone]
    assert all(len(p) == 11 and p[0] == "1" and p.isdigit() for p in phones)
    assert any(a.endswith("组") for a in (c.household_address for c in county.children))
    assert any(a.endswith("号") for a in (c.household_address for c in county.children))


def test_every_anomaly_category_has_known_truth(county):
    assert set(county.anomalies) == set(ANOMALY_SIZES)
    listed = [k for keys in county.anomalies.values() for k in keys]
    assert len(listed) == len(set(listed))  # disjoint
    for category, keys in county.anomalies.items():
        assert len(keys) >= 20, category
    A = {cat: [county.child(k) for k in keys] for cat, keys in county.anomalies.items()}
    for c in A["out_of_school"]:
        assert not c.enrolments and eligible(county, c.birth_date) and not c.memberships
        assert [s.source for s in c.sources] == [Source.HOUSEHOLD] and c.external_study is None
    for c in A["suspected_dropout"]:
        assert c.enrolments[-1].status in (Status.ENROLLED, Status.TRANSFERRED_IN, Status.DROPPED_OUT)
        assert c.truth["absent_days"] >= 3
    assert sum(1 for c in A["suspected_dropout"] if c.enrolments[-1].status == Status.DROPPED_OUT) >= 5
    for c in A["duplicate_enrolment"]:
        schools = [e.school for e in active(c)]
        assert len(schools) == 2 and len(set(schools)) == 2
    for c in A["ghost_registration"]:
        assert active(c) and c.truth["attends"] is None
    for c in A["unregistered_attendance"]:
        assert not c.enrolments and c.household_village is None and c.current_village
        assert {s.source for s in c.sources} <= {Source.ATTENDANCE, Source.SCHOOL} and c.truth["attends"]
    this_july = dt.date(school_year_start(county), 7, 1)
    for c in A["transition_gap"]:
        (primary,) = c.enrolments
        assert primary.status == Status.GRADUATED and primary.grade == 6 and primary.status_since == this_july
    for c in A["identity_conflict"]:
        other = county.child(c.same_as)
        assert c.id_number is None and other.id_number and other.same_as is None
        assert not other.enrolments and c.enrolments
        differs = [c.id_number_raw != "", c.name != other.name, c.birth_date != other.birth_date,
                   c.gender != other.gender]
        assert any(differs)
        if c.name != other.name:
            assert name_pinyin(c.name) == name_pinyin(other.name)  # homophones
        if c.birth_date != other.birth_date:
            assert (c.birth_date.month, c.birth_date.day) == (other.birth_date.day, other.birth_date.month)
    for c in A["special_group_unplaced"]:
        assert not c.enrolments and eligible(county, c.birth_date)
        assert {SpecialGroup.DISABLED, SpecialGroup.ORPHAN} & set(c.groups)
    for c in (county.child(k) for k in county.decoys["study_elsewhere"]):
        assert not c.enrolments and c.external_study and Source.STUDY_ELSEWHERE in [s.source for s in c.sources]
    for c in (county.child(k) for k in county.decoys["approved_absence"]):
        assert c.enrolments[-1].status in (Status.SUSPENDED, Status.DEFERRED)


def test_small_scale_keeps_every_category(small):
    assert len(small.schools) == 109
    assert 700 < len(small.children) < 1100
    assert all(len(keys) >= 3 for keys in small.anomalies.values())


# --- loading ----------------------------------------------------------------------------------------------


def db_counts() -> dict[str, int]:
    return {
        "divisions": Division.objects.count(), "schools": School.objects.count(), "classes": SchoolClass.objects.count(),
        "children": Child.objects.count(), "guardians": Guardian.objects.count(),
        "memberships": GroupMembership.objects.count(), "provenance": FieldProvenance.objects.count(),
        "enrolments": Enrolment.objects.count(), "status_changes": StatusChange.objects.count(),
        "external_studies": ExternalStudy.objects.count(), "users": User.objects.count(),
    }


def test_load_writes_the_dataset_once(db, small):
    first = load(small)
    assert not first.already_loaded
    after_first = db_counts()
    expected = {**small.counts(), "users": len(DEMO_USERS)}
    assert after_first == expected
    assert {k: first.counts[k] for k in expected} == expected
    again = load(generate(scale=SMALL))
    assert again.already_loaded and again.counts == first.counts
    assert db_counts() == after_first
    (entry,) = AuditEntry.objects.filter(action="load")
    assert entry.chain == COUNTY_CODE and "种子 2026" in entry.summary and "儿童" in entry.summary
    assert audit_verify() == (AuditEntry.objects.count(), None)


def test_another_seed_is_refused_with_a_clear_message(db, small):
    load(small)
    with pytest.raises(DemoLoadError, match="已载入演示县（种子 2026"):
        load(generate(seed=7, scale=SMALL))
    assert Child.objects.count() == len(small.children)


def test_loaded_rows_are_consistent(db, small):
    load(small)
    for division in Division.objects.all():
        assert division.prefix == division.code[: Division.PREFIX_LENGTH[division.level]]
        assert division.parent is None or division.code.startswith(division.parent.prefix)
    for enrolment in Enrolment.objects.select_related("school"):
        assert (enrolment.county_id, enrolment.township_id) == (enrolment.school.county_id, enrolment.school.township_id)
    for child in Child.objects.prefetch_related("enrolments"):
        open_ = sorted((e for e in child.enrolments.all() if e.status in OPEN_STATUSES),
                       key=lambda e: (e.entry_date, e.id), reverse=True)
        assert child.current_school_id == (open_[0].school_id if open_ else None)
        assert child.current_class_id == (open_[0].school_class_id if open_ else None)
        anchor = child.household_division or child.current_division
        if anchor is not None:
            assert child.township.code == anchor.code[:9]
        assert child.name_pinyin == name_pinyin(child.name)[0]
        assert (child.id_number_status == Child.IdStatus.VALID) == (child.id_number is not None)
    provenance = FieldProvenance.objects.filter(source=Source.HOUSEHOLD).first()
    assert isinstance(provenance.fields, list) and "name" in provenance.fields
    assert set(child_ids()) == {c.key for c in small.children}


def test_demo_personas_see_their_part_of_the_county(db, small):
    load(small)
    users = {u.username: u for u in User.objects.select_related("division", "school", "school_class__school")}
    assert {u.username for u in DEMO_USERS} == set(users)
    assert all(u.check_password(DEMO_PASSWORD) for u in users.values())
    assert {users[name].role for name in users} == set(Role.values)
    ids = child_ids()
    admin = users["admin"]
    every = set(Child.objects.values_list("pk", flat=True))
    assert set(children_for(admin).values_list("pk", flat=True)) == every
    for key in (keys[0] for keys in small.anomalies.values()):
        assert children_for(admin).filter(pk=ids[key]).exists()
    assert users["township"].division.name == "巴山镇"
    assert 0 < children_for(users["township"]).count() < len(every)
    assert users["school"].school.name == "巴山镇中心小学"
    assert children_for(users["school"]).exists() and schools_for(users["school"]).count() == 1
    assert children_for(users["teacher"]).exists() and classes_for(users["teacher"]).count() == 1
    police = set(children_for(users["police"]).values_list("pk", flat=True))
    household = {ids[c.key] for c in small.children if Source.HOUSEHOLD in [s.source for s in c.sources]}
    assert police == household
    assert set(children_for(users["supervisor"]).values_list("pk", flat=True)) == every


def test_demo_command_loads_once_and_prints_the_logins(db, monkeypatch):
    from kongchuo.demo.management.commands import demo as command

    served = []
    real = command.call_command

    def fake(name, *args, **kwargs):
        if name == "serve":
            served.append(kwargs)
            return None
        return real(name, *args, **kwargs)

    monkeypatch.setattr(command, "call_command", fake)
    out = io.StringIO()
    call_command("demo", scale=SMALL, stdout=out)
    text = out.getvalue()
    assert "演示县数据已载入" in text and "儿童" in text
    for spec in DEMO_USERS:
        assert spec.username in text
    assert DEMO_PASSWORD in text and "县控辍办管理员" in text and "巴山镇中心小学" in text
    out = io.StringIO()
    call_command("demo", scale=SMALL, serve=True, port=8123, stdout=out)
    assert "此前已载入" in out.getvalue()
    assert served == [{"host": "127.0.0.1", "port": 8123, "stdout": served[0]["stdout"], "stderr": served[0]["stderr"]}]
    assert AuditEntry.objects.filter(action="load").count() == 1
