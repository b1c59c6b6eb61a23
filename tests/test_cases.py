"""The ledger: every transition and rule of DESIGN.md §5, the illegal ones, documents, deadlines, export."""

import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from kongchuo.audit.models import AuditEntry
from kongchuo.cases import services as C
from kongchuo.cases.deadlines import due_items
from kongchuo.cases.models import Case, CaseDocument, State, Transition
from kongchuo.cases.paperwork import document_issue
from kongchuo.enrolments.models import Enrolment, Status
from kongchuo.enrolments.services import enrolment_transition

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64


@pytest.fixture
def case(world):
    """Child 'out' (never enrolled, township B), confirmed out of school by the township."""
    return C.case_open(
        actor=world.users["township_b"],
        child=world.children["out"],
        kind=Case.Kind.OUT_OF_SCHOOL,
        reason="入户核实确未入学",
        confirmed=True,
    )


def persuade(world, case, *, joint=False, user="township_b", when=None):
    units = ["school", "township", "village"] if joint else ["township"]
    return C.persuasion_add(
        actor=world.users[user],
        case=case,
        date=when or timezone.localdate(),
        method="joint_visit" if joint else "home_visit",
        units=units,
        participants="李老师、王干部",
        place="坪坝村一组家中",
        content="宣传义务教育法，了解家庭困难",
        result="家长同意考虑",
        next_step="一周后回访",
    )


def test_open_case_is_numbered_audited_and_unique_per_child(world, case):
    assert case.number.startswith("500229-") and case.state == State.CONFIRMED
    assert list(case.transitions.values_list("from_state", "to_state")) == [("", "confirmed")]
    assert AuditEntry.objects.filter(object_type="cases.case", action="create").exists()
    with pytest.raises(ValidationError, match="未销号"):
        C.case_open(actor=world.users["county_staff"], child=world.children["out"], kind="dropout", reason="重复")
    with pytest.raises(IntegrityError), transaction.atomic():  # the database says so too
        Case.objects.create(
            number="x", child=world.children["out"], kind="dropout", state=State.SUSPECTED, county=world.county, state_since=timezone.now()
        )


def test_first_persuasion_moves_to_persuading_and_joint_ones_count(world, case):
    record = persuade(world, case, joint=True)
    case.refresh_from_db()
    assert case.state == State.PERSUADING and record.is_joint
    assert not persuade(world, case).is_joint
    assert case.transitions.last().reason.endswith("首次劝返（联合入户劝返）")


def test_illegal_moves_are_refused_with_a_clear_message(world, case):
    with pytest.raises(C.IllegalMove, match="台账当前为“确认失学/辍学”，不能变更为“已销号”"):
        C.case_close(actor=world.users["county_staff"], case=case, reason="想销号")
    with pytest.raises(C.IllegalMove):
        C.case_start_verification(actor=world.users["township_b"], case=case, reason="再核查")
    with pytest.raises(ValidationError, match="请写明理由"):
        C.case_home_teaching(actor=world.users["township_b"], case=case, reason=" ")
    assert Transition.objects.filter(case=case).count() == 1


def test_roles(world, case):
    with pytest.raises(PermissionDenied):
        persuade(world, case, user="supervisor")
    with pytest.raises(PermissionDenied):
        C.case_defer(actor=world.users["township_b"], case=case, reason="家长申请")


def test_verification_path_and_exclusion_needs_evidence(world):
    case = C.case_open(actor=world.users["school_a"], child=world.children["a"], kind="dropout", reason="连续缺勤")
    assert case.state == State.SUSPECTED
    case = C.case_start_verification(actor=world.users["school_a"], case=case, reason="班主任家访核查")
    with pytest.raises(ValidationError):
        C.case_exclude(actor=world.users["school_a"], case=case, reason="在外地读书", evidence="")
    case = C.case_exclude(actor=world.users["school_a"], case=case, reason="随父母在广州就读", evidence="广州市天河区某小学就读证明")
    assert case.state == State.EXCLUDED
    with pytest.raises(PermissionDenied):  # a school cannot review its own 销号
        C.case_close(actor=world.users["school_a"], case=case, reason="销号")
    closed = C.case_close(actor=world.users["county_staff"], case=case, reason="核实外地就读，销号")
    assert closed.state == State.CLOSED and "排除依据" in closed.transitions.last().evidence


