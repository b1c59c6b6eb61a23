"""The child list, record, edit, export and enrolment-change pages, used as each persona would."""

import datetime as dt
import io
import json
import re
import zipfile

import pytest
from django.urls import reverse

from kongchuo.audit.models import AuditEntry
from kongchuo.core.masking import mask_id_number
from kongchuo.enrolments.models import Status, StatusChange
from kongchuo.enrolments.services import enrolment_create
from kongchuo.people.identity import compose_id_number
from kongchuo.people.models import Child
from kongchuo.people.names import name_pinyin

LIST = reverse("child_list")
EXPORT = reverse("child_export")
TODAY = dt.date.today()


def _names(response) -> list[str]:
    return [c.name for c in response.context["page"].object_list]


def _bulk_children(world, n: int, *, start: int = 100, **extra) -> list[Child]:
    birth = dt.date(2015, 6, 1)
    rows = []
    for i in range(start, start + n):
        name = f"批量{i:03d}"
        full, initials = name_pinyin(name)
        rows.append(
            Child(
                name=name,
                name_pinyin=full,
                name_initials=initials,
                gender="M",
                birth_date=birth,
                id_number=compose_id_number("500229", birth, 2 * i + 1),
                county=world.county,
                township=world.township_a,
                household_division=world.village_a,
                **extra,
            )
        )
    return Child.objects.bulk_create(rows)


def _xlsx_rows(content: bytes) -> list[list]:
    calamine = pytest.importorskip("python_calamine")
    return (
        calamine.CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_name("儿童名单").to_python()
    )


# --- list: masking, search, filters, paging, HTMX ----------------------------------------------


def test_anonymous_users_are_sent_to_login(client, world):
    response = client.get(LIST)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_list_masks_id_numbers(world, login):
    response = login(world.users["county_staff"]).get(LIST)
    html = response.content.decode()
    assert response.status_code == 200
    listed = [world.children[k] for k in ("a", "b", "x", "out")]
    assert sorted(_names(response)) == sorted(c.name for c in listed)
    for child in listed:
        assert child.id_number not in html
        masked = f"{child.id_number[:6]}********{child.id_number[-4:]}"
        assert masked == mask_id_number(child.id_number)
        assert masked in html
    assert not re.search(r"\d{17}[\dX]", html)


def test_pending_id_is_flagged_not_shown(world, login):
    child = Child.objects.create(
        name="无证儿",
        gender="F",
        birth_date=dt.date(2016, 1, 1),
        county=world.county,
        township=world.township_a,
        id_number=None,
        id_number_status="pending",
        id_number_raw="50022920160101",
    )
    html = login(world.users["county_staff"]).get(LIST, {"q": "无证儿"}).content.decode()
    assert "证件号待核正" in html and child.id_number_raw not in html


@pytest.mark.parametrize(
    "q, expected",
    [
        ("小明", ["张小明"]),
        ("张", ["张小明"]),
        ("小", ["张小明", "李小红", "陈小芳"]),
        ("zxm", ["张小明"]),
        ("ZXM", ["张小明"]),
        ("zhang", ["张小明"]),
        ("wangxiao", ["王晓东"]),
        ("qq", []),
    ],
)
def test_search_by_name_and_pinyin(world, login, q, expected):
    response = login(world.users["county_staff"]).get(LIST, {"q": q})
    assert sorted(_names(response)) == sorted(expected)


def test_search_by_partial_id(world, login):
    a = world.children["a"]
    client = login(world.users["county_staff"])
    assert _names(client.get(LIST, {"q": a.id_number[-6:]})) == ["张小明"]
    assert _names(client.get(LIST, {"q": a.id_number})) == ["张小明"]
    assert sorted(_names(client.get(LIST, {"q": "20170305"}))) == sorted(
        ["张小明", "李小红", "王晓东", "陈小芳"]
    )


def test_search_stays_inside_the_users_scope(world, login):
    outside = world.children["c2"]
    assert _names(login(world.users["county_staff"]).get(LIST, {"q": outside.id_number[-6:]})) == []
    assert _names(login(world.users["teacher_a"]).get(LIST, {"q": "王"})) == []


def test_filter_by_township(world, login):
    client = login(world.users["county_staff"])
    # lives there, or studies there
    assert sorted(_names(client.get(LIST, {"township": world.township_a.pk}))) == sorted(["张小明", "王晓东"])
    assert sorted(_names(client.get(LIST, {"township": world.township_b.pk}))) == sorted(
        ["李小红", "王晓东", "陈小芳"]
    )


