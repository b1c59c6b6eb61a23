"""Imports end to end: messy lists in, all-or-nothing writes, provenance, precedence, the error report."""

import datetime as dt
import io
import json
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from kongchuo.attendance.models import AttendanceRecord
from kongchuo.core.choices import Source
from kongchuo.enrolments.models import Enrolment, ExternalStudy, StatusChange
from kongchuo.imports import prepare
from kongchuo.imports.models import ColumnMapping, IdentityConflict, ImportBatch, RowIssue
from kongchuo.imports.services import ImportFailed, import_run, import_store
from kongchuo.people.identity import compose_id_number
from kongchuo.people.models import Child, FieldProvenance, GroupMembership, Guardian
from kongchuo.places.models import Division, School, SchoolClass
from kongchuo.places.services import division_create
from tests.imports_messy_files import write_csv, write_pdf_like, write_xlsx

B1, B2, B3 = dt.date(2015, 3, 5), dt.date(2016, 7, 21), dt.date(2014, 11, 2)
N1, N2, N3 = compose_id_number("500229", B1, 101), compose_id_number("500229", B2, 202), compose_id_number("500229", B3, 303)
HOUSEHOLD_HEADER = ["姓名", "性 别", "民族", "出生日期", "公民身份号码", "户籍地址", "乡镇(街道)", "村(社区)", "监护人", "联系电话"]


def household_rows():
    return [
        ["城口县巴山镇适龄儿童花名册"],
        HOUSEHOLD_HEADER,
        ["刘 小 军", "男", "汉", "2015.3.5", N1.lower(), "巴山村三组", "巴山镇", "巴山村", "刘大军", "13800001111"],
        ["王丽", "2", "土家族", "20160721", N2[:6] + " " + N2[6:], "坪坝村一组", "坪坝镇", "坪坝村", "王大山", 13900002222],
        ["马冬梅", "女", "苗族", "2014年11月2日", "", "巴山村五组", "巴山镇", "巴山村", "马大", ""],  # no ID: kept, 待核正
        [],
        ["制表人：张三", "", "审核人：李四"],
    ]


def household_file(tmp_path, rows=None, name="household.xlsx"):
    return write_xlsx(tmp_path / name, {"花名册": rows or household_rows()})


def run(world, source, path, *, dry_run=False, user="county_staff"):
    actor = world.users[user] if user else None
    batch = import_store(actor=actor, source=source, upload=path, file_name=path.name)
    return batch, import_run(batch=batch, actor=actor, dry_run=dry_run)


def domain_state():
    return (
        list(Child.objects.order_by("pk").values()),
        list(Guardian.objects.order_by("pk").values()),
        list(Enrolment.objects.order_by("pk").values()),
        list(FieldProvenance.objects.order_by("pk").values()),
        list(GroupMembership.objects.order_by("pk").values()),
        StatusChange.objects.count(),
        IdentityConflict.objects.count(),
    )


def test_household_import_repairs_flags_and_applies(world, tmp_path):
    batch, summary = run(world, "household", household_file(tmp_path))
    assert (summary["rows"], summary["created"], summary["rejected"]) == (3, 3, 0)
    assert batch.status == ImportBatch.Status.APPLIED
    liu = Child.objects.get(id_number=N1)
    assert (liu.name, liu.gender, liu.birth_date, liu.ethnicity) == ("刘小军", "M", B1, "01")
    assert (liu.township, liu.household_division) == (world.township_a, world.village_a)
    assert liu.guardians.get().phone == "13800001111"
    wang = Child.objects.get(id_number=N2)
    assert (wang.gender, wang.ethnicity, wang.township) == ("F", "15", world.township_b)
    ma = Child.objects.get(name="马冬梅")
    assert (ma.id_number, ma.id_number_status, ma.birth_date) == (None, Child.IdStatus.PENDING, B3)
    flagged = batch.issues.filter(kind=RowIssue.Kind.FLAGGED)
    assert [(i.row, "证件号待核正" in i.message) for i in flagged] == [(5, True)]
    notes = {r["message"] for r in summary["repairs"]}
    assert any("小写x" in n for n in notes) or N1[-1].isdigit()
    prov = FieldProvenance.objects.get(child=liu, source=Source.HOUSEHOLD)
    assert prov.batch == batch and {"name", "gender", "birth_date", "household_division"} <= set(prov.fields)


def test_reimporting_the_same_file_changes_nothing(world, tmp_path):
    run(world, "household", household_file(tmp_path))
    before = domain_state()
    batch, summary = run(world, "household", household_file(tmp_path, name="again.xlsx"))
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 3)
    assert domain_state() == before


def test_a_person_repeated_chunks_later_is_flagged_once_not_merged_again(world, tmp_path, monkeypatch):
    monkeypatch.setattr(prepare, "CHUNK", 2)  # the repeat lands in a later chunk than the first row
    rows = household_rows()
    rows.insert(5, list(rows[2]))  # 刘小军 again, as row 6
    batch, summary = run(world, "household", household_file(tmp_path, rows))
    assert (summary["created"], summary["unchanged"], summary["rejected"]) == (3, 1, 0)
    assert "与第3行为同一人" in batch.issues.get(row=6).message
    liu = Child.objects.get(id_number=N1)
    assert (liu.provenance.count(), liu.guardians.count()) == (1, 1)


def test_dry_run_writes_nothing_but_counts_exactly(world, tmp_path):
    before = domain_state()
    batch, summary = run(world, "household", household_file(tmp_path), dry_run=True)
    assert (summary["created"], batch.status) == (3, ImportBatch.Status.PREVIEWED)
    assert domain_state() == before


def test_one_row_that_identifies_no_one_rejects_the_whole_file(world, tmp_path):
    rows = household_rows()
    rows.insert(4, ["", "男", "汉", "", "12345", "", "巴山镇", "", "", ""])  # no name, bad ID, no birth date
    before = domain_state()
    batch, summary = run(world, "household", household_file(tmp_path, rows))
    assert (summary["rejected"], batch.status) == (1, ImportBatch.Status.REJECTED)
    issue = batch.issues.get(kind=RowIssue.Kind.REJECTED)
    assert issue.row == 5 and issue.column == "姓名" and "姓名" in issue.message
    assert domain_state() == before


def test_cli_json_contract_and_exit_codes(world, tmp_path, capsys):
    rows = household_rows()
    rows.insert(3, ["赵六", "男", "汉", "2015-13-40", "", "", "巴山镇", "", "", ""])  # impossible date, no ID
    path = household_file(tmp_path, rows)
    with pytest.raises(SystemExit) as exit_:
        call_command("import", "household", str(path), "--json")  # two counties in the database: which one?
    assert "多个县" in json.loads(capsys.readouterr().out)["errors"][0]["message"]
    with pytest.raises(SystemExit) as exit_:
        call_command("import", "household", str(path), "--json", "--county", "500229")
    assert exit_.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"rows", "created", "updated", "unchanged", "rejected", "errors"}
    assert out["rejected"] == 1 and out["errors"][0]["row"] == 4 and out["errors"][0]["column"]
    assert not Child.objects.filter(name="刘小军").exists()
    call_command("import", "household", str(household_file(tmp_path)), "--json", "--dry-run", "--county", "500229")
    assert json.loads(capsys.readouterr().out)["created"] == 3
    call_command("import", "household", str(household_file(tmp_path)), "--json", "--county", "500229")
    assert json.loads(capsys.readouterr().out)["created"] == 3


@pytest.mark.django_db
def test_an_import_into_a_database_without_a_county_says_what_to_do_first(tmp_path):
    with pytest.raises(ImportFailed, match="还没有任何县的区划"):
        import_store(actor=None, source="household", upload=household_file(tmp_path), file_name="h.xlsx")


