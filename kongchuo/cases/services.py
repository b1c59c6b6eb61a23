"""The case state machine (DESIGN.md §5): one function per edge, each checking the state, the
user's role and the rule, writing an append-only Transition and the audit log in one transaction."""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from kongchuo.accounts.models import Role
from kongchuo.attendance.models import AttendanceRecord
from kongchuo.audit.services import audit_record
from kongchuo.cases.models import OPEN_STATES, Attachment, Case, CaseRules, PersuasionRecord, State, Transition, county_rules, joint_count
from kongchuo.core.uploads import save_upload
from kongchuo.enrolments.services import active_enrolment
from kongchuo.matching.rules import weekdays

S = State
CASE_WORKERS = {Role.COUNTY_ADMIN, Role.COUNTY_STAFF, Role.TOWNSHIP_STAFF, Role.SCHOOL_ADMIN, Role.CLASS_TEACHER}
COUNTY_ROLES = {Role.COUNTY_ADMIN, Role.COUNTY_STAFF}
CASE_FORM_FIELDS = [
    "dropout_reason",
    "dropout_reason_note",
    "family_situation",
    "registration_address",
    "reason_not_returned",
    "persuading_unit",
    "responsible_person",
    "responsible_phone",
    "school_contact",
    "township_contact",
    "village_contact",
    "teacher_contact",
]


class IllegalMove(ValidationError):
    pass


def rules_for_editing(county) -> CaseRules:
    """The county's stored rules, made with the defaults the first time its admin opens them (reads use county_rules)."""
    rules, _ = CaseRules.objects.get_or_create(county=county)
    return rules


def _need_role(actor, roles, what: str) -> None:
    if actor is None or getattr(actor, "role", None) not in roles:
        raise PermissionDenied(f"您的角色无权{what}")


def _begin(actor, roles, what: str, reason: str) -> None:
    """Every transition: the role may do it, and says why."""
    _need_role(actor, roles, what)
    if not reason.strip():
        raise ValidationError({"reason": "请写明理由"})


# The states each step of the case may start from: the services enforce it, the case page offers the
# step's button there (cases/views.ACTIONS).
ALLOWED_FROM = {
    "verify": [S.SUSPECTED],
    "confirm": [S.SUSPECTED, S.VERIFYING],
    "exclude": [S.SUSPECTED, S.VERIFYING],
    "home_teaching": [S.PERSUADING, S.CONFIRMED],
    "defer": [S.PERSUADING],
    "escalate": [S.PERSUADING],
    "resume": [S.DEFERRED, S.HOME_TEACHING, S.ESCALATED],
    "return": [S.CONFIRMED, S.PERSUADING, S.DEFERRED, S.HOME_TEACHING, S.ESCALATED],
    "close": [S.RETURNED, S.EXCLUDED],
    "reopen": [S.CLOSED],
}


def _move(case: Case, to: str, *, actor, allowed_from, reason: str, evidence: str = "") -> Case:
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.state not in allowed_from:
        names = "、".join(State(s).label for s in allowed_from)
        raise IllegalMove(f"台账当前为“{case.get_state_display()}”，不能变更为“{State(to).label}”（只有“{names}”的台账可以）")
    if not reason.strip():
        raise ValidationError({"reason": "请写明理由"})
    frm = case.state
    case.state, case.state_since = to, timezone.now()
    if to == S.CLOSED:
        case.closed_at = case.state_since
    case.save(update_fields=["state", "state_since", "closed_at"])
    Transition.objects.create(case=case, from_state=frm, to_state=to, by=actor, reason=reason, evidence=evidence[:300])
    audit_record(
        actor=actor,
        action="transition",
        obj=case,
        chain=case.county.prefix,
        summary=f"台账 {case.number}（{case.child.name}）：{State(frm).label} → {State(to).label}",
        before={"state": frm},
        after={"state": to, "reason": reason, "evidence": evidence},
    )
    return case


def _number(county) -> str:
    year = timezone.localdate().year
    n = Case.objects.filter(county=county, number__startswith=f"{county.code}-{year}-").count() + 1
    return f"{county.code}-{year}-{n:04d}"


