"""台账: the ledger list (overdue first), the case page (一生一表), persuasion records, documents, to-do;
送教上门 plans and records, 一人一案 support measures, and the user's 提醒 (notifications)."""

from collections import Counter

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from kongchuo.accounts.scoping import cases_for, get_case_for_user, get_child_for_user
from kongchuo.audit.services import audit_record, chain_for_user
from kongchuo.cases import home_teaching, notify, services, support
from kongchuo.cases.deadlines import due_items
from kongchuo.cases.documents import KINDS
from kongchuo.cases.exports import ledger_xlsx
from kongchuo.cases.forms import (
    CaseForm,
    HolidayContactForm,
    HomeTeachingPlanForm,
    HomeTeachingSessionForm,
    MoveForm,
    PersuasionForm,
    SupportEndForm,
    SupportMeasureForm,
)
from kongchuo.cases.home_teaching import RECENT_WEEKS, cases_without_plan, check_plans, plans_for_child
from kongchuo.cases.models import OPEN_STATES, Attachment, Case, HomeTeachingPlan, State, county_rules, joint_count
from kongchuo.cases.paperwork import document_issue
from kongchuo.cases.selectors import (
    get_child_for_casework,
    get_plan_for_user,
    home_teaching_plans_for,
    notifications_for,
    teacher_choices,
)
from kongchuo.cases.support import measures_for_child
from kongchuo.core.forms import apply_validation_error
from kongchuo.core.paging import paginate

# action → (service, button label); the states it applies to are services.ALLOWED_FROM[action]
ACTIONS = {
    "verify": (services.case_start_verification, "开始核查"),
    "confirm": (services.case_confirm, "确认失学/辍学"),
    "exclude": (services.case_exclude, "排除（须注明依据）"),
    "home_teaching": (services.case_home_teaching, "转为送教上门"),
    "defer": (services.case_defer, "批准延缓入学/休学（县）"),
    "escalate": (services.case_escalate, "限期期满，升级司法调处"),
    "resume": (services.case_resume, "继续劝返"),
    "return": (services.case_return, "登记已复学"),
    "close": (services.case_close, "审核销号"),
    "reopen": (services.case_reopen, "重新打开"),
}


def case_list(request):
    cases = cases_for(request.user)
    state = request.GET.get("state", "open")
    if state == "open":
        cases = cases.filter(state__in=OPEN_STATES)
    elif state in State.values:
        cases = cases.filter(state=state)
    today = timezone.localdate()
    dues = due_items(cases, today)
    overdue_cases = {d.case.pk for d in dues if d.overdue}
    first_due = {}
    for d in dues:
        first_due.setdefault(d.case.pk, d)
    ordered = sorted(cases, key=lambda c: (c.pk not in overdue_cases, first_due[c.pk].due if c.pk in first_due else today, -c.pk))
    context = {
        "state": state,
        "states": State.choices,
        "due": first_due,
        "overdue": overdue_cases,
        "today": today,
        **paginate(request, ordered),
    }
    return render(request, "cases/case_list.html", context)


def case_todo(request):
    """我的待办: what is due and overdue in my scope, and for the county the overdue board by township and school."""
    today = timezone.localdate()
    dues = due_items(cases_for(request.user), today)
    by_township = Counter(d.case.township.name if d.case.township else "未定位" for d in dues if d.overdue)
    by_school = Counter(d.case.school.name if d.case.school else "未定学校" for d in dues if d.overdue)
    failing = [c for c in check_plans(home_teaching_plans_for(request.user), today=today) if c.problems]
    context = {
        "dues": dues,
        "overdue": [d for d in dues if d.overdue],
        "soon": [d for d in dues if not d.overdue and d.days <= 7],
        "by_township": by_township.most_common(),
        "by_school": by_school.most_common(20),
        "home_teaching_failing": len({c.plan.child_id for c in failing}),
        "home_teaching_unplanned": cases_without_plan(cases_for(request.user), today).count(),
        "recent_weeks": RECENT_WEEKS,
    }
    return render(request, "cases/todo.html", context)


