"""Issuing official documents for a case: number them, fill them from the case, store .docx (+ PDF)."""

import datetime as dt
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kongchuo.audit.services import audit_record
from kongchuo.cases.document_data import DocumentData, Person, PersuasionEntry
from kongchuo.cases.documents import KINDS, render_docx, to_pdf
from kongchuo.cases.models import Case, CaseDocument, county_rules
from kongchuo.cases.services import CASE_WORKERS, _need_role

# Who signs what: notices come from the township government (seed 004: 乡镇人民政府 orders guardians);
# the 劝学书 and the visit record from the school; the registration form and the report from the school too.
ISSUER = {
    "enrolment_notice": "township",
    "deadline_notice": "township",
    "persuasion_letter": "school",
    "case_form": "school",
    "home_visit_record": "school",
    "dropout_report": "school",
}


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def document_data(case: Case, kind: str, *, number: str, issued_on: dt.date, deadline: dt.date | None) -> DocumentData:
    child = case.child
    enrolment = child.enrolments.select_related("school").order_by("-entry_date", "-id").first()
    school = case.school or (enrolment.school if enrolment else None)
    issuer = ISSUER[kind]
    unit = (
        f"{case.county.name}{case.township.name}人民政府"
        if issuer == "township" and case.township
        else school.name
        if school
        else f"{case.county.name}教育委员会"
    )
    records = list(case.persuasions.order_by("date", "id"))
    log = tuple(PersuasionEntry(r.date, r.participants, r.place, r.get_method_display(), r.result) for r in records)
    return DocumentData(
        kind=kind,
        number=number,
        issued_on=issued_on,
        issuing_unit=unit,
        county=case.county.name,
        township=case.township.name if case.township else "",
        school=school.name if school else "",
        child_name=child.name,
        gender=child.get_gender_display(),
        birth_date=child.birth_date,
        age=_age(child.birth_date, issued_on),
        ethnicity=child.get_ethnicity_display(),
        id_number=child.id_number or child.id_number_raw or "",
        health=child.get_health_display(),
        national_student_number=enrolment.national_student_number if enrolment else "",
        grade=enrolment.get_grade_display() if enrolment else "",
        household_address=f"{child.household_division.name if child.household_division else ''}{child.household_address}",
        registration_address=case.registration_address,
        current_address=child.current_address,
        guardians=tuple(Person(g.name, g.get_relation_display(), g.phone) for g in child.guardians.all()[:2]),
        dropout_reason=case.get_dropout_reason_display() + (f"（{case.dropout_reason_note}）" if case.dropout_reason_note else ""),
        family_situation=case.family_situation,
        deadline=deadline,
        persuasion_done=bool(records),
        persuasion_count=len(records),
        persuasion_result=records[-1].result if records else "",
        reason_not_returned=case.reason_not_returned,
        persuading_unit=case.persuading_unit,
        responsible_person=case.responsible_person,
        responsible_phone=case.responsible_phone,
        deferral_approved=case.deferral_approved,
        persuasion_log=log,
        contact=case.responsible_person,
        contact_phone=case.responsible_phone,
        visit=log[-1] if log else None,
        visit_notes=records[-1].content if records else "",
    )


def _number(case: Case, kind: str, year: int) -> str:
    abbreviation = {
        "enrolment_notice": "入学通知",
        "deadline_notice": "限期复学",
        "persuasion_letter": "劝学",
        "case_form": "登记",
        "home_visit_record": "家访",
        "dropout_report": "辍学报告",
    }[kind]
    n = CaseDocument.objects.filter(case__county=case.county, kind=kind, issued_on__year=year).count() + 1
    return f"{case.county.name[:2]}控辍〔{year}〕{abbreviation}第{n:04d}号"


@transaction.atomic
def document_issue(*, actor, case: Case, kind: str, issued_on: dt.date | None = None) -> CaseDocument:
    _need_role(actor, CASE_WORKERS, "出具文书")
    if kind not in KINDS:
        raise ValidationError(f"未知的文书：{kind}")
    if not case.is_open and kind != "case_form":
        raise ValidationError("已排除或已销号的台账不再出具通知类文书")
    if kind == "home_visit_record" and not case.persuasions.exists():
        raise ValidationError("请先登记家访（劝返）记录")
    issued_on = issued_on or timezone.localdate()
    deadline = (
        issued_on + dt.timedelta(days=county_rules(case.county_id).deadline_notice_days)
        if kind in ("deadline_notice", "enrolment_notice")
        else None
    )
    number = _number(case, kind, issued_on.year)
    data = document_data(case, kind, number=number, issued_on=issued_on, deadline=deadline)
    content = render_docx(data)
    folder = settings.FILES_DIR / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{uuid.uuid4().hex}.docx"
    (folder / stored).write_bytes(content)
    pdf = to_pdf(content) if getattr(settings, "KONGCHUO_MAKE_PDF", True) else None
    pdf_name = ""
    if pdf:
        pdf_name = stored.replace(".docx", ".pdf")
        (folder / pdf_name).write_bytes(pdf)
    document = CaseDocument.objects.create(
        case=case,
        kind=kind,
        number=number,
        issued_on=issued_on,
        deadline=deadline,
        stored_name=stored,
        pdf_stored_name=pdf_name,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="create",
        obj=document,
        chain=case.county.prefix,
        summary=f"出具《{KINDS[kind]}》{number}（台账 {case.number}，{case.child.name}）",
        after={"kind": kind, "number": number, "deadline": deadline.isoformat() if deadline else None},
    )
    return document