def test_a_workbook_of_several_sheets_says_which_sheet_each_row_is_on(world, tmp_path, capsys, client):
    """Two township sheets, each with its own rows 3 and 4: a row's problem is told with its sheet, on the page, on
    the command line; a directory is not a file; the count of flags says how many are pending ID numbers."""
    header = HOUSEHOLD_HEADER
    first = [["巴山镇花名册"], header, ["刘小军", "男", "汉", "2015.3.5", N1, "", "巴山镇", "巴山村", "", ""],
             ["马冬梅", "女", "苗族", "2014年11月2日", "", "", "巴山镇", "", "", ""]]  # no ID: 证件号待核正
    second = [["坪坝镇花名册"], header, ["王丽", "女", "汉", "20160721", N2, "", "坪坝镇", "坪坝村", "", ""],
              ["", "男", "汉", "", "", "", "坪坝镇", "", "", ""]]  # identifies no one: rejected
    path = write_xlsx(tmp_path / "两镇.xlsx", {"巴山镇": first, "坪坝镇": second})
    with pytest.raises(SystemExit):
        call_command("import", "household", str(path), "--json", "--county", "500229")
    out = json.loads(capsys.readouterr().out)
    assert [(e["sheet"], e["row"]) for e in out["errors"]] == [("坪坝镇", 4)]
    assert [(f["sheet"], f["row"]) for f in out["flags"]] == [("巴山镇", 4)] and out["pending_ids"] == 1
    batch = ImportBatch.objects.latest("pk")
    assert not [r for r in batch.summary["repairs"] if "监护人" in r["column"]]  # a blank guardian is no repair
    assert {"巴山镇3", "坪坝镇3"} <= {row for r in batch.summary["repairs"] for row in r["rows"]}  # examples say their sheet
    assert list(batch.issues.order_by("id").values_list("sheet", "row", "kind")) == [
        ("巴山镇", 4, RowIssue.Kind.FLAGGED), ("坪坝镇", 4, RowIssue.Kind.REJECTED)]
    client.force_login(world.users["county_staff"])
    page = client.get(reverse("import_detail", args=[batch.pk])).content.decode()
    assert "<th>工作表</th>" in page and "<td>坪坝镇</td><td>4</td>" in page and "其中证件号待核正 1" in page
    with pytest.raises(Exception, match="不是文件"):
        call_command("import", "household", str(tmp_path), "--county", "500229")
    # The error report: a sheet column; the sheets' shared titles over the cells; a sheet laid out otherwise, numbers.
    report = client.get(reverse("import_errors", args=[batch.pk])).content
    table = CalamineWorkbook.from_filelike(io.BytesIO(report)).get_sheet_by_index(0).to_python()
    assert table[0][:2] == ["工作表", "行号"] and table[0][5:7] == ["姓名", "性别"]
    assert [row[:2] for row in table[1:]] == [["巴山镇", 4], ["坪坝镇", 4]]
    batch.issues.filter(sheet="巴山镇").delete()  # problems on one sheet only: still told which
    report = client.get(reverse("import_errors", args=[batch.pk])).content
    assert CalamineWorkbook.from_filelike(io.BytesIO(report)).get_sheet_by_index(0).to_python()[1][:2] == ["坪坝镇", 4]
    second[1] = [*header, "备注"]  # this sheet has one more column
    path = write_xlsx(tmp_path / "两镇2.xlsx", {"说明": [["填表说明"]], "巴山镇": first, "坪坝镇": second})
    with pytest.raises(SystemExit):
        call_command("import", "household", str(path), "--county", "500229")
    assert "工作表“说明”" in capsys.readouterr().out  # a sheet passed over is said, not silently skipped
    report = client.get(reverse("import_errors", args=[ImportBatch.objects.latest("pk").pk])).content
    assert CalamineWorkbook.from_filelike(io.BytesIO(report)).get_sheet_by_index(0).to_python()[0][5:7] == ["第1列", "第2列"]


def registry_rows(status="在读", name2="王丽"):
    return [
        ["姓名", "性别", "出生日期", "身份证件号", "全国学籍号", "学校标识码", "学校名称", "年级", "班级", "学生状态"],
        ["刘小军", "男", B1, N1, "G" + N1, "5002290001", "巴山镇中心小学", "五年级", "(2)班", status],
        [name2, "女", B2, N2, "G" + N2, 5002290002.0, "坪坝镇中心小学", "4", "1班", "在读"],
    ]


def test_registry_import_creates_enrolments_classes_and_history(world, tmp_path):
    batch, summary = run(world, "registry", write_xlsx(tmp_path / "r.xlsx", {"学籍": registry_rows()}))
    assert (summary["created"], summary["rejected"]) == (2, 0)
    liu = Child.objects.get(id_number=N1)
    e = liu.enrolments.get()
    assert (e.school, e.grade, e.status, e.national_student_number) == (world.school_a, 5, "enrolled", "G" + N1)
    assert e.school_class == SchoolClass.objects.get(school=world.school_a, grade=5, number=2)
    assert (liu.current_school, liu.current_class) == (world.school_a, e.school_class)
    assert liu.township is None and liu.county == world.county  # the registry knows no household address
    run(world, "registry", write_xlsx(tmp_path / "r2.xlsx", {"学籍": registry_rows(status="休学")}))
    e.refresh_from_db()
    assert e.status == "suspended"
    assert list(e.history.values_list("from_status", "to_status")) == [("", "enrolled"), ("enrolled", "suspended")]


def test_registry_rows_for_unknown_schools_or_grades_are_rejected(world, tmp_path):
    rows = registry_rows()
    rows[1][5] = "9999999999"
    rows[2][7] = "八年级"  # a primary school has no grade 8
    batch, summary = run(world, "registry", write_xlsx(tmp_path / "r.xlsx", {"学籍": rows}))
    reasons = {i.row: i.message for i in batch.issues.filter(kind=RowIssue.Kind.REJECTED)}
    assert "不在本县学校名单" in reasons[2] and "不设8年级" in reasons[3]
    assert not Enrolment.objects.filter(child__id_number__in=[N1, N2]).exists()


def test_each_field_keeps_the_import_that_supplied_it_when_a_later_list_changes_another(world, tmp_path, client):
    """A second police list changes only 刘小军's address: the address is the second import's, his name, birth
    date and the rest stay the first's; the child's page shows both, linked for who may open imports."""
    first, _ = run(world, "household", household_file(tmp_path))
    # A new child's fields all came with its row's batch: the map of them to their batches is left empty.
    assert FieldProvenance.objects.get(child__id_number=N1, source=Source.HOUSEHOLD).batches == {}
    rows = household_rows()
    rows[2] = [*rows[2][:5], "巴山村七组", *rows[2][6:]]
    second, summary = run(world, "household", household_file(tmp_path, rows, name="second.xlsx"))
    assert (summary["updated"], summary["unchanged"]) == (1, 2)
    liu = Child.objects.get(id_number=N1)
    prov = FieldProvenance.objects.get(child=liu, source=Source.HOUSEHOLD)
    assert prov.batches["household_address"] == second.pk and prov.batch == second
    assert prov.batches["name"] == prov.batches["birth_date"] == first.pk
    assert FieldProvenance.objects.get(child__id_number=N2, source=Source.HOUSEHOLD).batch == first  # unchanged: untouched
    client.force_login(world.users["county_staff"])
    page = client.get(reverse("child_detail", args=[liu.pk])).content.decode()
    assert f'href="{reverse("import_detail", args=[second.pk])}"' in page and f"导入批次#{first.pk}" in page
    client.force_login(world.users["township_a"])  # sees the child, not the county's imports: no links to them
    page = client.get(reverse("child_detail", args=[liu.pk])).content.decode()
    assert f"导入批次#{second.pk}" in page and reverse("import_detail", args=[second.pk]) not in page


def test_precedence_household_wins_identity_and_conflicts_are_recorded(world, tmp_path):
    # Registry first, with a homophone name; then the police list: its name is kept, the other recorded.
    run(world, "registry", write_xlsx(tmp_path / "r.xlsx", {"学籍": registry_rows(name2="汪丽")}))
    assert Child.objects.get(id_number=N2).name == "汪丽"
    run(world, "household", household_file(tmp_path))
    wang = Child.objects.get(id_number=N2)
    assert wang.name == "王丽"
    conflict = IdentityConflict.objects.get(child=wang, field="name")
    assert (conflict.kept_value, conflict.kept_source, conflict.other_value, conflict.other_source) == (
        "王丽",
        Source.HOUSEHOLD,
        "汪丽",
        Source.REGISTRY,
    )
    # The police liaison sees it (the police list is one side); not a conflict between two other sources.
    from kongchuo.accounts.scoping import conflicts_for

    IdentityConflict.objects.create(child=wang, field="birth_date", kept_value="2016-07-21", kept_source=Source.REGISTRY,
                                    other_value="2016-07-12", other_source=Source.STUDY_ELSEWHERE, county=wang.county)
    assert list(conflicts_for(world.users["liaison_police"]).values_list("field", flat=True)) == ["name"]
    assert conflicts_for(world.users["county_staff"]).count() == 2
    IdentityConflict.objects.filter(field="birth_date").delete()
    # The registry again: it does not overwrite the police's name, and the conflict is not duplicated.
    before = domain_state()
    _, summary = run(world, "registry", write_xlsx(tmp_path / "r3.xlsx", {"学籍": registry_rows(name2="汪丽")}))
    assert Child.objects.get(id_number=N2).name == "王丽"
    assert IdentityConflict.objects.filter(child=wang).count() == 1
    assert summary["updated"] == 0 and domain_state() == before
    assert summary["conflicts"] == 0  # none recorded now: none to tell