@transaction.atomic
def case_open(*, actor, child, kind: str, reason: str, finding=None, school=None, confirmed: bool = False) -> Case:
    """Open the child's case (one open case per child): suspected, or confirmed when already verified."""
    _need_role(actor, CASE_WORKERS, "建立台账")
    if Case.objects.filter(child=child, state__in=OPEN_STATES).exists():
        raise ValidationError("该儿童已有未销号的台账")
    active = active_enrolment(child)
    school = school or (active.school if active else child.current_school)
    state = S.CONFIRMED if confirmed else S.SUSPECTED
    for _attempt in range(3):
        try:
            with transaction.atomic():
                case = Case.objects.create(
                    number=_number(child.county),
                    child=child,
                    kind=kind,
                    state=state,
                    finding=finding,
                    county=child.county,
                    township=child.township or (school.township if school else None),
                    school=school,
                    state_since=timezone.now(),
                    confirmed_on=timezone.localdate() if confirmed else None,
                    filled_by=actor,
                    verified_by=actor if confirmed else None,
                    registration_address=school.address if school else "",
                )
            break
        except IntegrityError as exc:  # two cases numbered at once, or a second open case
            if Case.objects.filter(child=child, state__in=OPEN_STATES).exists():
                raise ValidationError("该儿童已有未销号的台账") from exc
    Transition.objects.create(case=case, from_state="", to_state=state, by=actor, reason=reason)
    audit_record(
        actor=actor,
        action="create",
        obj=case,
        chain=case.county.prefix,
        summary=f"建立台账 {case.number}（{child.name}，{case.get_kind_display()}，{case.get_state_display()}）",
        after={"state": state, "kind": kind, "finding": finding.pk if finding else None},
    )
    return case


def case_open_from_finding(*, actor, finding) -> Case:
    """The matching hand-off: a confirmed finding becomes a confirmed case."""
    kind = Case.Kind.DROPOUT if finding.category in ("suspected_dropout", "ghost_registration") else Case.Kind.OUT_OF_SCHOOL
    return case_open(
        actor=actor,
        child=finding.child,
        kind=kind,
        finding=finding,
        confirmed=True,
        school=finding.school,
        reason=f"比对发现（{finding.get_category_display()}）经核查确认：{finding.detail}",
    )


@transaction.atomic
def case_start_verification(*, actor, case: Case, reason: str) -> Case:
    _begin(actor, CASE_WORKERS, "核查台账", reason)
    return _move(case, S.VERIFYING, actor=actor, allowed_from=ALLOWED_FROM["verify"], reason=reason)


@transaction.atomic
def case_exclude(*, actor, case: Case, reason: str, evidence: str) -> Case:
    _begin(actor, CASE_WORKERS, "排除台账", reason)
    if not evidence.strip():
        raise ValidationError({"evidence": "排除须注明依据（外地就读证明、转学手续、死亡或迁出证明等）"})
    case = _move(case, S.EXCLUDED, actor=actor, allowed_from=ALLOWED_FROM["exclude"], reason=reason, evidence=evidence)
    Case.objects.filter(pk=case.pk).update(verified_by=actor)
    return case


@transaction.atomic
def case_confirm(*, actor, case: Case, reason: str) -> Case:
    _begin(actor, CASE_WORKERS, "确认台账", reason)
    case = _move(case, S.CONFIRMED, actor=actor, allowed_from=ALLOWED_FROM["confirm"], reason=reason)
    Case.objects.filter(pk=case.pk).update(verified_by=actor, confirmed_on=timezone.localdate())
    case.refresh_from_db()
    return case


@transaction.atomic
def case_defer(*, actor, case: Case, reason: str, court_ruling: str = "") -> Case:
    """准予延缓/休学: only after enough joint persuasions or a court ruling, approved by the county (seed 002)."""
    _begin(actor, {Role.COUNTY_ADMIN}, "批准延缓入学或休学", reason)
    needed = county_rules(case.county_id).deferral_joint_persuasions
    joint = joint_count(case.persuasions.all())
    if joint < needed and not court_ruling.strip():
        raise ValidationError(f"须经{needed}次以上联合劝返（目前{joint}次）或有法院裁决，方可批准延缓入学/休学")
    case = _move(
        case, S.DEFERRED, actor=actor, allowed_from=ALLOWED_FROM["defer"], reason=reason, evidence=court_ruling or f"已联合劝返{joint}次"
    )
    Case.objects.filter(pk=case.pk).update(deferral_approved=True, reviewed_by=actor)
    return case


