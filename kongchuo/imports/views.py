"""Upload → automatic dry run (background) → preview with rejected rows → confirm → apply (background)."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kongchuo.accounts.scoping import Perm, conflicts_for, get_import_for_user, has_perm, imports_for, require
from kongchuo.audit.services import audit_record, chain_for_user
from kongchuo.core.paging import paginate
from kongchuo.imports.exports import error_report_xlsx
from kongchuo.imports.headers import FIELD_LABELS
from kongchuo.imports.models import ImportBatch, ImportSource, RowIssue
from kongchuo.imports.services import (
    MAX_UPLOAD_BYTES,
    ImportFailed,
    allowed_sources,
    import_store,
    mapping_save,
    mark_interrupted,
    read_progress,
)
from kongchuo.imports.sources import SPECS
from kongchuo.imports.tasks import run_import

RUNNING = {ImportBatch.Status.UPLOADED, ImportBatch.Status.QUEUED, ImportBatch.Status.APPLYING}


class UploadForm(forms.Form):
    source = forms.ChoiceField(label="名单类型")
    file = forms.FileField(label="文件（.xlsx / .xls / .csv）")

    def __init__(self, *args, sources, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [(s, ImportSource(s).label) for s in sources]


def _enqueue(batch: ImportBatch, user, *, dry_run: bool) -> None:
    batch.status = ImportBatch.Status.QUEUED
    batch.save(update_fields=["status"])
    transaction.on_commit(lambda: run_import.enqueue(batch.pk, user.pk, dry_run))


def import_list(request):
    batches = imports_for(request.user)
    mark_interrupted(request.user.division)
    form = UploadForm(request.POST or None, request.FILES or None, sources=allowed_sources(request.user))
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = import_store(actor=request.user, source=form.cleaned_data["source"], upload=upload, file_name=upload.name)
        except ImportFailed as exc:
            form.add_error("file", str(exc))
        else:
            _enqueue(batch, request.user, dry_run=True)
            return redirect("import_detail", batch_id=batch.pk)
    context = {"form": form, "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024), **paginate(request, batches)}
    return render(request, "imports/import_list.html", context)


def import_detail(request, batch_id: int):
    batch = get_import_for_user(request.user, batch_id)
    if mark_interrupted(batch.county):
        batch.refresh_from_db()
    issues = batch.issues.order_by("kind", "id")  # in the file's order, sheet after sheet
    kind = request.GET.get("kind", "")
    if kind in RowIssue.Kind.values:
        issues = issues.filter(kind=kind)
    spec = SPECS[batch.source]
    sheets = [*batch.summary.get("sheets", []), *batch.summary.get("unmatched", [])]  # a mapping serves every sheet
    labels = list(dict.fromkeys(x for sheet in sheets for x in sheet.get("labels", []) if x))
    current = (sheets or [{}])[0].get("columns", {})
    mapping_rows = [(f, FIELD_LABELS.get(f, f), current.get(f, ""), f in spec.required) for f in spec.fields]
    context = {
        "batch": batch,
        "running": batch.status in RUNNING,
        "progress": read_progress(batch),
        "kind": kind,
        "labels": labels,
        "can_unmask": has_perm(request.user, Perm.VIEW_FULL_ID),
        "mapping_rows": mapping_rows,
        **paginate(request, issues),
    }
    if request.headers.get("HX-Request"):
        if batch.status not in RUNNING:
            response = HttpResponse()
            response["HX-Refresh"] = "true"  # finished: reload the whole page (mapping form, issues)
            return response
        return render(request, "imports/_status.html", context)
    return render(request, "imports/import_detail.html", context)


@require_POST
def import_mapping(request, batch_id: int):
    batch = get_import_for_user(request.user, batch_id)
    if batch.status in RUNNING or batch.status == ImportBatch.Status.APPLIED:
        raise PermissionDenied("该导入正在进行或已完成，不能修改列对应")
    mapping = {f: request.POST[f"map_{f}"] for f in SPECS[batch.source].fields if request.POST.get(f"map_{f}")}
    mapping_save(actor=request.user, batch=batch, mapping=mapping)
    _enqueue(batch, request.user, dry_run=True)
    messages.success(request, "列对应已保存（以后导入同类名单时自动使用），正在重新预检")
    return redirect("import_detail", batch_id=batch.pk)


@require_POST
def import_apply(request, batch_id: int):
    batch = get_import_for_user(request.user, batch_id)
    if batch.status != ImportBatch.Status.PREVIEWED:
        messages.error(request, "只有预检通过（无拒收行）的文件才能确认导入")
        return redirect("import_detail", batch_id=batch.pk)
    _enqueue(batch, request.user, dry_run=False)
    messages.success(request, "已开始导入，可以离开本页，稍后回来查看结果")
    return redirect("import_detail", batch_id=batch.pk)


def import_errors(request, batch_id: int):
    """The error report; ?full=1 keeps full ID numbers for roles entitled to them, which is audited as such."""
    batch = get_import_for_user(request.user, batch_id)
    unmasked = request.GET.get("full") == "1"
    if unmasked:
        require(request.user, Perm.VIEW_FULL_ID)
    content, count = error_report_xlsx(batch, unmasked=unmasked)
    audit_record(
        actor=request.user,
        action="export",
        obj=batch,
        chain=chain_for_user(request.user),
        summary=f"下载导入错误报告《{batch.file_name}》{count}行（{'含完整证件号' if unmasked else '证件号已脱敏'}）",
    )
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''import-{batch.pk}-errors.xlsx"
    return response


def conflict_list(request):
    qs = conflicts_for(request.user)
    status = request.GET.get("status", "open")
    if status:
        qs = qs.filter(status=status)
    return render(request, "imports/conflict_list.html", {"status": status, **paginate(request, qs)})