def test_the_childs_page_says_which_supplied_values_precedence_did_not_keep(world, tmp_path, client):
    run(world, "registry", write_xlsx(tmp_path / "r.xlsx", {"学籍": registry_rows(name2="汪丽")}))
    run(world, "household", household_file(tmp_path))  # 王丽: the police list's name is kept
    wang = Child.objects.get(id_number=N2)
    client.force_login(world.users["county_staff"])

    def lines():
        page = client.get(reverse("child_detail", args=[wang.pk])).content.decode()
        section = page[page.index("数据来源"):]
        return {cells[0]: cells[1] for cells in re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td>", section)}

    shown = lines()
    assert "姓名（未采用：汪丽）" in shown[Source.REGISTRY.label] and "未采用" not in shown[Source.HOUSEHOLD.label]
    # The registry changes its mind, then comes back to its first value: the page says what it gives now.
    for n, name in enumerate(["汪莉", "汪丽"]):
        run(world, "registry", write_xlsx(tmp_path / f"r{n}.xlsx", {"学籍": registry_rows(name2=name)}))
        assert f"姓名（未采用：{name}）" in lines()[Source.REGISTRY.label]
    # The registry comes to agree with the police: nothing to say.
    run(world, "registry", write_xlsx(tmp_path / "r9.xlsx", {"学籍": registry_rows(name2="王丽")}))
    assert "未采用" not in "".join(lines().values())
    # The police correct the name to the registry's old one: the registry's value is the one held, nothing to say.
    run(world, "registry", write_xlsx(tmp_path / "r10.xlsx", {"学籍": registry_rows(name2="汪丽")}))
    rows = household_rows()
    rows[3] = ["汪丽", *rows[3][1:]]
    run(world, "household", household_file(tmp_path, rows, name="second.xlsx"))
    assert Child.objects.get(pk=wang.pk).name == "汪丽"
    assert "未采用" not in "".join(lines().values())


def test_a_name_set_by_hand_settles_what_the_page_says_of_each_sources_name(world, tmp_path, client):
    from kongchuo.people.services import child_update

    run(world, "registry", write_xlsx(tmp_path / "r.xlsx", {"学籍": registry_rows(name2="汪丽")}))
    wang = Child.objects.get(id_number=N2)
    client.force_login(world.users["county_staff"])

    def lines():
        page = client.get(reverse("child_detail", args=[wang.pk])).content.decode()
        return dict(re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td>", page[page.index("数据来源"):]))

    staff = world.users["county_staff"]
    child_update(actor=staff, child=wang, name="王莉")  # by hand: the registry's 汪丽 is not held now
    assert "姓名（未采用：汪丽）" in lines()[Source.REGISTRY.label] and "未采用" not in lines()[Source.MANUAL.label]
    run(world, "household", household_file(tmp_path))  # the police list's 王丽 overrules the hand's 王莉
    assert "姓名（未采用：王莉）" in lines()[Source.MANUAL.label]
    child_update(actor=staff, child=wang, name="王俐")  # by hand again: the hand's value is held, the police's not
    shown = lines()
    assert "未采用" not in shown[Source.MANUAL.label] and "姓名（未采用：王丽）" in shown[Source.HOUSEHOLD.label]
    child_update(actor=staff, child=wang, name="汪丽")  # the registry's value: it agrees again
    shown = lines()
    assert "未采用" not in shown[Source.REGISTRY.label] and "姓名（未采用：王丽）" in shown[Source.HOUSEHOLD.label]


def test_a_list_that_overrules_a_value_two_sources_gave_marks_both_and_a_hand_edit_keeps_them(world, tmp_path):
    from kongchuo.people.services import child_update

    number = compose_id_number("500229", B1, 811)
    run(world, "civil-affairs", write_csv(tmp_path / "c.csv", [["姓名", "身份证号", "类别"], ["乙四", number, "低保"]]))
    run(world, "disability", write_csv(tmp_path / "d.csv", [["姓名", "身份证号", "残疾类别"], ["乙四", number, "肢体"]]))
    run(world, "household", write_csv(tmp_path / "h.csv", [["姓名", "公民身份号码"], ["乙肆", number]]))
    child = Child.objects.get(id_number=number)

    def refused():
        return {p.source: p.refused.get("name") for p in FieldProvenance.objects.filter(child=child)}

    assert child.name == "乙肆" and refused() == {"civil_affairs": "乙四", "disability": "乙四", "household": None}
    child_update(actor=world.users["county_staff"], child=child, name="乙泗")
    assert refused() == {"civil_affairs": "乙四", "disability": "乙四", "household": "乙肆", "manual": None}


@pytest.mark.django_db
def test_a_first_list_into_an_empty_database_finds_its_own_repeats_without_looking_numbers_up(tmp_path, monkeypatch):
    """No child has an ID number yet: a county's first police list looks none up (SQLite: none can be there but its
    own), and still knows a child it wrote a chunk, or a sheet, earlier. The next list looks them up again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    county = division_create(actor=None, code="500229", name="城口县", level=Division.Level.COUNTY)
    division_create(actor=None, code="500229101", name="巴山镇", level=Division.Level.TOWNSHIP, parent=county)
    monkeypatch.setattr(prepare, "CHUNK", 1)
    header = ["姓名", "性别", "出生日期", "公民身份号码", "乡镇"]
    first = [["刘小军", "男", B1.isoformat(), N1, "巴山镇"], ["王丽", "女", B2.isoformat(), N2, "巴山镇"]]
    again = [["刘小军", "男", B1.isoformat(), N1.lower(), "巴山镇"]]  # chunks and a sheet later

    def imported(name, sheets):
        with CaptureQueriesContext(connection) as queries:
            batch = import_store(actor=None, source="household", upload=write_xlsx(tmp_path / name, sheets), file_name=name)
            summary = import_run(batch=batch, actor=None, dry_run=False)
        looked_up = any("WHERE id_number IN" in q["sql"] or "id_number = ANY" in q["sql"] for q in queries.captured_queries)
        return batch, summary, looked_up

    batch, summary, looked_up = imported("一.xlsx", {"一镇": [header, *first], "二镇": [header, *again]})
    assert (summary["created"], Child.objects.count()) == (2, 2)
    assert looked_up is (connection.vendor != "sqlite")
    assert "与工作表“一镇”第2行为同一人" in batch.issues.get(sheet="二镇").message
    _, summary, looked_up = imported("二.xlsx", {"一镇": [header, *first]})
    assert (summary["created"], summary["unchanged"], looked_up) == (0, 2, True)


def test_a_value_blanked_by_hand_and_filled_again_by_a_list_agrees_with_the_source_that_gave_it(world, tmp_path):
    from kongchuo.people.services import child_update

    number = compose_id_number("500229", B1, 811)
    civil_list = [["姓名", "身份证号", "类别", "现住址"], ["乙四", number, "低保", "巴山村一组"]]
    run(world, "civil-affairs", write_csv(tmp_path / "c.csv", civil_list))
    child = Child.objects.get(id_number=number)
    child_update(actor=world.users["county_staff"], child=child, current_address="")
    civil = FieldProvenance.objects.get(child=child, source=Source.CIVIL_AFFAIRS)
    assert civil.refused == {"current_address": "巴山村一组"}
    run(world, "household", write_csv(tmp_path / "h.csv", [["姓名", "公民身份号码", "现住址"], ["乙四", number, "巴山村一组"]]))
    civil.refresh_from_db()
    assert civil.refused == {}


def test_a_list_re_imported_over_existing_children_reads_their_places_with_them(world, tmp_path, django_assert_max_num_queries):
    rows = [["姓名", "性别", "出生日期", "公民身份号码", "乡镇", "村"]]
    names = [a + b for a in "甲乙丙丁戊己庚辛" for b in "一二三四五"]  # 40
    rows += [[name, "男", B1.isoformat(), compose_id_number("500229", B1, 801 + 2 * n), "巴山镇", "巴山村"] for n, name in enumerate(names)]
    run(world, "household", write_csv(tmp_path / "h.csv", rows))
    with django_assert_max_num_queries(60):  # a division per row would be 40 more
        _, summary = run(world, "household", write_csv(tmp_path / "h2.csv", rows))
    assert summary["unchanged"] == 40


def test_a_village_not_kept_is_told_from_a_village_of_the_same_name_in_another_township(world, tmp_path, client):
    division_create(actor=None, code="500229101002", name="新村", level=Division.Level.VILLAGE, parent=world.township_a)
    division_create(actor=None, code="500229102002", name="新村", level=Division.Level.VILLAGE, parent=world.township_b)
    number = compose_id_number("500229", B1, 811)
    run(world, "household", write_csv(tmp_path / "h.csv", [["姓名", "性别", "出生日期", "公民身份号码", "乡镇", "村"],
                                                          ["乙四", "男", B1.isoformat(), number, "巴山镇", "新村"]]))
    run(world, "disability", write_csv(tmp_path / "d.csv", [["姓名", "身份证号", "残疾类别", "乡镇", "村"],
                                                            ["乙四", number, "肢体", "坪坝镇", "新村"]]))
    child = Child.objects.get(id_number=number)
    assert child.household_division.code == "500229101002"  # the police list's, by precedence
    conflict = IdentityConflict.objects.get(child=child, field="household_division")
    assert (conflict.kept_value, conflict.other_value) == ("巴山镇新村", "坪坝镇新村")
    client.force_login(world.users["county_staff"])
    page = client.get(reverse("child_detail", args=[child.pk])).content.decode()
    assert "户籍地区划（未采用：坪坝镇新村）" in page


def test_gbk_csv_department_lists_add_groups_and_disability(world, tmp_path):
    run(world, "household", household_file(tmp_path))
    disability = write_csv(
        tmp_path / "残联.csv",
        [["姓名", "身份证号", "残疾类别", "残疾等级", "残疾证号"], ["刘小军", N1, "肢体残疾", "二级", "50022920150305101142"]],
        encoding="gbk",
    )
    batch, summary = run(world, "disability", disability)
    assert (summary["updated"], summary["rejected"]) == (1, 0)
    liu = Child.objects.get(id_number=N1)
    assert (liu.disability_category, liu.disability_grade, liu.health) == ("physical", 2, "6")
    assert liu.groups.get().group == "disabled"
    civil = write_csv(
        tmp_path / "民政.csv", [["姓名", "身份证号", "类别"], ["王丽", N2, "事实无人抚养儿童"], ["王丽", N2, "外星人"]], encoding="gb18030"
    )
    batch, summary = run(world, "civil-affairs", civil)
    assert summary["rejected"] == 1 and "无法识别" in batch.issues.get().message
    civil = write_csv(tmp_path / "民政2.csv", [["姓名", "身份证号", "类别"], ["王丽", N2, "事实无人抚养儿童"]], encoding="utf-8-sig")
    run(world, "civil-affairs", civil)
    assert set(GroupMembership.objects.filter(child__id_number=N2).values_list("group", "source")) == {
        ("de_facto_unsupported", Source.CIVIL_AFFAIRS)
    }


def test_a_short_list_keeps_children_whose_remarks_read_like_a_signature_line(world, tmp_path):
    """A civil-affairs list has three or four columns: a child's remark (监护人已签字确认, 联系人：…) must not make
    the row a footer and drop the child without a word; the real footer below still goes."""
    rows = [
        ["姓名", "身份证号", "类别", "备注"],
        ["刘小军", N1, "孤儿", "监护人已签字确认"],
        ["王丽", N2, "低保", "联系人：村主任"],
        ["马冬梅", N3, "低保", ""],
        ["制表人：张三", "", "审核人：李四"],
    ]
    batch, summary = run(world, "civil-affairs", write_csv(tmp_path / "民政.csv", rows))
    assert (summary["rows"], summary["created"], summary["rejected"]) == (3, 3, 0)
    assert set(GroupMembership.objects.filter(source=Source.CIVIL_AFFAIRS).values_list("child__id_number", "group")) == {
        (N1, "orphan"), (N2, "minimum_living_allowance"), (N3, "minimum_living_allowance")}


def test_an_unreadable_gender_or_birth_date_is_flagged_when_the_id_number_says_it(world, tmp_path):
    """The ID number gives gender and birth date: a cell of either that cannot be read is flagged and the ID's
    value kept. Without an ID number the same cell still refuses the row (nothing else says it)."""
    rows = household_rows()[:2] + [
        ["刘小军", "未知", "汉", "2015.3.5", N1, "巴山村三组", "巴山镇", "巴山村", "", ""],
        ["王丽", "女", "汉", "2016-13-45", N2, "坪坝村一组", "坪坝镇", "坪坝村", "", ""],
    ]
    batch, summary = run(world, "household", write_csv(tmp_path / "户籍.csv", rows, encoding="gbk"))
    assert (summary["created"], summary["rejected"]) == (2, 0)
    assert (Child.objects.get(id_number=N1).gender, Child.objects.get(id_number=N2).birth_date) == ("M", B2)
    flags = dict(batch.issues.filter(kind=RowIssue.Kind.FLAGGED).values_list("row", "message"))
    assert "性别“未知”无法识别" in flags[3] and "已按证件号取男" in flags[3]
    assert "已按证件号取2016-07-21" in flags[4]

    rows = household_rows()[:2] + [["马冬梅", "X", "苗族", "2014年11月2日", "", "巴山村五组", "巴山镇", "巴山村", "", ""]]
    batch, summary = run(world, "household", write_csv(tmp_path / "户籍2.csv", rows))
    assert summary["rejected"] == 1
    assert batch.issues.get().column == "性别" and "无法识别" in batch.issues.get().message


def test_a_department_row_without_id_or_gender_joins_the_child_the_police_list_brought(world, tmp_path):
    """A civil-affairs list gives name, birth date and category, no ID number, no gender: enough to say which child
    the county already has (马冬梅, brought in without an ID by the police list), not to add one."""
    run(world, "household", household_file(tmp_path))
    ma = Child.objects.get(name="马冬梅")
    header = ["姓名", "身份证号", "出生日期", "类别"]
    batch, summary = run(world, "civil-affairs", write_csv(tmp_path / "民政.csv", [header, ["马冬梅", "", "2014年11月2日", "孤儿"]]))
    assert (summary["updated"], summary["created"], summary["rejected"], summary["pending_ids"]) == (1, 0, 0, 1)
    assert ma.groups.get().group == "orphan" and Child.objects.filter(name="马冬梅").count() == 1
    rows = [header, ["马冬梅", "", "2014年11月2日", "低保"], ["陌生人", "", "2013-05-06", "孤儿"]]
    batch, summary = run(world, "civil-affairs", write_csv(tmp_path / "民政2.csv", rows))
    assert summary["rejected"] == 1
    refused = batch.issues.get(kind=RowIssue.Kind.REJECTED)
    assert refused.row == 3 and "性别为空" in refused.message and "对应不上" in refused.message


def test_attendance_links_known_students_and_keeps_unknown_ones(world, tmp_path):
    a = world.children["a"]
    rows = [
        ["日期", "学校标识码", "全国学籍号", "姓名", "状态"],
        ["2026-11-02", "5002290001", "G" + a.id_number, a.name, "缺勤"],
        [dt.date(2026, 11, 3), "5002290001", "G" + N3, "不在册", "请假"],
    ]
    batch, summary = run(world, "attendance", write_xlsx(tmp_path / "att.xlsx", {"考勤": rows}))
    assert summary["created"] == 2
    known, unknown = AttendanceRecord.objects.order_by("date")
    assert (known.child, known.status, unknown.child, unknown.status) == (a, "absent", None, "leave")
    assert "无学籍在读" in batch.issues.get().message


def test_an_attendance_day_that_does_not_exist_is_named_as_a_day_not_a_birth_date(world, tmp_path):
    a = world.children["a"]
    rows = [["日期", "学校标识码", "全国学籍号", "姓名", "状态"], ["2026-11-31", "5002290001", "G" + a.id_number, a.name, "缺勤"]]
    batch, summary = run(world, "attendance", write_xlsx(tmp_path / "att.xlsx", {"考勤": rows}))
    assert summary["rejected"] == 1
    issue = batch.issues.get()
    assert (issue.row, issue.column, issue.message) == (2, "日期", "日期“2026-11-31”不存在")


def test_study_elsewhere_and_schools(world, tmp_path, client):
    rows = [["身份证件号", "姓名", "就读学校", "就读地"], [N1, "刘小军", "广州市天河区某小学", "广东省广州市"]]
    run(world, "study-elsewhere", write_xlsx(tmp_path / "s.xlsx", {"证明": rows}))
    assert ExternalStudy.objects.get().child.id_number == N1
    client.force_login(world.users["county_staff"])  # the child's page says where the child studies
    page = client.get(reverse("child_detail", args=[Child.objects.get(id_number=N1).pk])).content.decode()
    assert "外地就读核实" in page and "广州市天河区某小学" in page and "本县无学籍记录" in page
    schools = [
        ["学校标识码", "学校名称", "办学类型", "所属区县代码", "所属乡镇"],
        ["5002290099", "巴山镇新华村教学点", "教学点", "500229", "巴山镇"],
        ["5002300099", "外县小学", "小学", "500230", "巴山镇"],
    ]
    batch, summary = run(world, "schools", write_xlsx(tmp_path / "x.xlsx", {"学校": schools}))
    assert summary["rejected"] == 1 and "不是本县" in batch.issues.get().message
    run(world, "schools", write_xlsx(tmp_path / "x2.xlsx", {"学校": schools[:2]}))
    assert School.objects.get(code="5002290099").type == School.Type.TEACHING_POINT


def test_error_report_has_original_rows_masked_ids_and_no_formulas(world, tmp_path, client):
    rows = household_rows()
    rows.insert(3, ['=HYPERLINK("http://x")', "男", "汉", "", N3[:10], "", "", "", "", ""])
    batch, _ = run(world, "household", write_csv(tmp_path / "h.csv", rows))  # a CSV keeps the formula as text
    client.force_login(world.users["county_staff"])
    response = client.get(reverse("import_errors", args=[batch.pk]))
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()
    assert sheet[0][:4] == ["行号", "类型", "列", "原因"] and "公民身份号码" in sheet[0]
    row = next(r for r in sheet[1:] if r[1] == "拒收")
    assert row[0] == 4 and str(row[4]).startswith("'=HYPERLINK")
    assert N1 not in json.dumps(sheet, ensure_ascii=False)


def test_unsafe_files_are_refused_and_stored_under_generated_names(world, tmp_path, settings):
    with pytest.raises(ImportFailed, match="不受支持"):
        import_store(
            actor=world.users["county_staff"], source="household", upload=write_pdf_like(tmp_path / "名单.xlsx"), file_name="名单.xlsx"
        )
    assert not ImportBatch.objects.exists()
    batch = import_store(
        actor=world.users["county_staff"], source="household", upload=household_file(tmp_path), file_name="../../名单.xlsx"
    )
    stored = settings.FILES_DIR / "imports" / batch.stored_name
    assert stored.exists() and "名单" not in batch.stored_name and batch.file_name == "名单.xlsx"
    assert not str(stored).startswith(str(settings.STATIC_ROOT))


def test_liaison_imports_only_its_own_list(world, tmp_path):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        run(world, "registry", write_xlsx(tmp_path / "r.xlsx", {"学籍": registry_rows()}), user="liaison_police")
    batch, summary = run(world, "household", household_file(tmp_path), user="liaison_police")
    assert summary["created"] == 3


def test_web_flow_with_manual_mapping_saved_for_next_time(world, tmp_path, client, django_capture_on_commit_callbacks):
    rows = household_rows()
    rows[1] = ["孩子名字", "性别", "民族", "生日", "身份证", "户籍地址", "乡镇", "村", "监护人", "联系电话"]
    path = household_file(tmp_path, rows)
    client.force_login(world.users["county_staff"])
    with django_capture_on_commit_callbacks(execute=True), open(path, "rb") as fh:
        response = client.post(reverse("import_list"), {"source": "household", "file": fh})
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and batch.status == ImportBatch.Status.REJECTED
    assert "姓名" in batch.message  # the header lacks a recognisable name column
    page = client.get(reverse("import_detail", args=[batch.pk])).content.decode()
    assert "列对应" in page
    # The row that looks most like a header is offered to map from, not the title above it.
    assert all(f'<option value="{label}"' in page for label in rows[1]) and rows[0][0] not in page.split("列对应（自动识别")[-1]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("import_mapping", args=[batch.pk]), {"map_name": "孩子名字", "map_id_number": "身份证"})
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PREVIEWED and batch.summary["created"] == 3
    assert ColumnMapping.objects.get(source="household").mapping == {"name": "孩子名字", "id_number": "身份证"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("import_apply", args=[batch.pk]))
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.APPLIED and Child.objects.filter(id_number=N1).exists()
    # The next file of the same source uses the saved mapping without asking.
    _, summary = run(world, "household", household_file(tmp_path, rows, name="next.xlsx"))
    assert summary["unchanged"] == 3


def test_a_file_with_a_header_and_no_rows_is_refused_not_applied_as_nothing(world, tmp_path, capsys):
    path = write_csv(tmp_path / "考勤.csv", [["日期", "学校标识码", "全国学籍号", "姓名", "状态"], [], [""] * 5])
    with pytest.raises(SystemExit) as exit_:
        call_command("import", "attendance", str(path), "--json", "--county", "500229")
    assert exit_.value.code == 1 and "没有数据行" in json.loads(capsys.readouterr().out)["errors"][0]["message"]
    assert ImportBatch.objects.get().status == ImportBatch.Status.REJECTED


def test_csv_lines_that_stop_before_the_last_columns_are_read_as_blank_cells(world, tmp_path):
    """A CSV line may leave its last cells off altogether (no trailing commas): they are blank, as an empty cell
    is, also where a repeating column (township, village) met the same blank on an earlier short line."""
    born = [dt.date(2013, 3, 4) + dt.timedelta(days=i) for i in range(4)]
    numbers = [compose_id_number("500229", b, 601 + 2 * i) for i, b in enumerate(born)]
    rows = [["姓名", "性别", "出生日期", "公民身份号码", "乡镇", "村"],
            ["石一", "男", born[0].isoformat(), numbers[0], "巴山镇", "巴山村"],
            ["石二", "男", born[1].isoformat(), numbers[1], "坪坝镇"],
            ["石三", "男", born[2].isoformat(), numbers[2], "坪坝镇"],
            ["石四", "男", born[3].isoformat(), numbers[3]]]
    batch, summary = run(world, "household", write_csv(tmp_path / "short.csv", rows))
    assert (summary["created"], summary["rejected"], batch.status) == (4, 0, ImportBatch.Status.APPLIED)
    places = dict(Child.objects.filter(id_number__in=numbers).values_list("name", "household_division__name"))
    assert places == {"石一": "巴山村", "石二": "坪坝镇", "石三": "坪坝镇", "石四": None}


def test_a_csv_without_a_recognisable_header_is_told_as_the_file_not_a_stored_name(world, tmp_path):
    rows = [["学生名字", "身份号"], ["刘小军", N1]]
    with pytest.raises(ImportFailed, match="^文件：") as failed:
        run(world, "household", write_csv(tmp_path / "odd.csv", rows))
    assert ".upload" not in str(failed.value) and ImportBatch.objects.get().summary["unmatched"][0]["labels"] == rows[0]


def test_an_unrecognised_header_offers_its_own_titles_not_a_childs_row(world, tmp_path, client, django_capture_on_commit_callbacks):
    """The header has a blank title; the rows under it have more cells of text: the titles are still what the
    mapping offers, and no ID number of the rows is shown in the message."""
    rows = [["儿童名字", "证号", "", "分类"], ["辛二", N2, "女", "孤儿"], ["辛三", N1, "男", "低保"]]
    client.force_login(world.users["county_staff"])
    with django_capture_on_commit_callbacks(execute=True), open(write_csv(tmp_path / "民政.csv", rows), "rb") as fh:
        client.post(reverse("import_list"), {"source": "civil-affairs", "file": fh})
    batch = ImportBatch.objects.get()
    page = client.get(reverse("import_detail", args=[batch.pk])).content.decode()
    options = page.split("列对应（自动识别")[-1]
    assert all(f'<option value="{label}"' in options for label in ("儿童名字", "证号", "分类"))
    assert "辛二" not in options and N2 not in page and N2[6:14] not in batch.message


def test_a_sheet_of_children_passed_over_fails_the_file_hidden_or_headerless(world, tmp_path, capsys):
    """Nothing of a file goes in rather than some: a sheet with ID numbers whose header is not found, or that is
    hidden, fails the import; a hidden sheet of drop-down choices is passed over and said."""
    import xlsxwriter

    def workbook(name, hidden_rows):
        path = tmp_path / name
        book = xlsxwriter.Workbook(path)
        for title, rows, hidden in (("花名册", household_rows(), False), ("旧名单", hidden_rows, True)):
            sheet = book.add_worksheet(title)
            for r, row in enumerate(rows):
                sheet.write_row(r, 0, [c if isinstance(c, (str, int)) else str(c) for c in row])
            if hidden:
                sheet.hide()
        book.close()
        return path

    choices = [["男"], ["女"], ["汉族"]]
    call_command("import", "household", str(workbook("choices.xlsx", choices)), "--json", "--dry-run", "--county", "500229")
    out = json.loads(capsys.readouterr().out)
    assert out["created"] == 3 and out["passed_over"] == ["工作表“旧名单”是隐藏的工作表，未导入"]
    old_list = [HOUSEHOLD_HEADER, ["旧一", "男", "汉", "2015-01-02", N3, "", "巴山镇", "", "", ""],
                ["旧二", "女", "汉", "2015-01-03", compose_id_number("500229", B3, 305), "", "巴山镇", "", "", ""]]
    with pytest.raises(SystemExit):
        call_command("import", "household", str(workbook("old.xlsx", old_list)), "--json", "--county", "500229")
    assert "隐藏" in json.loads(capsys.readouterr().out)["errors"][0]["message"] and not Child.objects.filter(name="旧一").exists()
    headerless = [["甲列", "乙列"], ["新一", N3], ["新二", compose_id_number("500229", B3, 305)]]
    path = write_xlsx(tmp_path / "two.xlsx", {"花名册": household_rows(), "坪坝镇": headerless})
    with pytest.raises(SystemExit):
        call_command("import", "household", str(path), "--json", "--county", "500229")
    message = json.loads(capsys.readouterr().out)["errors"][0]["message"]
    assert "工作表“坪坝镇”" in message and "身份证号" in message and not Child.objects.filter(name="刘小军").exists()


def test_full_id_error_report_only_for_entitled_roles_and_audited(world, tmp_path, client):
    from kongchuo.audit.models import AuditEntry

    rows = household_rows()
    rows.insert(3, ["", "男", "汉", "", N3[:17] + "0", "", "", "", "", ""])  # bad check digit, no name
    batch, _ = run(world, "household", write_csv(tmp_path / "h.csv", rows))
    client.force_login(world.users["county_staff"])
    response = client.get(reverse("import_errors", args=[batch.pk]), {"full": "1"})
    text = json.dumps(CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python(), ensure_ascii=False)
    assert N3[:17] + "0" in text
    assert AuditEntry.objects.filter(action="export", summary__contains="含完整证件号").exists()
    client.force_login(world.users["liaison_police"])  # may import, may not see full numbers
    assert client.get(reverse("import_errors", args=[batch.pk]), {"full": "1"}).status_code in (403, 404)


def test_precedence_is_configurable(world, tmp_path, settings):
    from kongchuo.imports.apply import DEFAULT_PRECEDENCE

    settings.KONGCHUO_PRECEDENCE = {**DEFAULT_PRECEDENCE, "identity": [Source.REGISTRY, Source.HOUSEHOLD]}
    run(world, "household", household_file(tmp_path))
    run(world, "registry", write_xlsx(tmp_path / "r.xlsx", {"学籍": registry_rows(name2="汪丽")}))
    assert Child.objects.get(id_number=N2).name == "汪丽"  # the registry now outranks the police list
    conflict = IdentityConflict.objects.get(field="name")
    assert (conflict.kept_source, conflict.other_value) == (Source.REGISTRY, "王丽")


def test_department_lists_without_birth_columns_are_not_reported_as_repaired(world, tmp_path):
    run(world, "household", household_file(tmp_path))
    batch, summary = run(
        world, "disability", write_csv(tmp_path / "残联.csv", [["姓名", "身份证号", "残疾类别"], ["刘小军", N1, "视力残疾"]])
    )
    assert summary["updated"] == 1 and summary["repairs"] == []


def test_a_registry_child_on_two_rows_is_not_flagged_as_a_repeat(world, tmp_path):
    rows = registry_rows()
    rows.append(["刘小军", "男", B1, N1, "G" + N1, "5002290002", "坪坝镇中心小学", "五年级", "1班", "在读"])  # 重复学籍 in the export
    batch, summary = run(world, "registry", write_xlsx(tmp_path / "r.xlsx", {"学籍": rows}))
    assert summary["flagged"] == 0 and Enrolment.objects.filter(child__id_number=N1).count() == 2


def test_an_import_killed_long_ago_is_shown_as_interrupted(world, tmp_path):
    import datetime as dt_

    from django.utils import timezone

    from kongchuo.imports.services import mark_interrupted

    old = import_store(actor=world.users["county_staff"], source="household", upload=household_file(tmp_path), file_name="a.xlsx")
    fresh = import_store(actor=world.users["county_staff"], source="household", upload=household_file(tmp_path), file_name="b.xlsx")
    ImportBatch.objects.filter(pk__in=[old.pk, fresh.pk]).update(status=ImportBatch.Status.APPLYING)
    ImportBatch.objects.filter(pk=old.pk).update(uploaded_at=timezone.now() - dt_.timedelta(hours=2))
    assert mark_interrupted(world.county) == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, fresh.status) == (ImportBatch.Status.FAILED, ImportBatch.Status.APPLYING) and "未写入" in old.message


def test_a_child_without_an_id_renamed_by_a_list_is_found_under_the_new_name_chunks_later(world, tmp_path, monkeypatch):
    """The import keeps the county's children without an ID by name in memory (not through the (county, name)
    index a bulk load defers): a child it renames must be found under the new name by a later chunk."""
    header = registry_rows()[0]
    first = [header, ["马小梅", "女", B3, "", "L5002292025001", "5002290001", "巴山镇中心小学", "五年级", "1班", "在读"]]
    batch, summary = run(world, "registry", write_xlsx(tmp_path / "r1.xlsx", {"学籍": first}))
    assert summary["created"] == 1, list(batch.issues.values_list("message", flat=True))
    ma = Child.objects.get(name="马小梅", birth_date=B3)
    assert ma.id_number_status == Child.IdStatus.PENDING
    monkeypatch.setattr(prepare, "CHUNK", 1)
    again = [
        header,
        ["马晓梅", "女", B3, "", "L5002292025001", "5002290001", "巴山镇中心小学", "五年级", "1班", "在读"],  # found by 学籍号, renamed
        ["马晓梅", "女", B3, "", "", "5002290001", "巴山镇中心小学", "五年级", "1班", "在读"],  # by name and birth date only
    ]
    _, summary = run(world, "registry", write_xlsx(tmp_path / "r2.xlsx", {"学籍": again}))
    assert (summary["created"], summary["rejected"]) == (0, 0)
    assert list(Child.objects.filter(birth_date=B3, name__startswith="马").values_list("pk", "name")) == [(ma.pk, "马晓梅")]


def test_a_child_without_an_id_whose_birth_date_a_list_corrects_is_found_by_it_chunks_later(world, tmp_path, monkeypatch):
    """As a renamed one: a child without an ID whose birth date a row found by 学籍号 corrects is named by a later
    chunk's row under the corrected date, and is that child (the import's pairs of name and birth date)."""
    header = registry_rows()[0]
    first = [header, ["马小梅", "女", B3, "", "L5002292025001", "5002290001", "巴山镇中心小学", "五年级", "1班", "在读"]]
    run(world, "registry", write_xlsx(tmp_path / "r1.xlsx", {"学籍": first}))
    ma = Child.objects.get(name="马小梅", birth_date=B3)
    corrected = B3 + dt.timedelta(days=40)
    monkeypatch.setattr(prepare, "CHUNK", 1)
    again = [
        header,
        ["马小梅", "女", corrected, "", "L5002292025001", "5002290001", "巴山镇中心小学", "五年级", "1班", "在读"],  # by 学籍号
        ["马小梅", "女", corrected, "", "", "5002290001", "巴山镇中心小学", "五年级", "1班", "在读"],  # by name and birth date
    ]
    _, summary = run(world, "registry", write_xlsx(tmp_path / "r2.xlsx", {"学籍": again}))
    assert (summary["created"], summary["rejected"]) == (0, 0)
    assert list(Child.objects.filter(name="马小梅").values_list("pk", "birth_date")) == [(ma.pk, corrected)]


def test_on_postgresql_a_child_without_an_id_re_dated_by_hand_during_an_import_is_found_by_the_new_date(world, tmp_path, monkeypatch):
    """Only SQLite keeps the import the one writer while it runs; on PostgreSQL a user may correct a child's birth
    date meanwhile, and a later row naming the child by it must find the child, not add a second one (the import
    asks the database there, not its pairs of name and birth date: Context.pending_born)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite: nothing else can write while an import runs")
    header = registry_rows()[0]
    run(world, "registry", write_xlsx(tmp_path / "r1.xlsx", {"学籍": [
        header, ["马小梅", "女", B3, "", "L5002292025001", "5002290001", "巴山镇中心小学", "五年级", "1班", "在读"]]}))
    ma = Child.objects.get(name="马小梅", birth_date=B3)
    corrected = B3 + dt.timedelta(days=40)
    monkeypatch.setattr(prepare, "CHUNK", 1)
    rows = [header, ["刘小军", "男", B1, N1, "G" + N1, "5002290001", "巴山镇中心小学", "五年级", "(2)班", "在读"],
            ["马小梅", "女", corrected, "", "", "5002290001", "巴山镇中心小学", "五年级", "1班", "在读"]]
    actor = world.users["county_staff"]
    batch = import_store(actor=actor, source="registry", upload=write_xlsx(tmp_path / "r2.xlsx", {"学籍": rows}), file_name="r2.xlsx")

    def meanwhile(done: int) -> None:  # after the first chunk: as another user's correction, committed meanwhile
        if done == 1:
            Child.objects.filter(pk=ma.pk).update(birth_date=corrected)

    summary = import_run(batch=batch, actor=actor, dry_run=False, on_progress=meanwhile)
    assert (summary["created"], summary["rejected"]) == (1, 0)  # 刘小军 only
    assert list(Child.objects.filter(name="马小梅").values_list("pk", flat=True)) == [ma.pk]