@transaction.atomic
def case_home_teaching(*, actor, case: Case, reason: str) -> Case:
    _begin(actor, CASE_WORKERS, "安排送教上门", reason)
    if not case.child.disability_category:
        raise ValidationError("送教上门仅适用于登记了残疾类别的儿童（请先登记残疾信息和残疾证）")
    return _move(case, S.HOME_TEACHING, actor=actor, allowed_from=ALLOWED_FROM["home_teaching"], reason=reason)


@transaction.atomic
def case_escalate(*, actor, case: Case, reason: str) -> Case:
    """限期复学通知书 expired without return → judicial referral."""
    _begin(actor, CASE_WORKERS, "升级处理", reason)
    notice = case.documents.filter(kind="deadline_notice").order_by("-issued_on").first()
    if notice is None:
        raise ValidationError("须先送达《限期复学通知书》，期满仍未复学的方可依法申请司法调处")
    if notice.deadline and notice.deadline >= timezone.localdate():
        raise ValidationError(f"《限期复学通知书》期限至{notice.deadline:%Y年%m月%d日}，尚未届满")
    return _move(
        case, S.ESCALATED, actor=actor, allowed_from=ALLOWED_FROM["escalate"], reason=reason, evidence=f"限期复学通知书 {notice.number}"
    )


@transaction.atomic
def case_resume(*, actor, case: Case, reason: str) -> Case:
    _begin(actor, CASE_WORKERS, "继续劝返", reason)
    return _move(case, S.PERSUADING, actor=actor, allowed_from=ALLOWED_FROM["resume"], reason=reason)


@transaction.atomic
def case_return(*, actor, case: Case, reason: str) -> Case:
    _begin(actor, CASE_WORKERS, "登记复学", reason)
    enrolment = active_enrolment(case.child)
    if enrolment is None:
        raise ValidationError("该儿童还没有在读学籍：请学校先办理入学或复学（学籍系统或本系统的学籍变动）")
    return _move(
        case,
        S.RETURNED,
        actor=actor,
        allowed_from=ALLOWED_FROM["return"],
        reason=reason,
        evidence=f"{enrolment.school.name} {enrolment.get_grade_display()} {enrolment.get_status_display()}",
    )


@transaction.atomic
def case_close(*, actor, case: Case, reason: str) -> Case:
    """销号: evidence (back in school for N school days, or a verified exclusion) and a reviewer other than who filled it in."""
    _begin(actor, COUNTY_ROLES | {Role.TOWNSHIP_STAFF}, "审核销号", reason)
    case = Case.objects.select_related("child").get(pk=case.pk)
    last = case.transitions.order_by("-at", "-id").first()
    involved = {case.filled_by_id, last.by_id if last else None} - {None}
    if actor.pk in involved:
        raise ValidationError("销号须由填写人、经办人以外的人员审核（谁填写谁负责、谁审核谁负责）")
    if case.state == S.RETURNED:
        needed = county_rules(case.county_id).closure_school_days
        since = timezone.localdate(case.state_since)
        school_days = weekdays(since, timezone.localdate())
        absent = AttendanceRecord.objects.filter(child=case.child, status=AttendanceRecord.Status.ABSENT, date__gt=since).count()
        if len(school_days) < needed:
            raise ValidationError(f"复学后须连续到校{needed}个上课日方可销号（目前{len(school_days)}个）")
        if absent:
            raise ValidationError(f"复学后仍有{absent}天缺勤记录，暂不能销号")
        evidence = f"复学后{len(school_days)}个上课日无缺勤"
    else:
        evidence = f"排除依据：{last.evidence}" if last else ""
    case = _move(case, S.CLOSED, actor=actor, allowed_from=ALLOWED_FROM["close"], reason=reason, evidence=evidence)
    Case.objects.filter(pk=case.pk).update(reviewed_by=actor)
    return case


@transaction.atomic
def case_reopen(*, actor, case: Case, reason: str) -> Case:
    _begin(actor, CASE_WORKERS, "重新打开台账", reason)
    if Case.objects.filter(child=case.child, state__in=OPEN_STATES).exclude(pk=case.pk).exists():
        raise ValidationError("该儿童已有另一个未销号的台账")
    return _move(case, S.PERSUADING, actor=actor, allowed_from=ALLOWED_FROM["reopen"], reason=reason)


