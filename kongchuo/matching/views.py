"""比对: run button with progress, findings by category × township, verification, the link review queue."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from kongchuo.accounts.scoping import (
    Perm,
    can_run_match,
    children_for,
    findings_for,
    get_finding_for_user,
    has_perm,
    sees_whole_county,
)
from kongchuo.core.forms import apply_validation_error
from kongchuo.core.paging import paginate
from kongchuo.matching.models import LIVE_STATUSES, Category, Finding, LinkCandidate, MatchRun, Verification
from kongchuo.matching.selectors import category_township_table
from kongchuo.matching.services import candidate_decide, finding_confirm, finding_exclude
from kongchuo.matching.tasks import run_match


class VerifyForm(forms.Form):
    outcome = forms.ChoiceField(label="核查结论", choices=Verification.Outcome.choices)
    reason = forms.ChoiceField(label="排除原因", required=False, choices=[("", "—"), *Verification.Reason.choices])
    note = forms.CharField(label="核查情况", widget=forms.Textarea(attrs={"rows": 3}))
    evidence = forms.FileField(label="证明材料（外地就读证明、转学证明等）", required=False)


def _runs(user):
    if not user.division_id:
        return MatchRun.objects.none()
    return MatchRun.objects.filter(county__prefix__startswith=user.division.prefix[:6])


def match_home(request):
    findings = findings_for(request.user)
    runs = _runs(request.user)[:10]
    latest = runs[0] if runs else None
    running = latest is not None and latest.status in (MatchRun.Status.QUEUED, MatchRun.Status.RUNNING)
    if request.headers.get("HX-Request"):
        # The status line polls every 2 s while a run is going (nothing is swapped in); once it has finished the
        # page reloads itself.
        response = HttpResponse()
        if not running:
            response["HX-Refresh"] = "true"
        return response
    context = {
        "table": category_township_table(findings),
        "runs": runs,
        "run_counts": _run_counts(request.user, findings, runs),
        "latest": latest,
        "running": running,
        "can_run": can_run_match(request.user),
        "today": timezone.localdate(),
        "pending_review": LinkCandidate.objects.filter(status=LinkCandidate.Status.PENDING, left__in=children_for(request.user)).count(),
    }
    return render(request, "matching/home.html", context)


@require_POST
def match_start(request):
    if not can_run_match(request.user):
        raise PermissionDenied("只有县级工作人员可以发起比对")
    try:
        as_of = dt.date.fromisoformat(request.POST.get("as_of") or timezone.localdate().isoformat())
    except ValueError:
        messages.error(request, "基准日期格式应为 2026-11-23")
        return redirect("match_home")
    run = MatchRun.objects.create(county=request.user.division, started_by=request.user, as_of=as_of)
    transaction.on_commit(lambda: run_match.enqueue(run.pk))
    messages.success(request, "比对已开始，可以离开本页，稍后回来查看结果")
    return redirect("match_home")


def finding_list(request):
    qs = findings_for(request.user)
    category = request.GET.get("category", "")
    status = request.GET.get("status", "open")
    township = request.GET.get("township", "")
    if category in Category.values:
        qs = qs.filter(category=category)
    if status in Finding.Status.values:
        qs = qs.filter(status=status)
    if township.isdigit():
        qs = qs.filter(township_id=int(township))
    context = {
        "category": category,
        "status": status,
        "township": township,
        "categories": Category.choices,
        "can_export": has_perm(request.user, Perm.VIEW_FULL_ID) and can_run_match(request.user),
        "statuses": Finding.Status.choices,
        **paginate(request, qs.order_by("category", "township__code", "id")),
    }
    return render(request, "matching/finding_list.html", context)


def finding_detail(request, finding_id: int):
    finding = get_finding_for_user(request.user, finding_id)
    form = VerifyForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        finding = get_finding_for_user(request.user, finding_id, write=True)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if data["outcome"] == Verification.Outcome.EXCLUDED:
                    finding_exclude(
                        actor=request.user, finding=finding, reason=data["reason"], note=data["note"], evidence=data["evidence"]
                    )
                else:
                    finding_confirm(actor=request.user, finding=finding, note=data["note"])
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "核查结果已保存")
                return redirect("finding_detail", finding_id=finding.pk)
    other = finding.other_child_id
    context = {
        "finding": finding,
        # The other record of a pair may lie outside the user's part of the county: named only within it.
        "other_child": finding.other_child if other and children_for(request.user).filter(pk=other).exists() else None,
        "form": form,
        "verifications": finding.verifications.select_related("verified_by"),
        "can_verify": has_perm(request.user, Perm.VERIFY_FINDINGS) and finding.status == Finding.Status.OPEN,
    }
    return render(request, "matching/finding_detail.html", context)


def review_list(request):
    if not has_perm(request.user, Perm.RUN_MATCH):
        raise PermissionDenied("只有县级工作人员可以确认匹配")
    scope = children_for(request.user)  # both sides: the page shows each one's name, birth date and gender
    qs = LinkCandidate.objects.filter(left__in=scope, right__in=scope).select_related("left", "right")
    status = request.GET.get("status", "pending")
    if status in LinkCandidate.Status.values:
        qs = qs.filter(status=status)
    return render(request, "matching/review_list.html", {"status": status, **paginate(request, qs.order_by("-weight", "id"))})


@require_POST
def review_decide(request, candidate_id: int):
    if not has_perm(request.user, Perm.RUN_MATCH):
        raise PermissionDenied("只有县级工作人员可以确认匹配")
    scope = children_for(request.user)
    candidate = get_object_or_404(LinkCandidate, pk=candidate_id, left__in=scope, right__in=scope)
    candidate_decide(actor=request.user, candidate=candidate, same_person=request.POST.get("decision") == "same")
    messages.success(request, "已记录，下次比对时采用")
    return redirect("review_list")


def _run_counts(user, findings, runs) -> dict[int, dict] | None:
    """Per run, the new and resolved findings within the user's scope; None for a user who sees the whole county
    (the run's own totals are theirs). A township or a school sees no other township's or school's numbers."""
    if sees_whole_county(user):
        return None
    counts = {run.pk: {"new": 0, "resolved": 0} for run in runs}
    for kind, column in (("new", "first_run"), ("resolved", "resolved_run")):
        for run_id, n in findings.filter(**{f"{column}__in": list(counts)}).order_by().values_list(column).annotate(n=Count("pk")):
            counts[run_id][kind] = n
    return counts


def run_detail(request, run_id: int):
    run = get_object_or_404(_runs(request.user), pk=run_id)
    scope = findings_for(request.user)
    context = {
        "run": run,
        "new": scope.filter(first_run=run)[:200],
        "resolved": scope.filter(resolved_run=run)[:200],
        "scoped": (_run_counts(request.user, scope, [run]) or {}).get(run.pk),
    }
    return render(request, "matching/run_detail.html", context)


def findings_export(request):
    """The CONTRACT's CSV with full ID numbers: county roles entitled to them only; audited."""
    import tempfile
    from pathlib import Path

    from django.http import FileResponse

    from kongchuo.matching.services import findings_export_csv

    if not (has_perm(request.user, Perm.VIEW_FULL_ID) and can_run_match(request.user)):
        raise PermissionDenied("只有县级工作人员可以导出比对发现")
    findings = findings_for(request.user).filter(status__in=LIVE_STATUSES)
    category = request.GET.get("category", "")
    if category in Category.values:
        findings = findings.filter(category=category)
    path = Path(tempfile.mkstemp(suffix=".csv")[1])
    findings_export_csv(actor=request.user, findings=findings, path=path)
    response = FileResponse(open(path, "rb"), as_attachment=True, filename="findings.csv", content_type="text/csv")  # noqa: SIM115
    path.unlink()  # the open handle keeps the data until the response is sent
    return response