def test_a_child_without_an_id_added_with_a_student_number_is_found_by_name_chunks_later(world, tmp_path, monkeypatch):
    """A row that names a new child without an ID by name, birth date and 学籍号, then a later row (a later chunk)
    by name and birth date only: the same child, not a second one."""
    monkeypatch.setattr(prepare, "CHUNK", 1)
    header = registry_rows()[0]
    rows = [
        header,
        ["马晓梅", "女", B3, "", "L5002292025002", "5002290001", "巴山镇中心小学", "五年级", "1班", "在读"],
        ["马晓梅", "女", B3, "", "", "5002290001", "巴山镇中心小学", "五年级", "1班", "在读"],
    ]
    _, summary = run(world, "registry", write_xlsx(tmp_path / "r.xlsx", {"学籍": rows}))
    assert (summary["created"], summary["rejected"]) == (1, 0)
    assert Child.objects.filter(name="马晓梅", birth_date=B3).count() == 1


def test_a_new_child_from_the_disability_list_gets_every_column(world, tmp_path):
    """New children are written as plain rows, what they all share as constants: a disability federation row
    fills its own columns, the county and the time come from the import, the rest from the model's defaults."""
    number = compose_id_number("500229", dt.date(2013, 4, 1), 55)
    rows = [["姓名", "身份证号", "残疾类别", "残疾等级", "残疾证号"], ["田小雨", number, "智力残疾", "二级", "50022920130401'%s"]]
    _, summary = run(world, "disability", write_csv(tmp_path / "残联.csv", rows))
    assert summary["created"] == 1
    child = Child.objects.get(id_number=number)
    assert (child.health, child.disability_category, child.disability_grade, child.disability_certificate_no) == (
        Child.Health.DISABLED, "intellectual", 2, "50022920130401'%s")
    assert (child.county, child.gender, child.birth_date, child.current_school, child.current_address) == (
        world.county, "M", dt.date(2013, 4, 1), None, "")
    assert child.created_at == child.updated_at and abs((timezone.now() - child.created_at).total_seconds()) < 60
    assert child.provenance.get().fields and child.provenance.get().batch.source == "disability"


