"""Cross-matching on the test world: every category, the age window, runs compared, verification, export, scope."""

import csv
import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from kongchuo.attendance.models import AttendanceRecord
from kongchuo.audit.models import AuditEntry
from kongchuo.core.choices import Source
from kongchuo.enrolments.models import Enrolment, Status
from kongchuo.enrolments.services import enrolment_create
from kongchuo.imports.models import IdentityConflict
from kongchuo.matching.models import Finding, LinkCandidate, MatchRun
from kongchuo.matching.rules import MatchRules, age_window, is_eligible, weekdays
from kongchuo.matching.services import finding_confirm, finding_exclude, match_run
from kongchuo.people.identity import compose_id_number
from kongchuo.people.services import child_create, guardian_save, membership_add

AS_OF = dt.date(2026, 11, 23)


def run(world, county=None, as_of=AS_OF):
    return match_run(actor=world.users["county_staff"], county=county or world.county, as_of=as_of)


def live(category=None):
    qs = Finding.objects.filter(status__in=["open", "confirmed"])
    return qs.filter(category=category) if category else qs


@pytest.mark.parametrize(
    "birth, eligible",
    [
        (dt.date(2020, 8, 31), True),  # turned 6 on the cut-off day
        (dt.date(2020, 9, 1), False),  # a child born 1 September is not yet eligible
        (dt.date(2010, 9, 1), True),  # 15 on the cut-off day
        (dt.date(2010, 8, 31), False),  # 16 on the cut-off day
    ],
)
def test_age_window_on_the_cutoff(birth, eligible):
    assert is_eligible(birth, AS_OF) is eligible


def test_age_window_before_september_uses_the_school_year_that_started_last_autumn():
    assert age_window(dt.date(2026, 3, 1)) == (dt.date(2009, 8, 31), dt.date(2019, 8, 31))
    assert age_window(dt.date(2026, 3, 1), MatchRules(cutoff_month=9, cutoff_day=30))[1] == dt.date(2019, 9, 30)


def test_out_of_school_with_evidence_and_nothing_for_children_in_school(world):
    r = run(world)
    out = live("out_of_school").get()
    assert out.child == world.children["out"]
    assert "户籍在本县（坪坝镇）" in out.detail and "无外地就读证明" in out.detail
    assert out.confidence == 1.0 and "公安户籍" in out.sources
    assert r.result_counts == {"out_of_school": 1} and r.diff == {"new": 1, "persisting": 0, "resolved": 0}
    assert r.input_counts["children"] == 4  # county 500229 only


def test_runs_are_compared_and_a_return_to_school_resolves_the_finding(world):
    run(world)
    second = run(world)
    assert second.diff == {"new": 0, "persisting": 1, "resolved": 0}
    enrolment_create(
        actor=world.users["school_a"], child=world.children["out"], school=world.school_b, grade=3, entry_date=dt.date(2026, 11, 20)
    )
    third = run(world)
    assert third.diff == {"new": 0, "persisting": 0, "resolved": 1}
    finding = Finding.objects.get(category="out_of_school")
    assert (finding.status, finding.resolved_run) == ("resolved", third)


def test_excluded_findings_need_reason_note_person_and_stay_excluded(world):
    from django.core.exceptions import ValidationError

    run(world)
    finding = live("out_of_school").get()
    with pytest.raises(ValidationError):
        finding_exclude(actor=world.users["township_b"], finding=finding, reason="studying_elsewhere", note="在广州读书")  # no proof
    with pytest.raises(ValidationError):
        finding_exclude(actor=world.users["township_b"], finding=finding, reason="moved_out", note="  ")
    finding_exclude(actor=world.users["township_b"], finding=finding, reason="moved_out", note="户籍已迁往万州区，派出所已核实")
    finding.refresh_from_db()
    v = finding.verifications.get()
    assert (finding.status, v.reason, v.verified_by) == ("excluded", "moved_out", world.users["township_b"])
    assert AuditEntry.objects.filter(object_type="matching.finding", action="transition").exists()
    again = run(world)
    assert again.diff["new"] == 0 and not live().exists()


def test_confirm_hands_off_to_the_ledger_queue(world):
    run(world)
    finding = live("out_of_school").get()
    finding_confirm(actor=world.users["county_staff"], finding=finding, note="入户核实，确未入学")
    finding.refresh_from_db()
    assert finding.status == "confirmed"
    assert run(world).diff == {"new": 0, "persisting": 1, "resolved": 0}  # still live, waiting for its case


