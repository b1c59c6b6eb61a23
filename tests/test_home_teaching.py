"""送教上门: plans, session records with photos, holiday contacts, and the weekly compliance rule
(≥ 1 session per teaching week, ≥ 2 class hours each; a contact in holiday weeks), per county."""

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from kongchuo.audit.models import AuditEntry
from kongchuo.cases import services as C
from kongchuo.cases.deadlines import due_items
from kongchuo.cases.home_teaching import WeekStatus, contact_add, plan_create, plan_update, plan_weeks, rules_by_county, session_add
from kongchuo.cases.models import Case, CaseRules, HomeTeachingPlan, is_holiday
from kongchuo.cases.selectors import home_teaching_plans_for
from kongchuo.people.services import child_update
from tests.world import PASSWORD, build_world

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64
CERT = "50022920170305001211"  # a 残疾证号: the ID number plus category and grade
MON = dt.date(2026, 6, 1)  # a Monday; 寒暑假 by default: 01-20..02-20 and 07-10..08-31


@pytest.fixture
def child(world):
    return child_update(actor=None, child=world.children["b"], disability_category="physical", disability_grade=1)


def make_plan(world, child, *, start=MON, end=None, user="township_b", **extra):
    values = {
        "teachers": "刘老师 13900000001、陈老师",
        "content": "语文、数学识字；肢体康复训练",
        "weekdays": [3],
        "class_hours": Decimal("2"),
        "certificate_no": CERT,
    } | extra
    return plan_create(actor=world.users[user], child=child, start_date=start, end_date=end, **values)


def teach(world, plan, day, hours="2", user="township_b", **extra):
    return session_add(
        actor=world.users[user], plan=plan, date=day, class_hours=Decimal(hours), teachers="刘老师", content="识字、康复训练", **extra
    )


def weeks_by_start(plan, today, **kwargs):
    rules = rules_by_county([plan.county_id])[plan.county_id]
    return {w.start: w for w in plan_weeks(plan, rules=rules, today=today, count=30, **kwargs)}


def test_the_weekly_rule_over_a_term_and_a_summer_break(world, child):
    plan = make_plan(world, child, end=dt.date(2026, 9, 6))
    teach(world, plan, MON + dt.timedelta(days=2))  # week of 1 Jun: one 2-hour session
    teach(world, plan, dt.date(2026, 6, 10), hours="1.5")  # week of 8 Jun: too short
    teach(world, plan, dt.date(2026, 6, 23), hours="1")  # week of 22 Jun: a short one and a full one
    teach(world, plan, dt.date(2026, 6, 24))
    contact_add(actor=world.users["township_b"], plan=plan, date=dt.date(2026, 7, 15), method="phone", notes="家长反映孩子在家练习写字")
    teach(world, plan, dt.date(2026, 7, 29))  # a holiday session counts as contact
    weeks = weeks_by_start(plan, today=dt.date(2026, 9, 10))
    status = {d: weeks[d].status for d in weeks}
    assert status[dt.date(2026, 6, 1)] == WeekStatus.OK
    assert status[dt.date(2026, 6, 8)] == WeekStatus.TOO_SHORT
    assert status[dt.date(2026, 6, 15)] == WeekStatus.MISSING
    assert status[dt.date(2026, 6, 22)] == WeekStatus.OK and weeks[dt.date(2026, 6, 22)].hours == Decimal("3")
    # 10 Jul is a Friday: that week still has four teaching days; the next seven weeks are the summer break.
    assert not weeks[dt.date(2026, 7, 6)].holiday and status[dt.date(2026, 7, 6)] == WeekStatus.MISSING
    holiday_weeks = [d for d, w in weeks.items() if w.holiday]
    assert holiday_weeks == [dt.date(2026, 8, 24) - dt.timedelta(days=7 * n) for n in range(7)]
    assert status[dt.date(2026, 7, 13)] == WeekStatus.OK and weeks[dt.date(2026, 7, 13)].contacts == 1
    assert status[dt.date(2026, 7, 20)] == WeekStatus.HOLIDAY_CONTACT_MISSING
    assert status[dt.date(2026, 7, 27)] == WeekStatus.OK
    assert not weeks[dt.date(2026, 8, 31)].holiday  # 31 Aug is a Monday: the rest of the week is term
    assert len(weeks) == 14 and min(weeks) == MON  # nothing before the plan, nothing after its end


