"""台账: the ledger list (overdue first), the case page (一生一表), persuasion records, documents, to-do."""

from collections import Counter

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from kongchuo.accounts.scoping import cases_for, get_case_for_user, get_child_for_user
from kongchuo.audit.services import audit_record, chain_for_user
from kongchuo.cases import services
from kongchuo.cases.deadlines import due_items
from kongchuo.cases.documents import KINDS
from kongchuo.cases.exports import ledger_xlsx
from kongchuo.cases.forms import CaseForm, MoveForm, PersuasionForm
from kongchuo.cases.models import Attachment, Case, State
from kongchuo.cases.paperwork import document_issue
from kongchuo.core.forms import apply_validation_error
from kongchuo.core.paging import paginate

# action → (service, button label, states it applies to)
ACTIONS = {
    "verify": (services.case_start_verification, "开始核查", [State.SUSPECTED]),
    "confirm": (services.case_confirm, "确认失学/辍学", [State.SUSPECTED, State.VERIFYING]),
    "exclude": (services.case_exclude, "排除（须注明依据）", [State.SUSPECTED, State.VERIFYING]),
    "home_teaching": (services.case_home_teaching, "转为送教上门", [State.CONFIRMED, State.PERSUADING]),
    "defer": (services.case_defer, "批准延缓入学/休学（县）", [State.PERSUADING]),
    "escalate": (services.case_escalate, "限期期满，升级司法调处", [State.PERSUADING]),
    "resume": (services.case_resume, "继续劝返", [State.DEFERRED, State.HOME_TEACHING, State.ESCALATED]),
    "return": (
        services.case_return,
        "登记已复学",
        [State.CONFIRMED, State.PERSUADING, State.DEFERRED, State.HOME_TEACHING, State.ESCALATED],
    ),
    "close": (services.case_close, "审核销号", [State.RETURNED, State.EXCLUDED]),
    "reopen": (services.case_reopen, "重新打开", [State.CLOSED]),
}


def case_list(request):
    cases = cases_for(request.user)
    state = request.GET.get("state", "open")
    if state == "open":
        cases = cases.exclude(state__in=[State.CLOSED, State.EXCLUDED])
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
    context = {
        "dues": dues,
        "overdue": [d for d in dues if d.overdue],
        "soon": [d for d in dues if not d.overdue and d.days <= 7],
        "by_township": by_township.most_common(),
        "by_school": by_school.most_common(20),
    }
    return render(request, "cases/todo.html", context)


def case_detail(request, case_id: int):
    case = get_case_for_user(request.user, case_id)
    actions = [(name, label) for name, (_, label, states) in ACTIONS.items() if case.state in states]
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
        "joint": sum(1 for r in case.persuasions.all() if r.is_joint),
        "dues": [d for d in due_items(Case.objects.filter(pk=case.pk), timezone.localdate())],
        "can_work": request.user.role in services.CASE_WORKERS,
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
    if request.user.role not in services.CASE_WORKERS:
        raise PermissionDenied("您的角色无权填写台账")
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
    if request.user.role not in services.CASE_WORKERS:
        raise PermissionDenied("您的角色无权登记劝返记录")
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
    from django.conf import settings

    case = get_case_for_user(request.user, case_id)
    document = get_object_or_404(case.documents, pk=document_id)
    pdf = request.GET.get("format") == "pdf" and document.pdf_stored_name
    name = document.pdf_stored_name if pdf else document.stored_name
    audit_record(
        actor=request.user,
        action="export",
        obj=document,
        chain=case.county.prefix,
        summary=f"下载《{KINDS[document.kind]}》{document.number}（{case.child.name}）",
    )
    filename = f"{KINDS[document.kind]}-{case.child.name}.{'pdf' if pdf else 'docx'}"
    return FileResponse(open(settings.FILES_DIR / "documents" / name, "rb"), as_attachment=True, filename=filename)  # noqa: SIM115


def attachment_download(request, case_id: int, attachment_id: int):
    from django.conf import settings

    case = get_case_for_user(request.user, case_id)
    attachment = get_object_or_404(Attachment, pk=attachment_id, record__case=case)
    return FileResponse(
        open(settings.FILES_DIR / "cases" / attachment.stored_name, "rb"),
        filename=attachment.file_name,  # noqa: SIM115
        content_type=attachment.content_type,
    )


def ledger_export(request):
    cases = cases_for(request.user)
    content, count = ledger_xlsx(cases)
    audit_record(
        actor=request.user, action="export", chain=chain_for_user(request.user), summary=f"导出控辍台账 {count} 条（证件号已脱敏）"
    )
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = "attachment; filename*=UTF-8''ledger.xlsx"
    return response
