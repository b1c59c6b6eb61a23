"""一人一案 support measures (issue 5 item 7): what is done for a confirmed or at-risk child, by whom, from
when to when (两免一补, 营养改善计划, 生活补助, 结对帮扶, 心理辅导 …; seeds 000, 003, 004)."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kongchuo.audit.services import audit_record
from kongchuo.cases.models import OPEN_STATES, Case, SupportMeasure
from kongchuo.cases.services import CASE_WORKERS, _need_role


def measures_for_child(child):
    return child.support_measures.select_related("recorded_by", "ended_by", "case")


@transaction.atomic
def support_add(
    *,
    actor,
    child,
    kind: str,
    responsible: str,
    start_date: dt.date,
    end_date: dt.date | None = None,
    notes: str = "",
) -> SupportMeasure:
    """Record a measure; it is linked to the child's open case when there is one."""
    _need_role(actor, CASE_WORKERS, "登记帮扶措施")
    case = Case.objects.filter(child=child, state__in=OPEN_STATES).first()
    measure = SupportMeasure(
        child=child,
        case=case,
        kind=kind,
        responsible=responsible.strip(),
        start_date=start_date,
        end_date=end_date,
        notes=notes.strip(),
        recorded_by=actor,
    )
    if end_date and end_date < start_date:
        raise ValidationError({"end_date": "结束日期不能早于开始日期"})
    measure.full_clean()
    measure.save()
    audit_record(
        actor=actor,
        action="create",
        obj=measure,
        chain=child.county.prefix,
        summary=f"帮扶措施：{child.name} {measure.get_kind_display()}（{measure.responsible}，{start_date:%Y-%m-%d} 起）",
        after={
            "kind": kind,
            "responsible": measure.responsible,
            "start_date": start_date.isoformat(),
            "end_date": end_date.isoformat() if end_date else None,
            "case": case.number if case else None,
        },
    )
    return measure


@transaction.atomic
def support_end(*, actor, measure: SupportMeasure, end_date: dt.date, note: str = "") -> SupportMeasure:
    """End a running measure (the row stays: the plan's history is the record of what was done)."""
    _need_role(actor, CASE_WORKERS, "结束帮扶措施")
    measure = SupportMeasure.objects.select_for_update().select_related("child__county").get(pk=measure.pk)
    if measure.end_date and measure.end_date <= timezone.localdate():
        raise ValidationError(f"该措施已于{measure.end_date:%Y-%m-%d}结束")
    if end_date < measure.start_date:
        raise ValidationError({"end_date": "结束日期不能早于开始日期"})
    before = {"end_date": measure.end_date.isoformat() if measure.end_date else None, "notes": measure.notes}
    measure.end_date, measure.ended_by = end_date, actor
    if note.strip():
        measure.notes = f"{measure.notes}；结束：{note.strip()}" if measure.notes else f"结束：{note.strip()}"
        measure.notes = measure.notes[:300]
    measure.save(update_fields=["end_date", "ended_by", "notes"])
    audit_record(
        actor=actor,
        action="update",
        obj=measure,
        chain=measure.child.county.prefix,
        summary=f"结束帮扶措施：{measure.child.name} {measure.get_kind_display()}（{end_date:%Y-%m-%d}）",
        before=before,
        after={"end_date": end_date.isoformat(), "notes": measure.notes},
    )
    return measure