def test_a_new_child_from_a_list_without_disability_values_has_the_models_defaults_there(world, tmp_path):
    """A household list's new child binds only the columns a list can fill (apply.PERSON_WIDTH): the disability
    columns and the rest are the model's defaults, as the ORM would have written them."""
    number = compose_id_number("500229", dt.date(2013, 4, 1), 55)
    rows = [["姓名", "身份证号", "现住址"], ["田小雨", number, "县城滨河路8号"]]
    _, summary = run(world, "household", write_csv(tmp_path / "户籍.csv", rows))
    assert summary["created"] == 1
    row = Child.objects.filter(id_number=number).values().get()
    untouched = ["health", "disability_category", "disability_grade", "disability_certificate_no", "id_number_raw", "ethnicity",
                 "household_address", "current_school_id", "current_class_id", "current_division_id"]
    assert {c: row[c] for c in untouched} == {c: Child._meta.get_field(c.removesuffix("_id")).get_default() for c in untouched}
    assert (row["name"], row["current_address"], row["gender"], row["name_initials"]) == ("田小雨", "县城滨河路8号", "M", "txy")


def test_a_time_or_duration_cell_in_a_flagged_row_is_kept_as_it_reads(world, tmp_path):
    """Excel gives a time for a time cell (and for a date cell of 1900-01-01) and a duration for a duration: the
    row's issue keeps them as text, and the import is applied (it used to fail after writing, left "applying")."""
    import xlsxwriter

    path = tmp_path / "h.xlsx"
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet("花名册")
    sheet.write_row(0, 0, ["姓名", "性别", "出生日期", "公民身份号码", "备注"])
    sheet.write_row(1, 0, ["石一", None, B1.isoformat(), N1])  # no gender: flagged, read from the ID number
    sheet.write_datetime(1, 1, dt.time(8, 30), workbook.add_format({"num_format": "hh:mm"}))
    sheet.write_datetime(1, 4, dt.datetime(1900, 1, 1), workbook.add_format({"num_format": "yyyy-mm-dd"}))
    workbook.close()
    batch, summary = run(world, "household", path)
    batch.refresh_from_db()
    assert (batch.status, summary["created"]) == (ImportBatch.Status.APPLIED, 1)
    issue = batch.issues.get()
    assert issue.column == "性别" and issue.raw[1] == "08:30:00" and isinstance(issue.raw[4], str)