def test_the_filler_cannot_review_their_own_closure(world):
    case = C.case_open(actor=world.users["county_staff"], child=world.children["a"], kind="dropout", reason="报告")
    case = C.case_exclude(actor=world.users["county_staff"], case=case, reason="误报", evidence="学校考勤核对")
    with pytest.raises(ValidationError, match="填写人、经办人以外"):
        C.case_close(actor=world.users["county_staff"], case=case, reason="销号")
    assert C.case_close(actor=world.users["county_admin"], case=case, reason="审核通过").state == State.CLOSED


def test_deferral_needs_three_joint_persuasions_or_a_court_ruling_and_the_county(world, case):
    persuade(world, case, joint=True)
    with pytest.raises(ValidationError, match="3次以上联合劝返"):
        C.case_defer(actor=world.users["county_admin"], case=case, reason="家长申请延缓")
    persuade(world, case, joint=True)
    persuade(world, case, joint=True)
    case = C.case_defer(actor=world.users["county_admin"], case=case, reason="因病申请延缓一年")
    assert case.state == State.DEFERRED and Case.objects.get(pk=case.pk).deferral_approved
    persuade(world, case)  # persuasion continues while deferred


def test_court_ruling_allows_deferral(world, case):
    persuade(world, case)
    assert (
        C.case_defer(actor=world.users["county_admin"], case=case, reason="依判决", court_ruling="(2026)渝0229民初123号").state
        == State.DEFERRED
    )


def test_home_teaching_only_for_disabled_children(world, case):
    with pytest.raises(ValidationError, match="残疾"):
        C.case_home_teaching(actor=world.users["township_b"], case=case, reason="行动不便")
    world.children["out"].__class__.objects.filter(pk=case.child_id).update(disability_category="physical", disability_grade=1)
    case.refresh_from_db()
    assert C.case_home_teaching(actor=world.users["township_b"], case=case, reason="重度肢体残疾").state == State.HOME_TEACHING


def test_escalation_after_the_deadline_notice_expires(world, case, settings, tmp_path):
    persuade(world, case)
    with pytest.raises(ValidationError, match="限期复学通知书"):
        C.case_escalate(actor=world.users["township_b"], case=case, reason="拒不复学")
    notice = document_issue(actor=world.users["township_b"], case=case, kind="deadline_notice")
    assert notice.deadline == timezone.localdate() + dt.timedelta(days=7)
    with pytest.raises(ValidationError, match="尚未届满"):
        C.case_escalate(actor=world.users["township_b"], case=case, reason="拒不复学")
    CaseDocument.objects.filter(pk=notice.pk).update(deadline=timezone.localdate() - dt.timedelta(days=1))
    assert C.case_escalate(actor=world.users["township_b"], case=case, reason="期满未复学，申请司法调处").state == State.ESCALATED


def test_return_needs_enrolment_and_closure_needs_school_days_and_no_absence(world, case):
    from kongchuo.attendance.models import AttendanceRecord
    from kongchuo.enrolments.services import enrolment_create

    persuade(world, case)
    with pytest.raises(ValidationError, match="没有在读学籍"):
        C.case_return(actor=world.users["township_b"], case=case, reason="已返校")
    enrolment_create(actor=world.users["county_staff"], child=case.child, school=world.school_b, grade=3, entry_date=timezone.localdate())
    case = C.case_return(actor=world.users["township_b"], case=case, reason="已返校上课")
    with pytest.raises(ValidationError, match="连续到校10个上课日"):
        C.case_close(actor=world.users["county_staff"], case=case, reason="销号")
    Case.objects.filter(pk=case.pk).update(state_since=timezone.now() - dt.timedelta(days=20))
    AttendanceRecord.objects.create(
        child=case.child,
        school=world.school_b,
        date=timezone.localdate() - dt.timedelta(days=2),
        status="absent",
        name=case.child.name,
        county=world.county,
        township=world.township_b,
    )
    with pytest.raises(ValidationError, match="缺勤"):
        C.case_close(actor=world.users["county_staff"], case=Case.objects.get(pk=case.pk), reason="销号")
    AttendanceRecord.objects.all().delete()
    closed = C.case_close(actor=world.users["county_staff"], case=Case.objects.get(pk=case.pk), reason="复学稳定，销号")
    assert closed.state == State.CLOSED and closed.closed_at
    reopened = C.case_reopen(actor=world.users["township_b"], case=closed, reason="再次辍学")
    assert reopened.state == State.PERSUADING
    assert list(reopened.transitions.values_list("to_state", flat=True)) == [
        "confirmed",
        "persuading",
        "returned",
        "closed",
        "persuading",
    ]  # history is never rewritten


