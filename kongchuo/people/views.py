"""Child list, record, edit and export. Thin: parse, authorise through scoping, call a service."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from kongchuo.accounts.scoping import Perm, cases_for, divisions_for, findings_for, get_child_for_user, has_perm, schools_for
from kongchuo.audit.services import audit_record, chain_for_user
from kongchuo.cases.services import CASE_WORKERS
from kongchuo.core.forms import apply_validation_error
from kongchuo.core.masking import mask_in_text
from kongchuo.core.paging import paginate
from kongchuo.imports.services import allowed_sources
from kongchuo.people import exports
from kongchuo.people.forms import ChildEditForm, ChildFilterForm, GuardianForm
from kongchuo.people.models import Child, Guardian, conflict_value
from kongchuo.people.selectors import ChildFilters, child_list_for_user
from kongchuo.people.services import child_update, guardian_delete, guardian_save
from kongchuo.places.models import Division


def _filters(request) -> tuple[ChildFilterForm, ChildFilters]:
    form = ChildFilterForm(
        request.GET or None,
        townships=divisions_for(request.user).filter(level=Division.Level.TOWNSHIP),
        schools=schools_for(request.user),
    )
    if form.is_bound and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        return form, ChildFilters(**data)
    return form, ChildFilters()


def child_list(request):
    form, filters = _filters(request)
    context = {"form": form, **paginate(request, child_list_for_user(request.user, filters))}
    if request.headers.get("HX-Request"):
        return render(request, "people/_child_table.html", context)
    return render(request, "people/child_list.html", context)


def child_export(request):
    _, filters = _filters(request)
    children = child_list_for_user(request.user, filters)
    content, count = exports.child_list_xlsx(children)
    audit_record(
        actor=request.user,
        action="export",
        chain=chain_for_user(request.user),
        summary=f"导出儿童名单 {count} 人（证件号已脱敏）",
        after={"filters": filters.__dict__, "rows": count},
    )
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = "attachment; filename*=UTF-8''children.xlsx"
    return response


def child_detail(request, child_id: int):
    child = get_child_for_user(request.user, child_id)
    full_id = has_perm(request.user, Perm.VIEW_FULL_ID)
    audit_record(
        actor=request.user,
        action="view",
        obj=child,
        chain=child.county.prefix,
        summary=f"查看儿童档案 {child.name}" + ("（含完整证件号）" if full_id and child.id_number else ""),
    )
    enrolments = child.enrolments.select_related("school", "school_class").prefetch_related("history__recorded_by")
    context = {
        "child": child,
        "show_full_id": full_id,
        "guardians": child.guardians.all(),
        "groups": child.groups.all(),
        "enrolments": enrolments,
        "provenance": _provenance_by_source(child),
        "external_studies": child.external_studies.order_by("-recorded_on"),
        "can_open_imports": bool(allowed_sources(request.user)),  # the others would find the import's page closed
        "can_edit": has_perm(request.user, Perm.EDIT_CHILD),
        "can_change_enrolment": has_perm(request.user, Perm.CHANGE_ENROLMENT),
        "guardian_form": GuardianForm(),
        "cases": cases_for(request.user).filter(child=child).order_by("-opened_at"),
        "findings": findings_for(request.user).filter(Q(child=child) | Q(other_child=child)).exclude(status="resolved"),
        "can_open_case": request.user.role in CASE_WORKERS,
    }
    return render(request, "people/child_detail.html", context)


def _provenance_by_source(child) -> list[dict]:
    """One line per source and import: which fields came with it (the latest of the source with its time).

    A field whose value from the source is not the one the child holds (precedence kept another source's: an
    identity conflict) says so, with the value the source gave."""
    lines = []
    for p in child.provenance.order_by("source"):
        by_batch: dict = {}
        for f in p.fields:
            name = str(Child._meta.get_field(f).verbose_name)
            value = p.refused.get(f)
            if value is not None and value != conflict_value(getattr(child, f, None)):  # not since set so by hand
                name += f"（未采用：{mask_in_text(_shown(f, value))}）"
            by_batch.setdefault(p.batches.get(f, p.batch_id), []).append(name)
        for batch, fields in sorted(by_batch.items(), key=lambda kv: (kv[0] != p.batch_id, -(kv[0] or 0))):
            latest = batch == p.batch_id
            lines.append({"source": p.get_source_display(), "fields": fields, "batch": batch,
                          "reference": p.reference if latest else f"导入批次#{batch}", "at": p.recorded_at if latest else None})
    return lines


def _shown(fieldname: str, value: str) -> str:
    """A conflict's value as the page shows the field (女, not F; 肢体残疾, not physical)."""
    choices = {str(k): label for k, label in Child._meta.get_field(fieldname).flatchoices}
    return str(choices.get(value, value))


def child_edit(request, child_id: int):
    child = get_child_for_user(request.user, child_id, write=True)
    divisions = Division.objects.filter(prefix__startswith=child.county.prefix, level__gte=Division.Level.TOWNSHIP)
    full_id = has_perm(request.user, Perm.VIEW_FULL_ID)
    form = ChildEditForm(
        request.POST or None,
        instance=child,
        divisions=divisions,
        initial={"id_number": child.id_number or child.id_number_raw} if full_id else {},
    )
    if full_id:
        if request.method == "GET":
            audit_record(actor=request.user, action="view", obj=child, chain=child.county.prefix,
                         summary=f"打开儿童信息修改页 {child.name}（含完整证件号）")
    else:
        del form.fields["id_number"]  # who may not see the full number neither sees nor changes it here
    if request.method == "POST" and form.is_valid():
        changes = {k: v for k, v in form.cleaned_data.items() if k != "id_number"}
        try:
            child_update(actor=request.user, child=child, id_number=form.cleaned_data.get("id_number") or None, **changes)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "已保存")
            return redirect("child_detail", child_id=child.pk)
    return render(request, "people/child_edit.html", {"child": child, "form": form})


@require_POST
def guardian_add(request, child_id: int):
    child = get_child_for_user(request.user, child_id, write=True)
    form = GuardianForm(request.POST)
    if form.is_valid():
        try:
            guardian_save(actor=request.user, child=child, **form.cleaned_data)
            messages.success(request, "已添加监护人")
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
    else:
        messages.error(request, "监护人信息有误：" + "；".join(f"{form.fields[f].label}：{e[0]}" for f, e in form.errors.items()))
    return redirect("child_detail", child_id=child.pk)


@require_POST
def guardian_remove(request, child_id: int, guardian_id: int):
    child = get_child_for_user(request.user, child_id, write=True)
    guardian = get_object_or_404(Guardian, pk=guardian_id, child=child)
    guardian_delete(actor=request.user, guardian=guardian)
    messages.success(request, "已删除监护人")
    return redirect("child_detail", child_id=child.pk)