def test_duplicate_enrolment(world):
    a = world.children["a"]
    Enrolment.objects.create(
        child=a,
        school=world.school_b,
        grade=3,
        status=Status.TRANSFERRED_IN,
        status_since=AS_OF,
        entry_date=AS_OF,
        county=world.county,
        township=world.township_b,
        national_student_number="G" + a.id_number,
    )
    run(world)
    finding = live("duplicate_enrolment").get()
    assert finding.child == a and "巴山镇中心小学" in finding.detail and "坪坝镇中心小学" in finding.detail


def _absent(world, child, school, days, status="absent"):
    AttendanceRecord.objects.bulk_create(
        [
            AttendanceRecord(
                child=child,
                school=school,
                date=d,
                status=status,
                name=child.name if child else "无名",
                county=world.county,
                township=school.township,
            )
            for d in days
        ]
    )


def test_attendance_rules_suspected_dropout_ghost_and_unregistered(world):
    days = weekdays(AS_OF - dt.timedelta(days=60), AS_OF)
    _absent(world, world.children["a"], world.school_a, days[-3:])  # three days away: suspected dropout
    _absent(world, world.children["x"], world.school_b, days)  # never there this term: ghost registration
    _absent(world, world.children["out"], world.school_a, days[-1:], status="late")  # attends, no enrolment
    AttendanceRecord.objects.create(
        school=world.school_b,
        date=days[-2],
        status="leave",
        name="不在册",
        national_student_number="L0001234567",
        county=world.county,
        township=world.township_b,
    )
    _absent(world, world.children["b"], world.school_b, days[-2:])  # two days: under the rule, nothing
    run(world)
    assert live("suspected_dropout").get().child == world.children["a"]
    ghost = live("ghost_registration").get()
    assert ghost.child == world.children["x"] and "名在人不在" in ghost.detail
    unregistered = {f.child_id or f.detail for f in live("unregistered_attendance")}
    assert world.children["out"].pk in unregistered and any("不在册" in str(u) for u in unregistered)
    assert not live("suspected_dropout").filter(child=world.children["b"]).exists()


def test_registry_dropout_is_a_suspected_dropout(world):
    e = Enrolment.objects.get(child=world.children["b"])
    Enrolment.objects.filter(pk=e.pk).update(status=Status.DROPPED_OUT, status_since=dt.date(2026, 11, 2))
    run(world)
    assert "学籍状态为辍学" in live("suspected_dropout").get(child=world.children["b"]).detail


def test_transition_gap_and_special_group(world):
    birth = dt.date(2014, 3, 1)
    grad = child_create(
        actor=None,
        name="周小毕",
        gender="M",
        birth_date=birth,
        id_number=compose_id_number("500229", birth, 501),
        household_division=world.village_a,
        source=Source.HOUSEHOLD,
    )
    old = enrolment_create(actor=None, child=grad, school=world.school_a, grade=6, entry_date=dt.date(2025, 9, 1))
    Enrolment.objects.filter(pk=old.pk).update(status=Status.GRADUATED, status_since=dt.date(2026, 7, 1))
    disabled = child_create(
        actor=None,
        name="吴小残",
        gender="F",
        birth_date=birth,
        id_number=compose_id_number("500229", birth, 502),
        household_division=world.village_b,
        source=Source.DISABILITY,
    )
    membership_add(actor=None, child=disabled, group="disabled", source=Source.DISABILITY, recorded_on=dt.date(2026, 1, 1))
    run(world)
    assert "小学毕业" in live("transition_gap").get().detail
    special = live("special_group_unplaced").get()
    assert special.child == disabled and "残疾儿童" in special.detail
    assert not live("out_of_school").filter(child__in=[grad, disabled]).exists()  # one child, one category


def test_source_disagreements_are_identity_conflicts(world):
    a = world.children["a"]
    IdentityConflict.objects.create(
        child=a,
        field="name",
        kept_value="张小明",
        kept_source="household",
        other_value="章小明",
        other_source="registry",
        county=world.county,
    )
    run(world)
    finding = live("identity_conflict").get()
    assert "章小明" in finding.detail and "公安户籍" in finding.detail


def _second_record(world, name, guardian=None):
    """The registry knew child 'out' under another record: no ID number, enrolled at school B."""
    out = world.children["out"]
    twin = child_create(
        actor=None,
        name=name,
        gender="F",
        birth_date=out.birth_date,
        id_number=None,
        allow_pending_id=True,
        household_division=world.village_b,
        source=Source.REGISTRY,
    )
    guardian_save(actor=None, child=twin, name=guardian or out.guardians.first().name, relation="father", phone="13800000000")
    enrolment_create(actor=None, child=twin, school=world.school_b, grade=3, entry_date=dt.date(2023, 9, 1))
    return out, twin


