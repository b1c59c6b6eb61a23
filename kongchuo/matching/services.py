"""Running a match, keeping findings across runs, and the people's decisions on them."""

import csv
import datetime as dt
import time
from collections import Counter

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kongchuo.audit.services import audit_record
from kongchuo.core.uploads import save_upload
from kongchuo.matching import rules as R
from kongchuo.matching.models import LIVE_STATUSES, Finding, LinkCandidate, MatchRun, Verification
from kongchuo.places.models import Division


def _person_records(data: R.CountyData) -> list[dict]:
    """The children as the linkage engine wants them (PERSON_COLUMNS)."""
    return [
        {
            "uid": str(c[0]),
            "source": "child",
            "name": c[1],
            "gender": c[2] or None,
            "birth_date": c[3],
            # an ID that failed its check digit is what the one-digit / transposed levels recognise
            "id_number": c[4] or data.raw_ids.get(c[0]) or None,
            "guardian_name": data.guardians.get(c[0]),
            "division_code": c[7] or None,
        }
        for c in data.children.values()
    ]


def _links(county: Division, data: R.CountyData, run: MatchRun | None) -> tuple[list, list]:
    """(links joining people, explained fuzzy links) from the engine plus earlier human decisions."""
    from kongchuo.matching import linkage

    decisions = {}
    for left, right, status in (
        LinkCandidate.objects.filter(county=county)
        .exclude(status=LinkCandidate.Status.PENDING)
        .values_list("left_id", "right_id", "status")
    ):
        decisions[(str(left), str(right))] = status == LinkCandidate.Status.ACCEPTED
    result = linkage.link_people(_person_records(data), mode="dedupe", decisions=decisions)
    joins, explained = [], []
    for link in result.auto:
        left, right = int(link.left), int(link.right)
        joins.append((left, right, link.probability))
        explained.append((left, right, link.weight, link.probability, link.agreements))
    if run is not None:
        # Two valid ID numbers that differ are two children (the check digit catches a mistyped digit
        # or a transposition): twins and same-day namesakes are not worth a person's time.
        valid = {c for c, row in data.children.items() if row[5] == "valid"}
        pending = []
        for link in result.review:
            left, right = sorted((int(link.left), int(link.right)))
            if left in valid and right in valid:
                continue
            pending.append(
                LinkCandidate(
                    county=county,
                    left_id=left,
                    right_id=right,
                    weight=link.weight,
                    probability=link.probability,
                    agreements=link.agreements,
                    run=run,
                )
            )
        # The queue is this run's: pairs a later run links by itself or no longer doubts leave it; decisions stay.
        LinkCandidate.objects.filter(county=county, status=LinkCandidate.Status.PENDING).delete()
        LinkCandidate.objects.bulk_create(pending, ignore_conflicts=True, batch_size=1000)
    return joins, explained


def match_run(
    *, actor, county: Division, as_of: dt.date, rules: R.MatchRules | None = None, run: MatchRun | None = None, on_progress=None
) -> MatchRun:
    """Compute the findings of `county` on `as_of` and fold them into the live findings (new / persisting / resolved)."""
    rules = rules or R.MatchRules()
    run = run or MatchRun.objects.create(county=county, started_by=actor, as_of=as_of)
    run.status, run.parameters = MatchRun.Status.RUNNING, {"as_of": as_of.isoformat(), **rules.__dict__}
    run.save(update_fields=["status", "parameters"])
    started = time.monotonic()
    try:
        step = on_progress or (lambda phase: None)
        step("读取数据")
        data = R.load_county(county, as_of, rules)
        step("身份识别（精确 + 概率匹配）")
        joins, explained = _links(county, data, run)  # pairs people accepted as one child included
        people = R.build_people(data, joins)
        step("逐项比对")
        drafts = R.compute_findings(data, people, as_of, rules) + R.identity_findings(data, explained)
        step("保存结果")
        with transaction.atomic():
            diff = _fold(run, county, drafts)
            run.input_counts = {**data.counts, "people": len(people), "fuzzy_links": len(explained)}
            run.result_counts = dict(Counter(d.category for d in drafts))
            run.diff, run.status = diff, MatchRun.Status.DONE
            run.finished_at, run.duration_seconds = timezone.now(), round(time.monotonic() - started, 2)
            run.save()
            audit_record(
                actor=actor,
                action="load",
                obj=run,
                chain=county.prefix,
                summary=f"数据比对（基准日 {as_of}）：发现 {len(drafts)} 条，新增 {diff['new']}，消除 {diff['resolved']}",
                after={"result_counts": run.result_counts, "diff": diff},
            )
    except Exception as exc:
        run.status, run.message = MatchRun.Status.FAILED, f"比对出错：{exc}"
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "message", "finished_at"])
        raise
    return run


