"""Issue 5's walk in a real browser: finding → case → persuasion record → notice generated and
downloaded → returned → closed by a second person."""

import datetime as dt
import io
import os
from pathlib import Path

import pytest
from django.utils import timezone

from kongchuo.cases.models import Case
from kongchuo.enrolments.services import enrolment_create
from kongchuo.matching.services import match_run
from tests.world import PASSWORD, build_world

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed (./run.sh test installs it)"),
]


@pytest.fixture
def world_live(transactional_db, live_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    world = build_world()
    match_run(actor=None, county=world.county, as_of=dt.date(2026, 11, 23))
    return world


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"])
        yield b
        b.close()


def login(browser, base, username):
    page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", accept_downloads=True).new_page()
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def test_finding_to_closed_case(world_live, live_server, browser, tmp_path):
    base = live_server.url
    child = world_live.children["out"]
    ARTIFACTS.mkdir(exist_ok=True)
    page = login(browser, base, "township_b")
    page.goto(f"{base}/matching/findings/")
    page.click("table.grid >> text=疑似失学")
    page.select_option("select[name=outcome]", "confirmed")
    page.fill("textarea[name=note]", "入户核实：孩子在家帮忙干农活，确未入学")
    page.click("button:has-text('保存核查结果')")
    page.wait_for_selector("h1 >> text=已确认")

    case = Case.objects.get(child=child)
    page.goto(f"{base}/cases/")
    page.click(f"text={case.number}")
    page.wait_for_selector("text=首次劝返（即辍即劝）")
    page.click("text=登记劝返记录")
    page.fill("input[name=participants]", "李老师（坪坝镇中心小学）、王干部（坪坝镇）、张主任（坪坝村）")
    page.select_option("select[name=method]", "joint_visit")
    for unit in ("school", "township", "village"):
        page.check(f"input[name=units][value={unit}]")
    page.fill("input[name=place]", "坪坝村一组陈家")
    page.fill("textarea[name=content]", "宣讲《义务教育法》，监护人有送子女入学的义务；了解到家庭缺劳力")
    page.fill("input[name=result]", "监护人答应考虑，但仍未同意")
    page.fill("input[name=next_step]", "送达入学通知书，一周后回访")
    photo = tmp_path / "现场.png"
    photo.write_bytes(PNG)
    page.set_input_files("input[name=attachments]", str(photo))
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    assert "劝返中" in page.locator("h1").inner_text(), page.locator("main").inner_text()[:1500]
    assert "联合" in page.locator("section:has(h2:has-text('劝返记录'))").inner_text()

    page.select_option("select[name=kind]", "deadline_notice")
    page.click("button:has-text('生成文书')")
    page.wait_for_selector("text=已生成《限期复学通知书》")
    with page.expect_download() as download:
        page.click("section:has(h2:has-text('文书')) >> text=Word")
    from docx import Document

    text = "\n".join(p.text for p in Document(io.BytesIO(Path(download.value.path()).read_bytes())).paragraphs)
    assert "限期复学通知书" in text and child.name in text
    page.screenshot(path=str(ARTIFACTS / "case_detail.png"), full_page=True)

    enrolment_create(actor=world_live.users["county_staff"], child=child, school=world_live.school_b, grade=3,
                     entry_date=timezone.localdate())  # the school takes her back
    page.fill("form[action$='/move/return/'] input[name=reason]", "已回校就读，班主任确认到校")
    page.click("button:has-text('登记已复学')")
    page.wait_for_selector("h1 >> text=已复学")
    Case.objects.filter(pk=case.pk).update(state_since=timezone.now() - dt.timedelta(days=21))  # three weeks later

    reviewer = login(browser, base, "county_staff")
    reviewer.goto(f"{base}/cases/{case.pk}/")
    reviewer.fill("form[action$='/move/close/'] input[name=reason]", "复学三周无缺勤，审核销号")
    reviewer.click("button:has-text('审核销号')")
    reviewer.wait_for_selector("h1 >> text=已销号")
    assert Case.objects.get(pk=case.pk).reviewed_by == world_live.users["county_staff"]