def test_a_class_written_with_a_circled_or_superscript_digit_does_not_fail_the_file(world, tmp_path):
    header = ["姓名", "性别", "出生日期", "身份证件号", "学校标识码", "学校名称", "年级", "班级", "学生状态"]
    rows = [header, ["石一", "女", B1.isoformat(), N1, "5002290001", "巴山镇中心小学", "三年级", "①班", "在读"],
            ["石二", "女", B2.isoformat(), N2, "5002290001", "巴山镇中心小学", "三年级", "3²班", "在读"]]
    batch, summary = run(world, "registry", write_csv(tmp_path / "r.csv", rows))
    assert batch.status == ImportBatch.Status.APPLIED and summary["rejected"] == 0


def test_an_id_number_typed_in_another_column_is_masked_in_the_summary_and_the_row_messages(world, tmp_path):
    typed = compose_id_number("500229", B3, 777)
    header = ["姓名", "性别", "民族", "出生日期", "公民身份号码", "监护人", "联系电话"]
    row = ["石一", "男", typed, B1.isoformat(), N1, "王" + typed, typed]
    batch, summary = run(world, "household", write_csv(tmp_path / "h.csv", [header, row]))
    batch.refresh_from_db()
    assert summary["created"] == 1 and len(summary["repairs"]) == 3  # 民族, 监护人 and 联系电话 dropped, each said
    shown = str(batch.summary) + str(list(RowIssue.objects.values_list("column", "message")))
    assert typed not in shown and f"{typed[:6]}********{typed[-4:]}" in shown