def test_the_current_week_is_in_progress_until_met_and_partial_weeks_are_not_judged(world, child):
    plan = make_plan(world, child, start=dt.date(2026, 6, 4))  # a Thursday: that week is not judged
    weeks = weeks_by_start(plan, today=dt.date(2026, 6, 10))
    assert list(weeks) == [dt.date(2026, 6, 8)] and weeks[dt.date(2026, 6, 8)].status == WeekStatus.IN_PROGRESS
    teach(world, plan, dt.date(2026, 6, 9))
    assert weeks_by_start(plan, today=dt.date(2026, 6, 10))[dt.date(2026, 6, 8)].status == WeekStatus.OK
    assert weeks_by_start(plan, today=dt.date(2026, 6, 15))[dt.date(2026, 6, 8)].status == WeekStatus.OK


def test_the_numbers_and_the_holidays_are_county_rules(world, child):
    plan = make_plan(world, child, end=dt.date(2026, 6, 28))
    teach(world, plan, dt.date(2026, 6, 3), hours="1.5")
    teach(world, plan, dt.date(2026, 6, 10))
    rules = CaseRules.objects.create(county=world.county, home_teaching_min_hours=Decimal("1.5"), home_teaching_sessions_per_week=1)
    assert weeks_by_start(plan, today=dt.date(2026, 7, 1))[MON].status == WeekStatus.OK
    rules.home_teaching_sessions_per_week, rules.holidays = 2, [["2026-06-22", "2026-06-26"]]
    rules.save()
    weeks = weeks_by_start(plan, today=dt.date(2026, 7, 1))
    assert weeks[dt.date(2026, 6, 8)].status == WeekStatus.TOO_SHORT  # one session where the county wants two
    assert weeks[dt.date(2026, 6, 22)].holiday and weeks[dt.date(2026, 6, 22)].status == WeekStatus.HOLIDAY_CONTACT_MISSING
    assert not weeks[dt.date(2026, 6, 15)].holiday  # a dated range applies to that year only


def test_holiday_ranges_every_year_across_new_year_and_validated():
    assert is_holiday(dt.date(2031, 2, 1), CaseRules().holidays) and not is_holiday(dt.date(2031, 3, 1), CaseRules().holidays)
    assert is_holiday(dt.date(2026, 12, 31), [["12-25", "01-05"]]) and is_holiday(dt.date(2027, 1, 3), [["12-25", "01-05"]])
    assert not is_holiday(dt.date(2027, 1, 6), [["12-25", "01-05"]])
    with pytest.raises(ValidationError):
        CaseRules(holidays=[["02-30", "03-01"]]).clean()
    with pytest.raises(ValidationError):
        CaseRules(holidays=["01-20"]).clean()


def test_a_plan_needs_a_disabled_child_the_rule_hours_no_overlap_and_a_certificate(world, child):
    with pytest.raises(ValidationError, match="残疾类别"):
        make_plan(world, world.children["a"], user="county_staff")
    with pytest.raises(ValidationError, match="不少于2"):
        make_plan(world, child, class_hours=Decimal("1.5"))
    with pytest.raises(ValidationError, match="残疾证号"):
        make_plan(world, child, certificate_no="")
    with pytest.raises(ValidationError, match="送教日"):
        make_plan(world, child, weekdays=[])
    with pytest.raises(PermissionDenied):
        make_plan(world, child, user="supervisor")
    plan = make_plan(world, child, end=dt.date(2026, 7, 9), certificate=SimpleUploadedFile("残疾证.jpg", b"\xff\xd8\xff\xe0" + b"0" * 32))
    assert plan.school == world.school_b and plan.township == world.township_b and plan.case is None
    assert plan.certificate_scans.get().content_type == "image/jpeg"
    with pytest.raises(ValidationError, match="时间重叠"):
        make_plan(world, child, start=dt.date(2026, 7, 1))
    entry = AuditEntry.objects.get(object_type="cases.hometeachingplan", action="create")
    assert CERT not in str(entry.after) and entry.after["certificate_no"] == "500229**********1211"
    child = child_update(actor=None, child=child, disability_certificate_no=CERT)
    later = make_plan(world, child, start=dt.date(2026, 9, 1), certificate_no="")
    assert later.certificate_no == CERT  # taken from the child's record