def test_two_records_of_one_child_are_linked_and_not_out_of_school(world):
    out, twin = _second_record(world, "陈小芳")
    run(world)
    finding = live("identity_conflict").get()
    assert {finding.child_id, finding.other_child_id} == {out.pk, twin.pk}
    assert "匹配权重" in finding.detail and "一方缺失" in finding.detail
    assert not live("out_of_school").exists()  # she is in school under her other record


def test_uncertain_pairs_go_to_review_and_the_decision_is_reused(world, client):
    # No ID number and the registry names the mother, not the father: the model cannot tell her from a namesake.
    out, twin = _second_record(world, "陈晓芳", guardian="刘秀英")
    run(world)
    candidate = LinkCandidate.objects.get(status="pending")
    assert {candidate.left_id, candidate.right_id} == {out.pk, twin.pk} and candidate.agreements["姓名"]
    assert live("out_of_school").exists()  # until a person decides
    client.force_login(world.users["county_staff"])
    assert client.post(reverse("review_decide", args=[candidate.pk]), {"decision": "same"}).status_code == 302
    second = run(world)
    assert not live("out_of_school").exists() and second.diff["resolved"] == 1
    assert (
        live("identity_conflict").filter(other_child__in=[out, twin]).exists()
        or live("identity_conflict").filter(child__in=[out, twin]).exists()
    )


def test_cli_match_json_and_findings_export_contract(world, tmp_path, capsys):
    call_command("match", "--as-of", "2026-11-23", "--json", "--county", "500229")
    out = json.loads(capsys.readouterr().out)
    assert out["findings"] == {"out_of_school": 1} and out["as_of"] == "2026-11-23"
    path = tmp_path / "findings.csv"
    call_command("findings", "export", str(path))
    with open(path, encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["category", "id_number", "name", "birth_date", "school_code", "national_student_number", "detail", "confidence"]
    assert rows[1][:4] == ["out_of_school", world.children["out"].id_number, "陈小芳", "2017-03-05"]
    assert AuditEntry.objects.filter(action="export", summary__contains="比对发现").exists()


def test_findings_are_scoped_and_verification_needs_the_role(world, client):
    days = weekdays(AS_OF - dt.timedelta(days=60), AS_OF)
    _absent(world, world.children["a"], world.school_a, days[-4:])
    run(world)
    run(world, county=world.county2)
    a_finding = live("suspected_dropout").get()
    out_finding = live("out_of_school").get()
    client.force_login(world.users["township_b"])
    assert client.get(reverse("finding_detail", args=[a_finding.pk])).status_code == 404  # school A is in township A
    assert client.get(reverse("finding_detail", args=[out_finding.pk])).status_code == 200
    listing = client.get(reverse("finding_list")).content.decode()
    assert world.children["out"].name in listing and world.children["a"].name not in listing
    client.force_login(world.users["supervisor"])
    response = client.post(reverse("finding_detail", args=[out_finding.pk]), {"outcome": "excluded", "reason": "moved_out", "note": "x"})
    assert response.status_code == 403
    client.force_login(world.users["school_a"])
    assert client.get(reverse("finding_detail", args=[a_finding.pk])).status_code == 200
    response = client.post(reverse("finding_detail", args=[a_finding.pk]), {"outcome": "confirmed", "note": "家访核实，已3天未到校"})
    assert response.status_code == 302
    a_finding.refresh_from_db()
    assert a_finding.status == "confirmed"


def test_web_run_with_progress_and_category_by_township_table(world, client, django_capture_on_commit_callbacks):
    client.force_login(world.users["township_a"])
    assert client.post(reverse("match_start")).status_code == 403
    client.force_login(world.users["county_staff"])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("match_start"), {"as_of": "2026-11-23"}).status_code == 302
    run_ = MatchRun.objects.get()
    assert run_.status == "done" and run_.started_by == world.users["county_staff"]
    page = client.get(reverse("match_home"))
    table = page.context["table"]
    assert table["total"] == 1 and table["rows"][0]["label"] == "疑似失学" and ("坪坝镇" in dict(table["columns"]).values())


def test_twins_with_their_own_id_numbers_are_not_sent_to_review(world):
    a = world.children["a"]
    twin = child_create(
        actor=None,
        name="张小亮",
        gender="M",
        birth_date=a.birth_date,
        id_number=compose_id_number("500229", a.birth_date, 21),
        household_division=world.village_a,
        source=Source.HOUSEHOLD,
    )
    guardian_save(actor=None, child=twin, name=a.guardians.first().name, relation="father", phone="13800000000")
    run(world)
    run(world)  # and the queue holds only what the latest run doubts
    assert not LinkCandidate.objects.exists()
    assert not live("identity_conflict").exists()