def case_detail(request, case_id: int):
    case = get_case_for_user(request.user, case_id)
    plans = plans_for_child(case.child, today=timezone.localdate())
    actions = [(name, label) for name, (_, label) in ACTIONS.items() if case.state in services.ALLOWED_FROM[name]]
    context = {
        "case": case,
        "child": case.child,
        "guardians": case.child.guardians.all()[:2],
        "records": case.persuasions.prefetch_related("attachments").select_related("recorded_by"),
        "transitions": case.transitions.select_related("by"),
        "documents": case.documents.select_related("created_by"),
        "actions": actions,
        "kinds": KINDS.items(),
        "kinds_map": KINDS,
        "move_form": MoveForm(),
        "joint": joint_count(case.persuasions.all()),
        "dues": [d for d in due_items(Case.objects.filter(pk=case.pk), timezone.localdate())],
        "can_work": request.user.role in services.CASE_WORKERS,
        "plans": plans,
        "has_running_plan": any(check.plan.is_active(timezone.localdate()) for check in plans),
        "offers_home_teaching": bool(case.child.disability_category) or case.state == State.HOME_TEACHING,
        "measures": measures_for_child(case.child),
        "support_form": SupportMeasureForm(initial={"start_date": timezone.localdate()}),
        "today": timezone.localdate(),
    }
    return render(request, "cases/case_detail.html", context)


def case_open_view(request, child_id: int):
    child = get_child_for_user(request.user, child_id)
    if request.method == "POST":
        try:
            case = services.case_open(
                actor=request.user,
                child=child,
                kind=request.POST.get("kind", Case.Kind.DROPOUT),
                reason=request.POST.get("reason", "").strip() or "学校/乡镇报告",
                confirmed=False,
            )
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
            return redirect("child_detail", child_id=child.pk)
        return redirect("case_detail", case_id=case.pk)
    raise Http404


def case_edit(request, case_id: int):
    case = get_case_for_user(request.user, case_id)
    _need_worker(request.user, "填写台账")
    form = CaseForm(request.POST or None, instance=case)
    if request.method == "POST" and form.is_valid():
        services.case_update_form(actor=request.user, case=case, **{f: form.cleaned_data[f] for f in services.CASE_FORM_FIELDS})
        messages.success(request, "一生一表已保存")
        return redirect("case_detail", case_id=case.pk)
    return render(request, "cases/case_edit.html", {"case": case, "form": form})


@require_POST
def case_move(request, case_id: int, action: str):
    case = get_case_for_user(request.user, case_id)
    if action not in ACTIONS:
        raise Http404
    form = MoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请写明理由")
        return redirect("case_detail", case_id=case.pk)
    service = ACTIONS[action][0]
    kwargs = {"actor": request.user, "case": case, "reason": form.cleaned_data["reason"]}
    if action == "exclude":
        kwargs["evidence"] = form.cleaned_data["evidence"]
    if action == "defer":
        kwargs["court_ruling"] = form.cleaned_data["evidence"]
    try:
        service(**kwargs)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, f"已{ACTIONS[action][1]}")
    return redirect("case_detail", case_id=case.pk)