@transaction.atomic
def case_update_form(*, actor, case: Case, **values) -> Case:
    """The 一生一表 fields; audited like any other change."""
    _need_role(actor, CASE_WORKERS, "填写台账")
    case = Case.objects.select_for_update().get(pk=case.pk)
    before = {f: getattr(case, f) for f in CASE_FORM_FIELDS}
    for field, value in values.items():
        if field not in CASE_FORM_FIELDS:
            raise ValueError(f"case_update_form does not change {field}")
        setattr(case, field, value)
    case.full_clean(validate_constraints=False)
    changed = [f for f in CASE_FORM_FIELDS if before[f] != getattr(case, f)]
    if changed:
        case.filled_by = actor
        case.save(update_fields=[*changed, "filled_by"])
        audit_record(
            actor=actor,
            action="update",
            obj=case,
            chain=case.county.prefix,
            summary=f"填写台账 {case.number}",
            before={f: before[f] for f in changed},
            after={f: getattr(case, f) for f in changed},
        )
    return case


ALLOWED_UPLOADS = {b"\xff\xd8\xff": ("image/jpeg", ".jpg"), b"\x89PNG": ("image/png", ".png"), b"%PDF": ("application/pdf", ".pdf")}
MAX_ATTACHMENT = 10 * 1024 * 1024


def _store_attachment(upload, **owner) -> Attachment:
    """Check a photo or PDF scan by content and size, keep it, and attach it to its one owner
    (record=…, plan=… or session=…)."""
    head = upload.read(8)
    upload.seek(0)
    kind = next((v for magic, v in ALLOWED_UPLOADS.items() if head.startswith(magic)), None)
    if kind is None:
        raise ValidationError({"attachments": f"“{upload.name}”不是照片（JPG/PNG）或 PDF 扫描件"})
    if upload.size > MAX_ATTACHMENT:
        raise ValidationError({"attachments": f"“{upload.name}”超过10MB"})
    stored = save_upload(upload, "cases", kind[1])
    return Attachment.objects.create(stored_name=stored, file_name=upload.name[:255], content_type=kind[0], size=upload.size, **owner)


@transaction.atomic
def persuasion_add(
    *,
    actor,
    case: Case,
    date: dt.date,
    method: str,
    units: list[str],
    participants: str,
    place: str,
    content: str,
    result: str,
    next_step: str = "",
    files=(),
) -> PersuasionRecord:
    """A 劝返记录; the first one moves a confirmed case to 劝返中 (即辍即劝)."""
    _need_role(actor, CASE_WORKERS, "登记劝返记录")
    case = Case.objects.select_for_update().select_related("county", "child").get(pk=case.pk)
    if case.state not in (S.CONFIRMED, S.PERSUADING, S.DEFERRED, S.HOME_TEACHING, S.ESCALATED):
        raise ValidationError(f"台账为“{case.get_state_display()}”时不能登记劝返记录")
    if date > timezone.localdate():
        raise ValidationError({"date": "劝返日期不能晚于今天"})
    record = PersuasionRecord(
        case=case,
        date=date,
        method=method,
        units=sorted(set(units)),
        participants=participants,
        place=place,
        content=content,
        result=result,
        next_step=next_step,
        recorded_by=actor,
    )
    record.full_clean()
    record.save()
    for upload in files:
        _store_attachment(upload, record=record)
    audit_record(
        actor=actor,
        action="create",
        obj=record,
        chain=case.county.prefix,
        summary=f"劝返记录 {case.number}（{case.child.name}）：{record.get_method_display()}，{result}",
        after={"date": date.isoformat(), "method": method, "units": record.units, "result": result},
    )
    if case.state == S.CONFIRMED:
        _move(
            case, S.PERSUADING, actor=actor, allowed_from=[S.CONFIRMED], reason=f"{date:%Y-%m-%d} 首次劝返（{record.get_method_display()}）"
        )
    return record


@transaction.atomic
def rules_update(*, actor, rules: CaseRules, values: dict) -> CaseRules:
    """The county's deadlines are data: county admins change them, audited like any other record."""
    _need_role(actor, {Role.COUNTY_ADMIN}, "修改台账规则")
    stored = CaseRules.objects.get(pk=rules.pk)  # a bound ModelForm has already changed `rules` in memory
    before = {name: getattr(stored, name) for name in values}
    for name, value in values.items():
        setattr(rules, name, value)
    rules.full_clean()
    rules.save()
    changed = {k: v for k, v in values.items() if before[k] != v}
    if changed:
        audit_record(actor=actor, action="update", obj=rules, chain=rules.county.prefix, summary=f"修改{rules.county.name}台账规则",
                     before={k: before[k] for k in changed}, after=changed)
    return rules