def test_filter_by_school_grade_and_group(world, login):
    enrolment_create(
        actor=None, child=world.children["out"], school=world.school_b, grade=1, entry_date=TODAY
    )
    client = login(world.users["county_staff"])
    assert sorted(_names(client.get(LIST, {"school": world.school_b.pk}))) == sorted(
        ["李小红", "王晓东", "陈小芳"]
    )
    assert _names(client.get(LIST, {"school": world.school_a.pk})) == ["张小明"]
    assert _names(client.get(LIST, {"grade": 1})) == ["陈小芳"]
    assert sorted(_names(client.get(LIST, {"grade": 3}))) == sorted(["张小明", "李小红", "王晓东"])
    assert _names(client.get(LIST, {"group": "disabled"})) == ["李小红"]
    assert _names(client.get(LIST, {"school": world.school_b.pk, "grade": 1, "q": "陈"})) == ["陈小芳"]


def test_filter_choices_offer_only_what_is_in_scope(world, login):
    client = login(world.users["county_staff"])
    assert _names(client.get(LIST, {"school": world.school_c2.pk})) == sorted(
        _names(client.get(LIST))
    )  # ignored
    form = client.get(LIST).context["form"]
    assert world.school_c2.pk not in [pk for pk, _ in form.fields["school"].choices]


def test_pagination(world, login):
    _bulk_children(world, 60)
    client = login(world.users["county_staff"])
    first = client.get(LIST)
    assert first.context["page"].paginator.count == 64
    assert len(first.context["page"].object_list) == 50
    assert "第 1 / 2 页" in first.content.decode()
    assert "page=2" in first.content.decode()
    second = client.get(LIST, {"page": 2})
    assert second.context["page"].number == 2
    assert len(second.context["page"].object_list) == 14
    assert set(_names(first)).isdisjoint(_names(second))
    filtered = client.get(LIST, {"q": "批量", "page": 2})
    assert len(filtered.context["page"].object_list) == 10
    assert "q=%E6%89%B9%E9%87%8F&amp;page=1" in filtered.content.decode()  # the pager keeps the filter


def test_htmx_request_gets_only_the_table(world, login):
    client = login(world.users["county_staff"])
    full = client.get(LIST)
    partial = client.get(LIST, {"q": "张"}, headers={"HX-Request": "true"})
    assert "people/child_list.html" in [t.name for t in full.templates]
    names = [t.name for t in partial.templates]
    assert "people/_child_table.html" in names
    assert "base.html" not in names and "people/child_list.html" not in names
    html = partial.content.decode()
    assert "<html" not in html and "<form" not in html
    assert html.lstrip().startswith("<table")
    assert "张小明" in html and "李小红" not in html


# --- the child record ---------------------------------------------------------------------------