def test_a_plan_follows_the_open_case_and_its_changes_are_audited(world, child):
    case = C.case_open(actor=world.users["township_b"], child=child, kind="dropout", reason="长期卧床未到校", confirmed=True)
    plan = make_plan(world, child)
    assert plan.case == case
    plan = plan_update(
        actor=world.users["township_b"],
        plan=plan,
        weekdays=[2, 4],
        schedule_note="下午 14:30–16:30",
        teacher_users=[world.users["teacher_a"]],
    )
    entry = AuditEntry.objects.filter(object_type="cases.hometeachingplan", action="update").get()
    assert (
        entry.before["weekdays"] == [3]
        and entry.after["weekdays"] == [2, 4]
        and entry.after["teacher_users"] == [world.users["teacher_a"].pk]
    )
    assert plan.weekday_labels == "周二、周四"
    # A teacher named on the plan sees it, even for a child outside the class they are bound to.
    assert plan in home_teaching_plans_for(world.users["teacher_a"])
    assert plan not in home_teaching_plans_for(world.users["township_a"])


def test_sessions_are_dated_within_the_plan_and_not_in_the_future_with_photos(world, child):
    today = timezone.localdate()
    plan = make_plan(world, child, start=today - dt.timedelta(days=60))
    with pytest.raises(ValidationError, match="晚于今天"):
        teach(world, plan, today + dt.timedelta(days=1))
    with pytest.raises(ValidationError, match="起止日期"):
        teach(world, plan, today - dt.timedelta(days=61))
    with pytest.raises(ValidationError, match="不是照片"):
        teach(world, plan, today, files=[SimpleUploadedFile("a.exe", b"MZ\x90\x00")])
    session = teach(world, plan, today, hours="2.5", mode="online", files=[SimpleUploadedFile("上课.png", PNG)])
    assert session.photos.get().file_name == "上课.png" and session.get_mode_display() == "网络送教"
    assert AuditEntry.objects.filter(object_type="cases.hometeachingsession", action="create").count() == 1
    with pytest.raises(PermissionDenied):
        contact_add(actor=world.users["supervisor"], plan=plan, date=today, method="phone", notes="x")


def test_home_teaching_cases_get_due_items(world, child, settings):
    today = timezone.localdate()
    CaseRules.objects.create(county=world.county, holidays=[])  # keep the test independent of the calendar
    case = C.case_open(actor=world.users["township_b"], child=child, kind="dropout", reason="重度残疾未入校", confirmed=True)
    case = C.case_home_teaching(actor=world.users["township_b"], case=case, reason="重度肢体残疾，送教上门")
    assert {d.kind: d.due for d in due_items(Case.objects.all(), today)}["home_teaching_plan"] == today + dt.timedelta(days=7)
    monday = today - dt.timedelta(days=today.weekday())
    plan = make_plan(world, child, start=monday - dt.timedelta(days=14))
    kinds = {d.kind: d for d in due_items(Case.objects.all(), today)}
    assert "home_teaching_plan" not in kinds
    assert kinds["home_teaching_week"].due == monday + dt.timedelta(days=4)
    assert kinds["home_teaching_missed"].overdue and kinds["home_teaching_missed"].due == monday - dt.timedelta(days=1)
    assert "未送教上门" in kinds["home_teaching_missed"].what
    teach(world, plan, monday - dt.timedelta(days=5))
    teach(world, plan, today)
    kinds = {d.kind for d in due_items(Case.objects.all(), today)}
    assert not kinds & {"home_teaching_week", "home_teaching_missed", "home_teaching_plan"}


def test_case_page_shows_recent_weeks_and_the_board_counts_failing_children(world, child, client):
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())
    CaseRules.objects.create(county=world.county, holidays=[])
    case = C.case_open(actor=world.users["township_b"], child=child, kind="dropout", reason="重度残疾", confirmed=True)
    C.case_home_teaching(actor=world.users["township_b"], case=case, reason="送教上门")
    plan = make_plan(world, child, start=monday - dt.timedelta(days=42))
    for n in range(1, 7):
        teach(world, plan, monday - dt.timedelta(days=7 * n - 1))  # every Tuesday so far
    client.force_login(world.users["county_staff"])
    page = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert "送教上门" in page and page.count("达标") >= 6 and "刘老师" in page
    assert client.get(reverse("case_todo")).context["home_teaching_failing"] == 0
    # A second child taught too little: it shows on the board and the filtered list.
    other = child_update(actor=None, child=world.children["x"], disability_category="intellectual", disability_grade=2)
    other_plan = make_plan(world, other, start=monday - dt.timedelta(days=42))
    teach(world, other_plan, monday - dt.timedelta(days=6), hours="1")
    todo = client.get(reverse("case_todo"))
    assert todo.context["home_teaching_failing"] == 1 and "送教上门近4周未达标" in todo.content.decode()
    listing = client.get(reverse("home_teaching_list"), {"failing": "1"}).content.decode()
    assert other.name in listing and child.name not in listing and "学时或次数不足" in listing and "未送教" in listing
    detail = client.get(reverse("home_teaching_detail", args=[other_plan.pk])).content.decode()
    assert "500229**********1211" in detail and CERT not in detail  # the certificate number embeds the ID number