def test_characters_that_show_as_nothing_do_not_make_another_child(world, tmp_path):
    """A zero-width space, a byte-order mark, a word joiner or a soft hyphen copied into an ID number or a name."""
    known = world.children["a"]
    number = "\ufeff" + known.id_number[:6] + "\u2060" + known.id_number[6:]
    rows = [["姓名", "性别", "出生日期", "公民身份号码", "乡镇"],
            [known.name + "\u200b", "男", known.birth_date.isoformat(), number, "巴山镇"],
            ["石\u200c二", "女", B2.isoformat(), "", "巴山\u00ad镇"]]
    batch, summary = run(world, "household", write_csv(tmp_path / "z.csv", rows))
    assert (summary["created"], summary["rejected"]) == (1, 0)
    assert Child.objects.filter(name__startswith=known.name, birth_date=known.birth_date).count() == 1
    assert Child.objects.get(name="石二").household_division.name == "巴山镇"


def test_a_failure_saving_the_row_issues_after_the_file_is_in_still_says_what_happened(world, tmp_path, monkeypatch):
    """The row issues are saved after the import's transaction: a failure there must not leave the batch "applying"
    (and later "interrupted, nothing written", which would be false)."""
    from kongchuo.imports import services

    def failing(model, *args, **kwargs):
        if model is RowIssue and args[1]:
            raise RuntimeError("磁盘已满")

    monkeypatch.setattr(services, "insert_rows", failing)
    rows = [["姓名", "性别", "出生日期", "公民身份号码"], ["石一", "女", B1.isoformat(), N1]]  # the ID number says 男: flagged
    batch, summary = run(world, "household", write_csv(tmp_path / "h.csv", rows))
    batch.refresh_from_db()
    assert (batch.status, summary["created"], batch.issues.count()) == (ImportBatch.Status.APPLIED, 1, 0)
    assert "磁盘已满" in batch.message and Child.objects.filter(id_number=N1).exists()


def test_a_name_or_address_longer_than_its_column_is_refused_with_the_row_not_failed_by_the_database(world, tmp_path):
    """PostgreSQL refuses a value longer than its column: such a cell is the row's error, said, not a failed import."""
    rows = [["姓名", "性别", "出生日期", "公民身份号码", "户籍地址"],
            ["石" * 41, "男", B1.isoformat(), N1, "一组"],
            ["石二", "男", B2.isoformat(), N2, "巴山镇" + "一" * 198],
            ["石" * 40, "男", B3.isoformat(), N3, "巴山镇" + "一" * 197]]  # at the limits: kept
    batch, summary = run(world, "household", write_csv(tmp_path / "long.csv", rows), dry_run=True)
    assert batch.status == ImportBatch.Status.REJECTED and summary["rejected"] == 2
    refused = dict(batch.issues.filter(kind=RowIssue.Kind.REJECTED).values_list("row", "message"))
    assert refused == {2: "姓名过长（超过40个字）", 3: "户籍地址过长（201个字，上限200个）"}


def test_a_row_without_an_id_number_found_by_its_student_number_cannot_change_what_the_childs_number_says(world, tmp_path):
    """The child's ID number decides birth date and gender, whoever names the child: a later registry row without an
    ID number, found by its 学籍号, that gives another birth date or gender is flagged, not taken."""
    header = ["姓名", "性别", "出生日期", "身份证件号", "全国学籍号", "学校标识码", "学校名称", "年级", "班级", "学生状态"]
    school = ["5002290001", "巴山镇中心小学", "三年级", "1班", "在读"]
    run(world, "registry", write_csv(tmp_path / "r1.csv", [header, ["石一", "男", B1.isoformat(), N1, "G" + N1, *school]]))
    later = [header, ["石一", "女", "2013-05-17", "", "G" + N1, *school]]
    batch, summary = run(world, "registry", write_csv(tmp_path / "r2.csv", later))
    child = Child.objects.get(id_number=N1)
    assert (summary["created"], child.birth_date, child.gender) == (0, B1, "M")
    flags = list(batch.issues.values_list("column", "message"))
    assert ("出生日期", f"出生日期与该儿童证件号{N1[:6]}********{N1[-4:]}不一致，未采用（按证件号为{B1:%Y-%m-%d}）") in flags
    assert any(column == "性别" and "未采用（按证件号为男）" in message for column, message in flags)