def test_detail_shows_the_full_id_to_county_staff_and_logs_the_view(world, login):
    a = world.children["a"]
    response = login(world.users["county_staff"]).get(reverse("child_detail", args=[a.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="id-number">{a.id_number}<' in html
    entry = AuditEntry.objects.filter(action="view", object_id=str(a.pk)).latest("id")
    assert entry.actor_name == "county_staff"
    assert entry.chain == "500229"
    assert "含完整证件号" in entry.summary
    assert a.id_number not in entry.summary


@pytest.mark.parametrize("persona", ["teacher_a", "supervisor"])
def test_detail_shows_a_masked_id_to_roles_without_the_right(world, login, persona):
    a = world.children["a"]
    response = login(world.users[persona]).get(reverse("child_detail", args=[a.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert a.id_number not in html
    assert mask_id_number(a.id_number) in html
    entry = AuditEntry.objects.filter(action="view", object_id=str(a.pk)).latest("id")
    assert entry.actor_name == persona and "含完整证件号" not in entry.summary


def test_detail_outside_scope_is_404_and_not_logged(world, login):
    n = AuditEntry.objects.filter(action="view").count()
    response = login(world.users["teacher_a"]).get(reverse("child_detail", args=[world.children["b"].pk]))
    assert response.status_code == 404
    assert AuditEntry.objects.filter(action="view").count() == n


# --- export ------------------------------------------------------------------------------------


def test_export_contains_masked_ids_only_and_is_audited(world, login):
    response = login(world.users["county_staff"]).get(EXPORT)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = _xlsx_rows(response.content)
    assert rows[0][:4] == ["姓名", "性别", "出生日期", "身份证号（脱敏）"]
    by_name = {r[0]: r for r in rows[1:]}
    assert sorted(by_name) == sorted(["张小明", "李小红", "王晓东", "陈小芳"])
    for key in ("a", "b", "x", "out"):
        child = world.children[key]
        assert by_name[child.name][3] == mask_id_number(child.id_number)
    cells = json.dumps(rows, ensure_ascii=False, default=str)
    for full in Child.objects.exclude(id_number=None).values_list("id_number", flat=True):
        assert full not in cells
    entry = AuditEntry.objects.filter(action="export").latest("id")
    assert entry.actor_name == "county_staff" and entry.chain == "500229"
    assert entry.after["rows"] == 4


def test_export_follows_the_filters(world, login):
    rows = _xlsx_rows(
        login(world.users["county_staff"]).get(EXPORT, {"township": world.township_a.pk}).content
    )
    assert sorted(r[0] for r in rows[1:]) == sorted(["张小明", "王晓东"])


def test_export_by_a_school_account_is_logged_in_its_county_chain(world, login):
    rows = _xlsx_rows(login(world.users["school_a"]).get(EXPORT).content)
    assert [r[0] for r in rows[1:]] == ["张小明"]
    entry = AuditEntry.objects.filter(action="export").latest("id")
    assert entry.actor_name == "school_a"
    assert entry.chain == "500229"  # so the county's audit page shows it
    assert entry in AuditEntry.objects.filter(chain__startswith=world.county.prefix)


def test_export_searched_by_full_id_does_not_log_the_id(world, login):
    a = world.children["a"]
    login(world.users["county_staff"]).get(EXPORT, {"q": a.id_number})
    entry = AuditEntry.objects.filter(action="export").latest("id")
    assert entry.after["rows"] == 1
    assert a.id_number not in json.dumps([entry.summary, entry.before, entry.after], ensure_ascii=False)
    assert entry.after["filters"]["q"] == mask_id_number(a.id_number)


def test_export_writes_formula_like_names_as_text(world, login):
    evil = '=HYPERLINK("http://evil.example/x","点我")'
    Child.objects.bulk_create(
        [
            Child(
                name=evil,
                gender="M",
                birth_date=dt.date(2016, 1, 1),
                county=world.county,
                township=world.township_a,
                id_number=None,
                id_number_status="pending",
            ),
            Child(
                name="+SUM(1,2)",
                gender="F",
                birth_date=dt.date(2016, 1, 1),
                county=world.county,
                township=world.township_a,
                id_number=None,
                id_number_status="pending",
            ),
        ]
    )
    content = login(world.users["county_staff"]).get(EXPORT).content
    names = [r[0] for r in _xlsx_rows(content)[1:]]
    assert "'" + evil in names
    assert "'+SUM(1,2)" in names
    assert evil not in names
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/")]
        assert sheets
        for sheet in sheets:
            assert "<f>" not in book.read(sheet).decode() and "<f " not in book.read(sheet).decode()


# --- edit ----------------------------------------------------------------------------------------


def _edit_form(child: Child, **changes) -> dict:
    data = {
        "name": child.name,
        "gender": child.gender,
        "birth_date": child.birth_date.isoformat(),
        "id_number": child.id_number or "",
        "ethnicity": child.ethnicity,
        "health": child.health,
        "disability_category": child.disability_category,
        "disability_grade": child.disability_grade or "",
        "disability_certificate_no": child.disability_certificate_no,
        "household_division": child.household_division_id,
        "household_address": child.household_address,
        "current_division": child.current_division_id or "",
        "current_address": child.current_address,
    }
    data.update(changes)
    return data


def test_edit_by_county_staff_saves_and_audits(world, login):
    a = world.children["a"]
    client = login(world.users["county_staff"])
    assert client.get(reverse("child_edit", args=[a.pk])).status_code == 200
    response = client.post(
        reverse("child_edit", args=[a.pk]), _edit_form(a, household_address="三组", current_address="县城")
    )
    assert response.status_code == 302
    assert response.url == reverse("child_detail", args=[a.pk])
    a.refresh_from_db()
    assert (a.household_address, a.current_address) == ("三组", "县城")
    entry = AuditEntry.objects.filter(action="update", object_id=str(a.pk)).latest("id")
    assert entry.actor_name == "county_staff"
    assert entry.before == {"household_address": "一组", "current_address": ""}
    assert entry.after == {"household_address": "三组", "current_address": "县城"}


def test_edit_with_an_invalid_id_shows_the_error_and_changes_nothing(world, login):
    a = world.children["a"]
    n = AuditEntry.objects.filter(action="update").count()
    bad = a.id_number[:17] + ("3" if a.id_number[17] != "3" else "4")
    response = login(world.users["county_staff"]).post(
        reverse("child_edit", args=[a.pk]), _edit_form(a, id_number=bad, household_address="三组")
    )
    assert response.status_code == 200
    assert "校验位错误" in response.content.decode()
    a.refresh_from_db()
    assert a.household_address == "一组"
    assert AuditEntry.objects.filter(action="update").count() == n


def test_edit_accepts_a_sloppily_typed_id_and_stores_it_normalised(world, login):
    a = world.children["a"]
    new = compose_id_number("500229", a.birth_date, 41)
    typed = f"{new[:6]} {new[6:14]}-{new[14:]}"
    response = login(world.users["county_staff"]).post(
        reverse("child_edit", args=[a.pk]), _edit_form(a, id_number=typed)
    )
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.id_number == new
    entry = AuditEntry.objects.filter(action="update", object_id=str(a.pk)).latest("id")
    assert entry.after == {"id_number": mask_id_number(new)}


def test_edit_to_another_childs_id_explains_the_clash(world, login):
    a, x = world.children["a"], world.children["x"]
    response = login(world.users["county_staff"]).post(
        reverse("child_edit", args=[a.pk]), _edit_form(a, id_number=x.id_number)
    )
    assert response.status_code == 200
    assert "该身份证号已登记在系统中" in response.content.decode()
    assert Child.objects.get(pk=a.pk).id_number != x.id_number


def test_edit_unchanged_form_writes_no_audit(world, login):
    a = world.children["a"]
    n = AuditEntry.objects.filter(action="update").count()
    response = login(world.users["county_staff"]).post(reverse("child_edit", args=[a.pk]), _edit_form(a))
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="update").count() == n


def test_supervisor_cannot_edit(world, login):
    a = world.children["a"]
    client = login(world.users["supervisor"])
    assert client.get(reverse("child_edit", args=[a.pk])).status_code == 403
    response = client.post(reverse("child_edit", args=[a.pk]), _edit_form(a, household_address="三组"))
    assert response.status_code == 403
    a.refresh_from_db()
    assert a.household_address == "一组"
    assert not AuditEntry.objects.filter(action="update", object_id=str(a.pk)).exists()


# --- enrolment transition page ------------------------------------------------------------------


def _enrolment(world):
    return world.children["a"].enrolments.get()


def test_illegal_move_shows_the_chinese_error_and_changes_nothing(world, login):
    enrolment = _enrolment(world)
    history = StatusChange.objects.filter(enrolment=enrolment).count()
    response = login(world.users["county_staff"]).post(
        reverse("enrolment_transition", args=[enrolment.pk]),
        {"to_status": Status.DEFERRED, "effective_date": TODAY.isoformat(), "reason": "家长申请"},
    )
    assert response.status_code == 200
    assert "学籍状态不能从“在读”变更为“延缓入学”" in response.content.decode()
    enrolment.refresh_from_db()
    assert enrolment.status == Status.ENROLLED
    assert StatusChange.objects.filter(enrolment=enrolment).count() == history


def test_missing_reason_is_shown_on_the_page(world, login):
    enrolment = _enrolment(world)
    response = login(world.users["county_staff"]).post(
        reverse("enrolment_transition", args=[enrolment.pk]),
        {"to_status": Status.DROPPED_OUT, "effective_date": TODAY.isoformat(), "reason": ""},
    )
    assert response.status_code == 200
    assert "办理“辍学”须填写原因或依据" in response.content.decode()
    enrolment.refresh_from_db()
    assert enrolment.status == Status.ENROLLED


def test_legal_move_redirects_and_records_history(world, login):
    enrolment = _enrolment(world)
    client = login(world.users["county_staff"])
    response = client.post(
        reverse("enrolment_transition", args=[enrolment.pk]),
        {"to_status": Status.SUSPENDED, "effective_date": TODAY.isoformat(), "reason": "生病住院"},
    )
    assert response.status_code == 302
    assert response.url == reverse("child_detail", args=[enrolment.child_id])
    enrolment.refresh_from_db()
    assert enrolment.status == Status.SUSPENDED
    change = StatusChange.objects.filter(enrolment=enrolment).latest("id")
    assert (change.from_status, change.to_status, change.reason) == (
        Status.ENROLLED,
        Status.SUSPENDED,
        "生病住院",
    )
    assert change.recorded_by == world.users["county_staff"]
    detail = client.get(response.url).content.decode()
    assert "在读 → 休学" in detail and "生病住院" in detail
    assert "学籍变动已登记" in detail


@pytest.mark.parametrize("persona", ["supervisor", "teacher_a"])
def test_roles_without_the_right_cannot_change_an_enrolment(world, login, persona):
    enrolment = _enrolment(world)
    response = login(world.users[persona]).post(
        reverse("enrolment_transition", args=[enrolment.pk]),
        {"to_status": Status.SUSPENDED, "effective_date": TODAY.isoformat(), "reason": "生病住院"},
    )
    assert response.status_code == 403
    enrolment.refresh_from_db()
    assert enrolment.status == Status.ENROLLED