def test_attachments_must_be_photos_or_pdf(world, case):
    with pytest.raises(ValidationError, match="不是照片"):
        C.persuasion_add(
            actor=world.users["township_b"],
            case=case,
            date=timezone.localdate(),
            method="home_visit",
            units=["township"],
            participants="王",
            place="家",
            content="谈话",
            result="未果",
            files=[SimpleUploadedFile("a.exe", b"MZ\x90\x00")],
        )
    record = C.persuasion_add(
        actor=world.users["township_b"],
        case=case,
        date=timezone.localdate(),
        method="home_visit",
        units=["township"],
        participants="王",
        place="家",
        content="谈话",
        result="未果",
        files=[SimpleUploadedFile("现场.png", PNG)],
    )
    assert record.attachments.get().content_type == "image/png"


def test_an_attachment_download_is_audited(world, case, client):
    """A scan or a photo of a child's home is the child's file: who downloaded it is in the audit log."""
    record = C.persuasion_add(
        actor=world.users["township_b"], case=case, date=timezone.localdate(), method="home_visit", units=["township"],
        participants="王", place="家", content="谈话", result="未果", files=[SimpleUploadedFile("现场.png", PNG)],
    )
    attachment = record.attachments.get()
    client.force_login(world.users["township_b"])
    response = client.get(reverse("attachment_download", args=[case.pk, attachment.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG
    entry = AuditEntry.objects.get(action="export", object_type__iendswith="attachment", object_id=str(attachment.pk))
    assert entry.actor_id == world.users["township_b"].pk and "现场.png" in entry.summary and case.child.name in entry.summary
    assert entry.chain == case.county.prefix
    # A file gone from the disk is no download: nothing is audited.
    from django.conf import settings

    (settings.FILES_DIR / "cases" / attachment.stored_name).unlink()
    with pytest.raises(FileNotFoundError):
        client.get(reverse("attachment_download", args=[case.pk, attachment.pk]))
    assert AuditEntry.objects.filter(action="export", object_id=str(attachment.pk)).count() == 1


def test_documents_are_numbered_stored_listed_and_downloadable(world, case, client):
    persuade(world, case)
    for kind in ("enrolment_notice", "deadline_notice", "persuasion_letter", "case_form", "home_visit_record", "dropout_report"):
        document_issue(actor=world.users["township_b"], case=case, kind=kind)
    assert case.documents.count() == 6 and len(set(case.documents.values_list("number", flat=True))) == 6
    from docx import Document

    client.force_login(world.users["township_b"])
    notice = case.documents.get(kind="deadline_notice")
    response = client.get(reverse("document_download", args=[case.pk, notice.pk]))
    text = "\n".join(p.text for p in Document(io.BytesIO(b"".join(response.streaming_content))).paragraphs)
    assert "限期复学通知书" in text and case.child.name in text and "义务教育法" in text and notice.number in text
    client.force_login(world.users["township_a"])  # another township: not reachable
    assert client.get(reverse("document_download", args=[case.pk, notice.pk])).status_code == 404


def test_deadlines_show_what_is_due_and_overdue(world, case):
    today = timezone.localdate()
    items = due_items(Case.objects.all(), today)
    assert [(d.kind, d.due) for d in items] == [("first_persuasion", today + dt.timedelta(days=3))]
    items = due_items(Case.objects.all(), today + dt.timedelta(days=5))
    assert items[0].overdue
    persuade(world, case, when=today - dt.timedelta(days=40))
    persuade(world, case, when=today - dt.timedelta(days=35))
    kinds = {d.kind: d for d in due_items(Case.objects.all(), today)}
    assert kinds["record"].overdue and kinds["enrolment_notice"].overdue


def test_finding_confirmed_opens_a_case(world):
    from kongchuo.matching.models import Finding
    from kongchuo.matching.services import finding_confirm, match_run

    match_run(actor=None, county=world.county, as_of=dt.date(2026, 11, 23))
    finding = Finding.objects.get(category="out_of_school")
    finding_confirm(actor=world.users["township_b"], finding=finding, note="入户核实")
    case = Case.objects.get(child=world.children["out"])
    assert (case.state, case.finding, case.kind) == (State.CONFIRMED, finding, "out_of_school")


def test_ledger_export_masks_ids_and_scopes(world, case, client, tmp_path):
    from django.core.management import call_command
    from python_calamine import CalamineWorkbook

    client.force_login(world.users["township_a"])
    rows = CalamineWorkbook.from_filelike(io.BytesIO(client.get(reverse("ledger_export")).content)).get_sheet_by_index(0).to_python()
    assert len(rows) == 1  # township A: header only
    client.force_login(world.users["township_b"])
    rows = CalamineWorkbook.from_filelike(io.BytesIO(client.get(reverse("ledger_export")).content)).get_sheet_by_index(0).to_python()
    assert rows[1][3] == "陈小芳" and "*" in rows[1][6] and case.child.id_number not in str(rows)
    path = tmp_path / "ledger.xlsx"
    call_command("cases", "export", str(path))
    assert CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()[1][0] == case.number


def test_case_pages_for_the_roles(world, case, client):
    persuade(world, case)
    client.force_login(world.users["township_b"])
    page = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert "一生一表" in page and "坪坝村一组家中" in page and "（乡镇）" in page  # units by their Chinese names
    response = client.post(
        reverse("persuasion_new", args=[case.pk]),
        {
            "date": timezone.localdate().isoformat(),
            "method": "phone",
            "units": ["school"],
            "participants": "李老师",
            "place": "电话",
            "content": "电话沟通",
            "result": "家长答应下周送学",
            "next_step": "周一到校核实",
            "attachments": [SimpleUploadedFile("p.png", PNG)],
        },
    )
    assert response.status_code == 302 and case.persuasions.count() == 2
    client.force_login(world.users["supervisor"])
    assert client.get(reverse("case_detail", args=[case.pk])).status_code == 200
    assert client.post(reverse("case_move", args=[case.pk, "escalate"]), {"reason": "x"}).status_code == 403
    assert Case.objects.get(pk=case.pk).state == State.PERSUADING  # nothing changed: the supervisor only reads
    assert client.get(reverse("persuasion_new", args=[case.pk])).status_code == 403
    client.force_login(world.users["school_a"])
    assert client.get(reverse("case_detail", args=[case.pk])).status_code == 404


def test_enrolment_transition_does_not_touch_cases(world, case):
    e = Enrolment.objects.get(child=world.children["a"])
    enrolment_transition(
        actor=world.users["school_a"], enrolment=e, to_status=Status.SUSPENDED, effective_date=timezone.localdate(), reason="因病休学"
    )
    assert Case.objects.count() == 1


def test_child_page_reports_a_suspected_dropout_and_lists_the_case(world, client):
    child = world.children["a"]
    client.force_login(world.users["teacher_a"])  # a class teacher notices first
    response = client.post(reverse("case_open", args=[child.pk]), {"kind": "dropout", "reason": "连续3天未到校，电话联系不上"})
    case = Case.objects.get(child=child)
    assert response.status_code == 302 and case.state == State.SUSPECTED and case.filled_by == world.users["teacher_a"]
    page = client.get(reverse("child_detail", args=[child.pk])).content.decode()
    assert case.number in page and "疑似" in page
    client.force_login(world.users["supervisor"])
    assert client.post(reverse("case_open", args=[world.children["b"].pk]), {"kind": "dropout", "reason": "x"}).status_code == 403
    assert not Case.objects.filter(child=world.children["b"]).exists()  # the supervisor only reads


def test_county_admin_changes_the_rules_and_the_deadlines_follow(world, case, client):
    client.force_login(world.users["county_staff"])
    assert client.get(reverse("case_rules")).status_code == 403
    client.force_login(world.users["county_admin"])
    form = client.get(reverse("case_rules")).context["form"]
    data = {name: form.initial[name] for name in form.fields}
    data["holidays"] = '[["01-20", "02-20"], ["07-10", "08-31"]]'
    data["first_persuasion_days"] = 1
    assert client.post(reverse("case_rules"), data).status_code == 302
    assert [(d.kind, d.due) for d in due_items(Case.objects.all(), timezone.localdate())] == [
        ("first_persuasion", timezone.localdate() + dt.timedelta(days=1))]
    assert AuditEntry.objects.filter(object_type="cases.caserules", action="update").exists()


def test_home_shows_my_to_do(world, case, client):
    from kongchuo.matching.services import match_run

    match_run(actor=None, county=world.county, as_of=dt.date(2026, 11, 23))
    Case.objects.filter(pk=case.pk).update(confirmed_on=timezone.localdate() - dt.timedelta(days=10))  # first persuasion overdue
    client.force_login(world.users["township_b"])
    todo = client.get(reverse("home")).context["todo"]
    assert (todo["findings"], todo["overdue"], todo["review"]) == (1, 1, None)
    client.force_login(world.users["township_a"])
    assert client.get(reverse("home")).context["todo"]["overdue"] == 0  # not in township A's scope
