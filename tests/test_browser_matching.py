"""Issue 4's acceptance in a real browser: a bureau user imports the demo county's lists, runs a
match, sees the findings by category and township, excludes one, fixes another at the source, and
the next run shows it resolved."""

import datetime as dt
import os
import re
from pathlib import Path

import pytest

from kongchuo.demo.generator import generate
from kongchuo.demo.lists import write_lists
from kongchuo.demo.loader import DEMO_PASSWORD, load_places
from kongchuo.matching.models import Finding
from tests.imports_messy_files import write_xlsx

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed (./run.sh test installs it)"),
]


@pytest.fixture
def demo_files(transactional_db, live_server, monkeypatch, tmp_path):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ds = generate(seed=5, scale=0.02, as_of=dt.date(2026, 11, 23))
    load_places(ds)
    return ds, write_lists(ds, tmp_path / "lists")


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
        )
        yield browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN").new_page()
        browser.close()


def upload(page, base, source_label, path):
    page.goto(f"{base}/imports/")
    page.select_option("select[name=source]", label=source_label)
    page.set_input_files("input[name=file]", str(path))
    page.click("text=上传并预检")
    page.wait_for_selector("text=确认导入")
    page.click("button:has-text('确认导入')")
    page.wait_for_selector("#import-status >> text=已导入")


def run_match(page, base):
    page.goto(f"{base}/matching/")
    page.click("button:has-text('开始比对')")
    page.wait_for_selector("text=已完成")


def test_import_match_verify_and_resolve(demo_files, live_server, page, tmp_path):
    ds, paths = demo_files
    base = live_server.url
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    for label, source in (
        ("学校名单", "schools"),
        ("公安户籍适龄儿童名单", "household"),
        ("学籍系统导出", "registry"),
        ("考勤记录", "attendance"),
    ):
        upload(page, base, label, paths[source])
    run_match(page, base)
    table = page.locator("table.grid").first
    assert "疑似失学" in table.inner_text() and "合计" in table.inner_text()
    page.screenshot(path=str(ARTIFACTS / "matching_home.png"), full_page=True)

    out = list(Finding.objects.filter(category="out_of_school", status="open").select_related("child").order_by("id"))
    assert len(out) >= 2, "the demo county always has children out of school"
    excluded, fixed = out[0], out[1]
    page.click("table.grid >> text=疑似失学")
    page.click(f"a[href='/matching/findings/{excluded.pk}/']")
    assert excluded.child.name in page.locator("h1").inner_text()
    page.select_option("select[name=outcome]", "excluded")
    page.select_option("select[name=reason]", "moved_out")
    page.fill("textarea[name=note]", "经派出所核实，户籍已于2026年10月迁往万州区")
    page.click("button:has-text('保存核查结果')")
    page.wait_for_selector("h1 >> text=已排除")
    page.screenshot(path=str(ARTIFACTS / "finding_excluded.png"), full_page=True)

    # The school enrols the other child and the registry export says so: import it, match again.
    child = fixed.child
    school = ds.schools[0]
    registry = write_xlsx(
        tmp_path / "补录学籍.xlsx",
        {
            "学籍": [
                ["姓名", "性别", "出生日期", "身份证件号", "全国学籍号", "学校标识码", "学校名称", "年级", "班级", "学生状态"],
                [
                    child.name,
                    child.get_gender_display(),
                    child.birth_date.isoformat(),
                    child.id_number or "",
                    "",
                    school.code,
                    school.name,
                    "一年级",
                    "1班",
                    "在读",
                ],
            ]
        },
    )
    upload(page, base, "学籍系统导出", registry)
    run_match(page, base)
    status = page.locator("#run-status").inner_text()
    assert re.search(r"消除 [1-9]", status), status
    page.click("#run-status >> a")
    resolved = page.locator("h2:has-text('本次消除') + ul").inner_text()
    assert child.name in resolved
    assert excluded.child.name not in page.locator("h2:has-text('本次新增') + ul").inner_text()
    fixed.refresh_from_db()
    excluded.refresh_from_db()
    assert (fixed.status, excluded.status) == ("resolved", "excluded")
