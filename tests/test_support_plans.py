"""一人一案 support measures: added and ended on the case page (and for at-risk children without a case),
each with who and when, every change audited."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from kongchuo.audit.models import AuditEntry
from kongchuo.cases import services as C
from kongchuo.cases.models import Case, SupportMeasure
from kongchuo.cases.support import support_add, support_end


def form(**values) -> dict:
    """The support form's fields carry a prefix (it shares the case page with the document form)."""
    return {f"support-{k}": v for k, v in values.items()}


@pytest.fixture
def case(world):
    return C.case_open(
        actor=world.users["township_b"],
        child=world.children["out"],
        kind=Case.Kind.OUT_OF_SCHOOL,
        reason="入户核实确未入学",
        confirmed=True,
    )


def test_measures_are_linked_to_the_open_case_and_audited(world, case):
    today = timezone.localdate()
    measure = support_add(
        actor=world.users["township_b"],
        child=case.child,
        kind="fee_waiver_subsidy",
        responsible="坪坝镇中心小学 李校长 13800000001",
        start_date=today,
        notes="免教科书费、作业本费，寄宿生生活补助",
    )
    assert measure.case == case and measure.get_kind_display() == "两免一补" and measure.is_active(today)
    entry = AuditEntry.objects.get(object_type="cases.supportmeasure", action="create")
    assert entry.after["kind"] == "fee_waiver_subsidy" and entry.after["case"] == case.number and "两免一补" in entry.summary
    ended = support_end(actor=world.users["county_staff"], measure=measure, end_date=today, note="已转入县城学校")
    assert ended.end_date == today and ended.ended_by == world.users["county_staff"] and "已转入县城学校" in ended.notes
    entry = AuditEntry.objects.get(object_type="cases.supportmeasure", action="update")
    assert entry.before["end_date"] is None and entry.after["end_date"] == today.isoformat()
    with pytest.raises(ValidationError, match="已于"):
        support_end(actor=world.users["county_staff"], measure=ended, end_date=today)


def test_dates_and_roles(world, case):
    today = timezone.localdate()
    with pytest.raises(ValidationError, match="结束日期"):
        support_add(
            actor=world.users["township_b"],
            child=case.child,
            kind="nutrition_programme",
            responsible="学校食堂",
            start_date=today,
            end_date=today - dt.timedelta(days=1),
        )
    with pytest.raises(PermissionDenied):
        support_add(actor=world.users["supervisor"], child=case.child, kind="counselling", responsible="心理老师", start_date=today)
    with pytest.raises(ValidationError):
        support_add(actor=world.users["township_b"], child=case.child, kind="bribe", responsible="x", start_date=today)
    measure = support_add(actor=world.users["township_b"], child=case.child, kind="counselling", responsible="心理老师", start_date=today)
    with pytest.raises(ValidationError, match="早于开始"):
        support_end(actor=world.users["township_b"], measure=measure, end_date=today - dt.timedelta(days=3))
    with pytest.raises(IntegrityError), transaction.atomic():  # the database holds the date order too
        SupportMeasure.objects.filter(pk=measure.pk).update(end_date=today - dt.timedelta(days=3))


def test_at_risk_child_without_a_case(world, client):
    """An at-risk child (no case) gets measures on its own 一人一案 page."""
    today = timezone.localdate()
    child = world.children["a"]
    client.force_login(world.users["teacher_a"])  # 班主任 pairs the child with a teacher (结对帮扶)
    response = client.post(
        reverse("support_measures", args=[child.pk]),
        form(kind="paired_teacher", responsible="王老师（数学）", start_date=today.isoformat(), notes="每周两次课后辅导"),
    )
    assert response.status_code == 302
    measure = SupportMeasure.objects.get(child=child)
    assert measure.case is None and measure.recorded_by == world.users["teacher_a"]
    page = client.get(reverse("support_measures", args=[child.pk])).content.decode()
    assert "结对帮扶" in page and "王老师（数学）" in page and "每周两次课后辅导" in page
    response = client.post(reverse("support_measures", args=[child.pk]), form(kind="paired_teacher", responsible="", start_date=""))
    assert response.status_code == 200 and SupportMeasure.objects.count() == 1


def test_case_page_lists_adds_and_ends_measures(world, case, client):
    today = timezone.localdate()
    client.force_login(world.users["township_b"])
    page = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert "一人一案帮扶措施" in page and "尚未登记帮扶措施" in page
    detail = reverse("case_detail", args=[case.pk])
    for kind, who in (("living_subsidy", "坪坝镇民政办 张主任"), ("nutrition_programme", "坪坝镇中心小学")):
        response = client.post(
            reverse("support_measures", args=[case.child.pk]),
            form(kind=kind, responsible=who, start_date=today.isoformat()) | {"next": detail},
        )
        assert response.status_code == 302 and response["Location"] == detail
    page = client.get(detail).content.decode()
    assert "生活补助" in page and "营养改善计划" in page and "坪坝镇民政办 张主任" in page
    measure = SupportMeasure.objects.get(kind="living_subsidy")
    response = client.post(
        reverse("support_measure_end", args=[case.child.pk, measure.pk]),
        {"end_date": today.isoformat(), "note": "家庭收入好转", "next": detail},
    )
    measure.refresh_from_db()
    assert response.status_code == 302 and measure.end_date == today and "家庭收入好转" in measure.notes
    # An off-site `next` is ignored.
    response = client.post(
        reverse("support_measures", args=[case.child.pk]),
        form(kind="other", responsible="x", start_date=today.isoformat()) | {"next": "https://evil.example/"},
    )
    assert response.status_code == 302 and "evil" not in response["Location"]
    # Another county cannot end this child's measure.
    client.force_login(world.users["county2_admin"])
    other = SupportMeasure.objects.get(kind="nutrition_programme")
    assert client.post(reverse("support_measure_end", args=[case.child.pk, other.pk]), {"end_date": today.isoformat()}).status_code == 404
    other.refresh_from_db()
    assert other.end_date is None
