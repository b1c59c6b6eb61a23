"""A township user in a real headless Chromium: search a child, open the record, and fail to reach
another township's child."""

import os
import re
from pathlib import Path

import pytest

from tests.world import PASSWORD, build_world

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed (./run.sh test installs it)"),
]


@pytest.fixture
def world_live(transactional_db, live_server, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are plain sync code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    return build_world()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        yield context.new_page()
        browser.close()


def test_township_user_finds_own_child_and_cannot_reach_another_township(world_live, live_server, page):
    own, other = world_live.children["a"], world_live.children["b"]
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "township_a")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator(".role").inner_text() == "乡镇（街道）工作人员"

    page.click("nav.menu >> text=学生档案")
    page.fill("input[name=q]", "zxm")  # pinyin initials of 张小明, typed: HTMX refreshes the table
    page.wait_for_function("() => !document.querySelector('#child-table').innerText.includes('王晓东')")
    table = page.locator("#child-table").inner_text()
    assert "王晓东" not in table
    assert own.id_number not in table and re.search(r"500229\*{8}\d{3}[\dX]", table)
    page.screenshot(path=str(ARTIFACTS / "child_list_township.png"), full_page=True)

    page.click("#child-table >> text=张小明")
    page.wait_for_url(re.compile(rf".*/children/{own.pk}/$"))
    assert page.locator("h1").inner_text().startswith("张小明")
    assert page.locator("#id-number").inner_text() == own.id_number  # township staff may see the full number
    assert "巴山镇中心小学" in page.content()
    page.screenshot(path=str(ARTIFACTS / "child_detail_township.png"), full_page=True)

    page.goto(f"{live_server.url}/children/?q={other.name}")
    assert other.name not in page.locator("#child-table").inner_text()
    response = page.goto(f"{live_server.url}/children/{other.pk}/")
    assert response.status == 404
    assert "不在您的管辖范围内" in page.content()
    assert other.id_number not in page.content()