def test_forms_create_a_plan_record_a_session_and_a_contact(world, child, client):
    today = timezone.localdate()
    client.force_login(world.users["township_b"])
    response = client.post(
        reverse("home_teaching_plan_new", args=[child.pk]),
        {
            "teachers": "刘老师",
            "content": "识字、康复",
            "weekdays": ["1", "3"],
            "class_hours": "2",
            "schedule_note": "下午",
            "start_date": (today - dt.timedelta(days=10)).isoformat(),
            "certificate_no": CERT,
            "certificate": SimpleUploadedFile("证.pdf", b"%PDF-1.4 test"),
        },
    )
    plan = HomeTeachingPlan.objects.get(child=child)
    assert response.status_code == 302 and plan.weekdays == [1, 3] and plan.certificate_scans.get().content_type == "application/pdf"
    form = client.get(reverse("home_teaching_plan_edit", args=[plan.pk])).content.decode()
    assert CERT not in form and "500229**********1211" in form  # never put back into a form
    response = client.post(
        reverse("home_teaching_session_new", args=[plan.pk]),
        {
            "date": today.isoformat(),
            "class_hours": "2",
            "mode": "home",
            "teachers": "刘老师",
            "content": "认识数字1–10",
            "photos": [SimpleUploadedFile("1.png", PNG), SimpleUploadedFile("2.png", PNG)],
        },
    )
    assert response.status_code == 302 and plan.sessions.get().photos.count() == 2
    response = client.post(
        reverse("home_teaching_session_new", args=[plan.pk]),
        {"date": (today + dt.timedelta(days=3)).isoformat(), "class_hours": "2", "mode": "home", "teachers": "刘老师", "content": "x"},
    )
    assert response.status_code == 200 and "不能晚于今天" in response.content.decode()
    response = client.post(
        reverse("home_teaching_contact_new", args=[plan.pk]), {"date": today.isoformat(), "method": "video", "notes": "视频通话"}
    )
    assert response.status_code == 302 and plan.contacts.get().get_method_display() == "视频"
    photo = plan.sessions.get().photos.first()
    assert client.get(reverse("home_teaching_file", args=[plan.pk, photo.pk])).status_code == 200
    assert AuditEntry.objects.filter(action="export", object_id=str(photo.pk), summary__contains=plan.child.name).count() == 1
    response = client.post(
        reverse("home_teaching_plan_edit", args=[plan.pk]),
        {
            "teachers": "刘老师、王老师",
            "content": "识字、康复",
            "weekdays": ["3"],
            "class_hours": "2",
            "start_date": plan.start_date.isoformat(),
            "end_date": (today + dt.timedelta(days=100)).isoformat(),
            "certificate_no": "",
        },
    )
    plan.refresh_from_db()
    assert response.status_code == 302 and plan.teachers == "刘老师、王老师" and plan.certificate_no == CERT


CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed (./run.sh test installs it)")
def test_a_teacher_records_a_session_on_a_phone(transactional_db, live_server, monkeypatch, tmp_path):
    """The session form at 390×844: a teacher at the child's home, photo from the phone."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    world = build_world()
    child = child_update(actor=None, child=world.children["b"], disability_category="physical", disability_grade=1)
    plan = make_plan(world, child, start=timezone.localdate() - dt.timedelta(days=30), teacher_users=[world.users["teacher_a"]])
    photo = tmp_path / "送教现场.png"
    photo.write_bytes(PNG)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
        )
        page = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
        ).new_page()
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "teacher_a")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        page.goto(f"{live_server.url}{reverse('home_teaching_session_new', args=[plan.pk])}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        box = page.locator("textarea[name=content]").bounding_box()
        assert box["width"] > 300  # the fields take the phone's width
        page.fill("input[name=class_hours]", "2")
        page.fill("textarea[name=content]", "认识数字1–10，握笔练习；下肢康复操20分钟")
        page.set_input_files("input[name=photos]", str(photo))
        page.screenshot(path=str(ARTIFACTS / "home_teaching_session_phone.png"), full_page=True)
        page.click("form.form button[type=submit]")
        page.wait_for_selector("text=送教记录已保存")
        page.screenshot(path=str(ARTIFACTS / "home_teaching_detail_phone.png"), full_page=True)
        browser.close()
    session = plan.sessions.get()
    assert session.recorded_by == world.users["teacher_a"] and session.photos.count() == 1