def test_a_row_without_an_id_number_but_with_a_student_number_no_enrolment_has_is_the_child_of_its_name_and_birth_date(
    world, tmp_path
):
    """Found by neither ID number nor 学籍号 (a list of children studying elsewhere keeps no enrolment), such a row
    is the county's child of that name and birth date without an ID number, as a row without a 学籍号 is: the same
    list imported again adds no one, and the police list's child is the registry's."""
    header = ["姓名", "身份证号", "性别", "出生日期", "就读学校", "就读地", "全国学籍号"]
    row = ["石四", "", "男", "2014-02-03", "重庆市实验小学", "重庆市渝中区", "L50022920259"]
    for again in range(2):
        _, summary = run(world, "study-elsewhere", write_csv(tmp_path / f"s{again}.csv", [header, row]))
        assert summary["created"] == (0 if again else 1)
    assert Child.objects.filter(name="石四").count() == 1
    run(world, "household", write_csv(tmp_path / "h.csv", [["姓名", "性别", "出生日期"], ["石五", "女", "2014-02-03"]]))
    registry = ["姓名", "性别", "出生日期", "身份证件号", "全国学籍号", "学校标识码", "学校名称", "年级", "班级", "学生状态"]
    rows = [registry, ["石五", "女", "2014-02-03", "", "L50022920260", "5002290001", "巴山镇中心小学", "三年级", "1班", "在读"]]
    _, summary = run(world, "registry", write_csv(tmp_path / "r.csv", rows))
    assert summary["created"] == 0 and Child.objects.filter(name="石五").count() == 1


def test_two_pupils_without_id_numbers_of_one_name_and_birth_date_but_two_student_numbers_stay_two(world, tmp_path):
    header = ["姓名", "性别", "出生日期", "身份证件号", "全国学籍号", "学校标识码", "学校名称", "年级", "班级", "学生状态"]
    school = ["5002290001", "巴山镇中心小学", "三年级", "1班", "在读"]
    for number in ("L50022920261", "L50022920262", "L50022920261"):
        run(world, "registry", write_csv(tmp_path / f"{number}.csv", [header, ["石六", "男", "2014-02-03", "", number, *school]]))
    assert Child.objects.filter(name="石六").count() == 2



@pytest.mark.parametrize("every, expected", [(0, [(1, "导入"), (2, "导入"), (3, "导入"), (4, "导入"), (5, "导入"), (5, "收尾")]),
                                             (3600, [(1, "导入"), (5, "收尾")])])
def test_progress_is_written_for_the_first_chunk_then_at_most_every_so_often_and_before_the_end(
    world, tmp_path, monkeypatch, every, expected
):
    from kongchuo.imports import services

    monkeypatch.setattr(prepare, "CHUNK", 1)  # one chunk per row: five chunks
    monkeypatch.setattr(services, "PROGRESS_EVERY", every)
    written = []
    monkeypatch.setattr(services, "write_progress", lambda batch, **state: written.append((state["rows"], state["phase"])))
    rows = household_rows()
    extra = [[f"孙{n}", "男", "汉", "2015.3.5", compose_id_number("500229", B1, 500 + n), "", "巴山镇", "巴山村", "", ""] for n in range(2)]
    run(world, "household", household_file(tmp_path, rows[:5] + extra + rows[5:]))
    assert written == expected


@pytest.mark.parametrize("suffix", [".xlsx", ".xls"])
def test_cells_merged_down_over_a_townships_or_a_familys_rows_reach_every_row(world, tmp_path, suffix, monkeypatch):
    """A township and a village typed once and merged down over their children, a guardian and phone merged over a
    family's two: every child gets them, each filled cell noted as a repair; a title merged across stays a title,
    and a remark merged across two columns stays in its own."""
    from tests.imports_messy_files import write_merged_household

    monkeypatch.setattr(prepare, "CHUNK", 3)  # a range merged across two chunks
    batch, summary = run(world, "household", write_merged_household(tmp_path / f"合并{suffix}"))
    assert (summary["created"], summary["rejected"]) == (6, 0), list(batch.issues.values_list("row", "message"))
    places = {c.name: (c.township, c.household_division) for c in Child.objects.filter(name__in="周一 周二 吴三 郑四 王五 冯六".split())}
    assert places == {**{n: (world.township_a, world.village_a) for n in ("周一", "周二", "吴三", "郑四")},
                      **{n: (world.township_b, world.village_b) for n in ("王五", "冯六")}}
    guardians = {g.child.name: (g.name, g.phone) for g in Guardian.objects.filter(child__name__in=["周一", "周二", "冯六"])}
    assert guardians == {"周一": ("周大山", "13800001111"), "周二": ("周大山", "13800001111"), "冯六": ("冯强", "")}
    notes = {(r["column"], r["count"]) for r in summary["repairs"] if "合并单元格" in r["message"]}
    assert notes == {("乡镇(街道)", 4), ("村(社区)", 4), ("监护人", 1), ("联系电话", 1)}
    before = domain_state()
    _, again = run(world, "household", write_merged_household(tmp_path / f"again{suffix}"))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 6) and domain_state() == before


def test_a_file_stored_before_its_merged_cells_were_kept_is_searched_for_them_when_read(world, tmp_path):
    from tests.imports_messy_files import write_merged_household

    path = write_merged_household(tmp_path / "合并.xlsx")
    batch = import_store(actor=world.users["county_staff"], source="household", upload=path, file_name=path.name)
    assert [2, 5, 5, 5] in batch.merged_cells["0"]  # 巴山镇 over four children, found on upload
    ImportBatch.objects.filter(pk=batch.pk).update(merged_cells=None)  # as the migration leaves an older batch
    batch.refresh_from_db()
    summary = import_run(batch=batch, actor=world.users["county_staff"], dry_run=False)
    assert summary["created"] == 6
    assert Child.objects.get(name="郑四").township == world.township_a


def test_a_templates_row_numbers_below_the_rows_filled_in_are_blank_rows_not_children_without_a_name(world, tmp_path):
    """A county's template numbers its rows (序号) further down than the township filled it in, and merges the township's
    cell down over them all: those rows are skipped as blank, not refused (which would refuse the whole file)."""
    from tests.imports_messy_files import write_merged_household

    rows = household_rows()
    numbered = [rows[0], ["序号", *rows[1]], *[[n + 1, *row] for n, row in enumerate(rows[2:5])], [4], [5, "", " "], ["6"], *rows[5:]]
    batch, summary = run(world, "household", household_file(tmp_path, numbered))
    assert (summary["rows"], summary["created"], summary["rejected"]) == (3, 3, 0), list(batch.issues.values_list("row", "message"))

    path = write_merged_household(tmp_path / "合并.xlsx")
    import xlsxwriter  # the same list with two more numbered rows inside the township's merged cell, one blank between
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    workbook = xlsxwriter.Workbook(tmp_path / "template.xlsx")
    ws = workbook.add_worksheet("花名册")
    body = [*sheet[2:8], [7], [], [8]]
    for r, row in enumerate([*sheet[:2], *body]):
        for c, value in enumerate(row):
            if value not in ("", None):
                ws.write(r, c, value)
    ws.merge_range(2, 5, 10, 5, "巴山镇")  # down to the last numbered row
    ws.merge_range(2, 6, 5, 6, "巴山村")
    ws.merge_range(6, 6, 7, 6, "坪坝村")
    workbook.close()
    batch, summary = run(world, "household", tmp_path / "template.xlsx")
    assert (summary["created"], summary["rejected"]) == (6, 0), list(batch.issues.values_list("row", "message"))
    assert Child.objects.get(name="冯六").township == world.township_a  # the township's cell, merged down past them


def test_an_id_number_typed_into_a_header_row_is_masked_where_the_summary_shows_the_header(world, tmp_path, client):
    """A two-row header whose lower row has an ID number under 备注: the batch's summary names the columns masked,
    in the page's column choices too, and the file still imports."""
    rows = [["姓名", "性别", "出生日期", "身份证号", "监护人", "", "备注"],
            ["", "", "", "", "姓名", "电话", N2],
            ["刘小军", "男", "2015.3.5", N1, "刘大军", "13800001111", ""]]
    batch, summary = run(world, "household", write_xlsx(tmp_path / "a.xlsx", {"s": rows}), dry_run=True)
    assert summary["created"] == 1 and summary["sheets"][0]["header_rows"] == [1, 2]
    assert N2 not in json.dumps(summary, ensure_ascii=False)
    assert f"备注{N2[:6]}" in summary["sheets"][0]["labels"][-1]  # masked as everywhere: the first six digits kept
    client.force_login(world.users["county_staff"])
    page = client.get(reverse("import_detail", args=[batch.pk])).content.decode()
    assert N2 not in page and "监护人电话" in page


def test_the_list_of_imports_does_not_load_each_batchs_merged_cells(world, tmp_path, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.imports_messy_files import write_merged_household

    run(world, "household", write_merged_household(tmp_path / "合并.xlsx"), dry_run=True)
    client.force_login(world.users["county_staff"])
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("import_list")).status_code == 200
    listing = [q["sql"] for q in queries if "imports_importbatch" in q["sql"] and "SELECT" in q["sql"]]
    assert listing and not any("merged_cells" in sql for sql in listing)