def persuasion_new(request, case_id: int):
    case = get_case_for_user(request.user, case_id)
    _need_worker(request.user, "登记劝返记录")
    form = PersuasionForm(request.POST or None, request.FILES or None, initial={"date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        data.pop("attachments")
        try:
            services.persuasion_add(actor=request.user, case=case, files=request.FILES.getlist("attachments"), **data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "劝返记录已保存")
            return redirect("case_detail", case_id=case.pk)
    return render(request, "cases/persuasion_form.html", {"case": case, "form": form})


@require_POST
def document_new(request, case_id: int):
    case = get_case_for_user(request.user, case_id)
    try:
        document = document_issue(actor=request.user, case=case, kind=request.POST.get("kind", ""))
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, f"已生成《{KINDS[document.kind]}》{document.number}")
    return redirect("case_detail", case_id=case.pk)


def document_download(request, case_id: int, document_id: int):
    case = get_case_for_user(request.user, case_id)
    document = get_object_or_404(case.documents, pk=document_id)
    pdf = request.GET.get("format") == "pdf" and document.pdf_stored_name
    name = document.pdf_stored_name if pdf else document.stored_name
    filename = f"{KINDS[document.kind]}-{case.child.name}.{'pdf' if pdf else 'docx'}"
    what = f"《{KINDS[document.kind]}》{document.number}"
    return _send_file(request, case, document, what, settings.FILES_DIR / "documents" / name, as_attachment=True, filename=filename)


def _send_attachment(request, attachment: Attachment, owner: Case | HomeTeachingPlan) -> FileResponse:
    path = settings.FILES_DIR / "cases" / attachment.stored_name
    what = f"附件《{attachment.file_name}》"
    return _send_file(request, owner, attachment, what, path, filename=attachment.file_name, content_type=attachment.content_type)


def _send_file(request, owner: Case | HomeTeachingPlan, obj, what: str, path, **response) -> FileResponse:
    """A case's or a plan's file, its download audited: notices, photos of a child's home and scans of a
    disability certificate are the child's file."""
    handle = open(path, "rb")  # noqa: SIM115 (FileResponse closes it); opened first: a missing file is no download
    audit_record(actor=request.user, action="export", obj=obj, chain=owner.county.prefix, summary=f"下载{what}（{owner.child.name}）")
    return FileResponse(handle, **response)


def attachment_download(request, case_id: int, attachment_id: int):
    case = get_case_for_user(request.user, case_id)
    return _send_attachment(request, get_object_or_404(Attachment, pk=attachment_id, record__case=case), case)


def ledger_export(request):
    cases = cases_for(request.user)
    content, count = ledger_xlsx(cases)
    audit_record(
        actor=request.user, action="export", chain=chain_for_user(request.user), summary=f"导出控辍台账 {count} 条（证件号已脱敏）"
    )
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = "attachment; filename*=UTF-8''ledger.xlsx"
    return response


# --- 送教上门 ---------------------------------------------------------------------------------


def _need_worker(user, what: str) -> None:
    services._need_role(user, services.CASE_WORKERS, what)


def home_teaching_list(request):
    """送教上门 children in scope, failing ones first, with their recent weeks."""
    today = timezone.localdate()
    checks = check_plans(home_teaching_plans_for(request.user), today=today)
    failing_only = request.GET.get("failing") == "1"
    if failing_only:
        checks = [c for c in checks if c.problems]
    checks.sort(key=lambda c: (not c.problems, c.plan.child.name))
    context = {
        "failing_only": failing_only,
        "unplanned": cases_without_plan(cases_for(request.user), today).select_related("child", "school"),
        "recent_weeks": RECENT_WEEKS,
        **paginate(request, checks),
    }
    return render(request, "cases/home_teaching_list.html", context)


def home_teaching_detail(request, plan_id: int):
    plan = get_plan_for_user(request.user, plan_id)
    today = timezone.localdate()
    rules = county_rules(plan.county_id)
    context = {
        "plan": plan,
        "weeks": home_teaching.plan_weeks(plan, rules=rules, today=today, count=12),
        "rules": rules,
        "sessions": plan.sessions.select_related("recorded_by").prefetch_related("photos"),
        "contacts": plan.contacts.select_related("recorded_by"),
        "scans": plan.certificate_scans.all(),
        "teacher_users": plan.teacher_users.all(),
        "can_work": request.user.role in services.CASE_WORKERS,
        "ended": plan.end_date is not None and plan.end_date < today,
    }
    return render(request, "cases/home_teaching_detail.html", context)


def home_teaching_plan_new(request, child_id: int):
    child = get_child_for_casework(request.user, child_id)
    _need_worker(request.user, "制定送教上门方案")
    today = timezone.localdate()
    rules = county_rules(child.county_id)
    form = HomeTeachingPlanForm(
        request.POST or None,
        request.FILES or None,
        initial={"start_date": today, "class_hours": rules.home_teaching_min_hours},
        teachers=teacher_choices(home_teaching.school_for_child(child)),
        certificate_on_file=child.disability_certificate_no,
    )
    if request.method == "POST" and form.is_valid():
        try:
            plan = home_teaching.plan_create(actor=request.user, child=child, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "送教上门方案已保存")
            return redirect("home_teaching_detail", plan_id=plan.pk)
    context = {"form": form, "child": child, "title": f"制定送教上门方案：{child.name}", "multipart": True}
    return render(request, "cases/home_teaching_form.html", context)


def home_teaching_plan_edit(request, plan_id: int):
    plan = get_plan_for_user(request.user, plan_id)
    _need_worker(request.user, "修改送教上门方案")
    initial = {f: getattr(plan, f) for f in home_teaching.PLAN_FIELDS if f != "certificate_no"} | {
        "teacher_users": plan.teacher_users.all()
    }
    form = HomeTeachingPlanForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        teachers=teacher_choices(plan.school),
        certificate_on_file=plan.certificate_no,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not data["certificate_no"].strip():
            data.pop("certificate_no")
        try:
            home_teaching.plan_update(
                actor=request.user,
                plan=plan,
                teacher_users=list(data.pop("teacher_users")),
                certificate=data.pop("certificate"),
                **data,
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "送教上门方案已修改")
            return redirect("home_teaching_detail", plan_id=plan.pk)
    context = {"form": form, "plan": plan, "child": plan.child, "title": f"修改送教上门方案：{plan.child.name}", "multipart": True}
    return render(request, "cases/home_teaching_form.html", context)


def home_teaching_session_new(request, plan_id: int):
    """The 送教记录 form, filled in on a phone at the child's home."""
    plan = get_plan_for_user(request.user, plan_id)
    _need_worker(request.user, "登记送教上门记录")
    initial = {"date": timezone.localdate(), "class_hours": plan.class_hours, "teachers": plan.teachers}
    form = HomeTeachingSessionForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        data.pop("photos")
        try:
            home_teaching.session_add(actor=request.user, plan=plan, files=request.FILES.getlist("photos"), **data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "送教记录已保存")
            return redirect("home_teaching_detail", plan_id=plan.pk)
    context = {"form": form, "plan": plan, "child": plan.child, "title": f"登记送教记录：{plan.child.name}", "multipart": True}
    return render(request, "cases/home_teaching_form.html", context)


def home_teaching_contact_new(request, plan_id: int):
    plan = get_plan_for_user(request.user, plan_id)
    _need_worker(request.user, "登记假期联系记录")
    form = HolidayContactForm(request.POST or None, initial={"date": timezone.localdate(), "method": "phone"})
    if request.method == "POST" and form.is_valid():
        try:
            home_teaching.contact_add(actor=request.user, plan=plan, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "假期联系记录已保存")
            return redirect("home_teaching_detail", plan_id=plan.pk)
    context = {"form": form, "plan": plan, "child": plan.child, "title": f"登记假期联系：{plan.child.name}"}
    return render(request, "cases/home_teaching_form.html", context)


def home_teaching_file(request, plan_id: int, attachment_id: int):
    plan = get_plan_for_user(request.user, plan_id)
    attachment = get_object_or_404(Attachment.objects.filter(Q(plan=plan) | Q(session__plan=plan)), pk=attachment_id)
    return _send_attachment(request, attachment, plan)


# --- 一人一案 ---------------------------------------------------------------------------------


def _back(request, default: str):
    target = request.POST.get("next", "")
    return redirect(target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else default)


def support_measures(request, child_id: int):
    """The child's 一人一案 measures (also shown on its case page); POST adds one."""
    child = get_child_for_casework(request.user, child_id)
    form = SupportMeasureForm(request.POST or None, initial={"start_date": timezone.localdate()})
    if request.method == "POST":
        _need_worker(request.user, "登记帮扶措施")
        if form.is_valid():
            try:
                support.support_add(actor=request.user, child=child, **form.cleaned_data)
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "帮扶措施已登记")
                return _back(request, request.path)
    context = {
        "child": child,
        "measures": measures_for_child(child),
        "support_form": form,
        "can_work": request.user.role in services.CASE_WORKERS,
        "today": timezone.localdate(),
    }
    return render(request, "cases/support.html", context)