def _fold(run: MatchRun, county: Division, drafts: list[R.Draft]) -> dict:
    live = {f.key: f for f in Finding.objects.filter(county=county, status__in=LIVE_STATUSES)}
    excluded = set(Finding.objects.filter(county=county, status=Finding.Status.EXCLUDED).values_list("key", flat=True))
    create, update, seen = [], [], set()
    for d in drafts:
        if d.key in seen or d.key in excluded:
            continue  # a person verified this away, with a reason: it stays away while that holds
        seen.add(d.key)
        values = {
            "category": d.category,
            "detail": d.detail,
            "confidence": d.confidence,
            "sources": d.sources,
            "child_id": d.child_id,
            "other_child_id": d.other_child_id,
            "enrolment_id": d.enrolment_id,
            "attendance_id": d.attendance_id,
            "school_id": d.school_id,
            "township_id": d.township_id,
        }
        finding = live.get(d.key)
        if finding is None:
            create.append(Finding(county=county, key=d.key, first_run=run, last_run=run, **values))
        else:
            for name, value in values.items():
                setattr(finding, name, value)
            finding.last_run = run
            update.append(finding)
    Finding.objects.bulk_create(create, batch_size=1000)
    Finding.objects.bulk_update(
        update,
        ["detail", "confidence", "sources", "child", "other_child", "enrolment", "attendance", "school", "township", "last_run"],
        batch_size=1000,
    )
    gone = [f.pk for key, f in live.items() if key not in seen and f.status == Finding.Status.OPEN]
    Finding.objects.filter(pk__in=gone).update(status=Finding.Status.RESOLVED, resolved_run=run)
    return {"new": len(create), "persisting": len(update), "resolved": len(gone)}


@transaction.atomic
def finding_exclude(*, actor, finding: Finding, reason: str, note: str, evidence=None) -> Verification:
    """Exclude a finding: nothing is excluded without a reason, a note and a person."""
    if finding.status not in LIVE_STATUSES:
        raise ValidationError("该发现已处理，不能重复核查")
    if reason not in Verification.Reason.values:
        raise ValidationError({"reason": "请选择排除原因"})
    if not note.strip():
        raise ValidationError({"note": "请写明核查情况"})
    if reason == Verification.Reason.STUDYING_ELSEWHERE and evidence is None:
        raise ValidationError({"evidence": "外地就读须上传就读证明"})
    stored, name = _store_evidence(evidence) if evidence is not None else ("", "")
    verification = Verification.objects.create(
        finding=finding,
        outcome=Verification.Outcome.EXCLUDED,
        reason=reason,
        note=note,
        evidence=stored,
        evidence_name=name,
        verified_by=actor,
    )
    finding.status = Finding.Status.EXCLUDED
    finding.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="transition",
        obj=finding,
        chain=finding.county.prefix,
        summary=f"排除比对发现（{finding.get_category_display()}）：{verification.get_reason_display()}",
        before={"status": "open"},
        after={"status": "excluded", "reason": reason, "note": note},
    )
    return verification


@transaction.atomic
def finding_confirm(*, actor, finding: Finding, note: str) -> Verification:
    """Confirm a finding; the ledger (台账) takes it from here through `handoff_to_ledger`."""
    if finding.status != Finding.Status.OPEN:
        raise ValidationError("只有待核查的发现可以确认")
    if not note.strip():
        raise ValidationError({"note": "请写明核查情况"})
    verification = Verification.objects.create(finding=finding, outcome=Verification.Outcome.CONFIRMED, note=note, verified_by=actor)
    finding.status = Finding.Status.CONFIRMED
    finding.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="transition",
        obj=finding,
        chain=finding.county.prefix,
        summary=f"确认比对发现（{finding.get_category_display()}），待建台账",
        before={"status": "open"},
        after={"status": "confirmed", "note": note},
    )
    handoff_to_ledger(actor=actor, finding=finding)
    return verification


def handoff_to_ledger(*, actor, finding: Finding) -> None:
    """Opens the ledger case for a confirmed finding once the ledger (cases app) is installed; until
    then the finding waits as 已确认，待建台账."""
    from django.apps import apps

    if apps.is_installed("kongchuo.cases"):
        from kongchuo.cases.services import case_open_from_finding  # type: ignore[import-not-found]

        case_open_from_finding(actor=actor, finding=finding)


def _store_evidence(upload) -> tuple[str, str]:
    return save_upload(upload, "evidence", ".bin"), upload.name[:255]


@transaction.atomic
def candidate_decide(*, actor, candidate: LinkCandidate, same_person: bool) -> LinkCandidate:
    candidate.status = LinkCandidate.Status.ACCEPTED if same_person else LinkCandidate.Status.REJECTED
    candidate.decided_by, candidate.decided_at = actor, timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="update",
        obj=candidate,
        chain=candidate.county.prefix,
        summary=f"人工确认匹配：{'是' if same_person else '不是'}同一人（权重{candidate.weight:.1f}）",
        after={"status": candidate.status},
    )
    return candidate


EXPORT_COLUMNS = ["category", "id_number", "name", "birth_date", "school_code", "national_student_number", "detail", "confidence"]


def findings_export_csv(*, actor, findings, path) -> int:
    """CONTRACT.md's findings export: unmasked IDs, for the bureau's own verification work, logged as such."""
    rows = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(EXPORT_COLUMNS)
        for f in findings.select_related("child", "school", "enrolment", "attendance").iterator(chunk_size=2000):
            child = f.child
            nsn = (f.enrolment.national_student_number if f.enrolment else "") or (
                f.attendance.national_student_number if f.attendance else ""
            )
            name = child.name if child else (f.attendance.name if f.attendance else "")
            writer.writerow(
                [
                    f.category,
                    (child.id_number or "") if child else (f.attendance.id_number if f.attendance else ""),
                    name,
                    child.birth_date.isoformat() if child else "",
                    f.school.code if f.school else "",
                    nsn,
                    f.detail,
                    f"{f.confidence:.3f}",
                ]
            )
            rows += 1
    audit_record(
        actor=actor,
        action="export",
        chain=_chain(findings),
        summary=f"导出比对发现 {rows} 条（含完整证件号，供核查）",
        after={"rows": rows, "file": str(path)},
    )
    return rows


def _chain(findings) -> str:
    first = findings.select_related("county").first()
    return first.county.prefix if first else "-"