@require_POST
def support_measure_end(request, child_id: int, measure_id: int):
    child = get_child_for_casework(request.user, child_id)
    measure = get_object_or_404(child.support_measures, pk=measure_id)
    _need_worker(request.user, "结束帮扶措施")
    form = SupportEndForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写结束日期")
    else:
        try:
            support.support_end(actor=request.user, measure=measure, end_date=form.cleaned_data["end_date"], note=form.cleaned_data["note"])
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
        else:
            messages.success(request, f"已结束：{measure.get_kind_display()}")
    return _back(request, reverse("support_measures", args=[child.pk]))


# --- 提醒 -------------------------------------------------------------------------------------


def notification_list(request):
    notifications = notifications_for(request.user).order_by("read_at", "-created_at", "-id")
    return render(request, "cases/notifications.html", paginate(request, notifications))


@require_POST
def notification_read(request, notification_id: int):
    """Mark read; with `open`, go on to what it is about."""
    notification = get_object_or_404(notifications_for(request.user), pk=notification_id)
    notify.notification_mark_read(user=request.user, notification=notification)
    if request.POST.get("open") and url_has_allowed_host_and_scheme(notification.url, allowed_hosts={request.get_host()}):
        return redirect(notification.url)
    return redirect("notification_list")


@require_POST
def notification_read_all(request):
    count = notify.notification_mark_read(user=request.user)
    messages.success(request, f"已将 {count} 条提醒标为已读")
    return redirect("notification_list")


def case_rules_edit(request):
    """系统 › 台账规则: the county's deadlines and thresholds (county admins only)."""
    from kongchuo.accounts.models import Role
    from kongchuo.cases.forms import CaseRulesForm

    if request.user.role != Role.COUNTY_ADMIN or request.user.division.level != request.user.division.Level.COUNTY:
        raise PermissionDenied("只有县控辍办管理员可以修改台账规则")
    rules = services.rules_for_editing(request.user.division)
    form = CaseRulesForm(request.POST or None, instance=rules)
    if request.method == "POST" and form.is_valid():
        services.rules_update(actor=request.user, rules=rules, values={f: form.cleaned_data[f] for f in form.fields})
        messages.success(request, "台账规则已保存，今后的待办和提醒按新规则计算")
        return redirect("case_rules")
    return render(request, "cases/rules.html", {"form": form})
