"""Registry exports imported again change nothing whatever their statuses; department lists' real 类别 words
(智力 without 残疾, the three kinds of 防止返贫监测对象, the civil-affairs groups) are understood; a department row
with neither ID number nor gender joins the one child of that name and birth date."""

import datetime as dt
import json

import pytest
from django.core.management import call_command

from kongchuo.core.choices import Source
from kongchuo.core.masking import mask_id_number
from kongchuo.demo.generator import generate
from kongchuo.demo.lists import write_lists
from kongchuo.demo.loader import load_places
from kongchuo.enrolments.models import Enrolment, StatusChange
from kongchuo.imports import apply, prepare
from kongchuo.imports.apply import group_of
from kongchuo.imports.models import ImportBatch, RowIssue
from kongchuo.imports.services import import_run, import_store
from kongchuo.people.identity import compose_id_number
from kongchuo.people.models import Child, GroupMembership
from tests.imports_messy_files import write_csv, write_xlsx
from tests.test_imports import domain_state


def run(world, source, path):
    actor = world.users["county_staff"]
    batch = import_store(actor=actor, source=source, upload=path, file_name=path.name)
    return batch, import_run(batch=batch, actor=actor, dry_run=False)


def counts():
    return Enrolment.objects.count(), StatusChange.objects.count()


def enrolment_state():
    return list(Enrolment.objects.order_by("pk").values()), list(StatusChange.objects.order_by("pk").values_list("pk", flat=True))


def outcome(summary):
    return summary["created"], summary["updated"], summary["unchanged"], summary["rejected"]


NAMES = "赵一凡 钱小雨 孙浩然 李思琪 周子涵 吴俊杰 郑雨桐 王梓萱 冯宇航 陈欣怡 褚明轩 卫诗涵 蒋天佑 沈语嫣 韩一鸣 杨若曦".split()


def person(order, birth=dt.date(2014, 1, 4)):
    number = compose_id_number("500229", birth, order)
    return number, "G" + number


# --- registry: importing the same export again ----------------------------------------------------

REGISTRY_HEADER = ["姓名", "性别", "出生日期", "身份证件号", "全国学籍号", "学校标识码", "年级", "班级", "学生状态"]
GRADUATE = ["丙丙", "男", "2014-01-04", "50022920140104303X", "G50022920140104303X", "5002290001", "六年级", "1班", "毕业"]


def test_a_graduate_imported_three_times_is_one_enrolment(world, tmp_path):
    _, first = run(world, "registry", write_csv(tmp_path / "r0.csv", [REGISTRY_HEADER, GRADUATE]))
    assert outcome(first) == (1, 0, 0, 0)
    before = counts()
    for n in (1, 2):
        _, summary = run(world, "registry", write_csv(tmp_path / f"r{n}.csv", [REGISTRY_HEADER, GRADUATE]))
        assert outcome(summary) == (0, 0, 1, 0)
    assert counts() == before
    e = Enrolment.objects.get(child__id_number="50022920140104303X")
    assert (e.school, e.grade, e.status) == (world.school_a, 6, "graduated")
    assert list(e.history.values_list("from_status", "to_status")) == [("", "graduated")]


def messy_registry(order_of_rows=None):
    """A county's export: a title and a footer, 学校标识码 as numbers, grades, classes and statuses as typed, no
    gender or birth date (the ID has them), and the statuses that close an enrolment (毕业, 转出, 死亡)."""
    names = {301: "甲一", 302: "乙二", 303: "丙三", 304: "丁四", 305: "戊五", 306: "己六", 307: "庚七"}
    rows = [
        (301, "5002290001", "六年级", "(1)班", "毕业"),
        (302, "5002290001", "四年级", "2班", "转出"),
        (302, 5002290002.0, "4", "1班", "转入"),  # …into the other school
        (303, "5002290002", "三年级", "", "死亡"),
        (304, "5002290001", "三年级", "1班", "转出"),  # left and came back: two stints at one school
        (304, "5002290001", "五年级", "1班", "在读 "),
        (305, "5002290002", "5年级", "一班", "休学"),
        (306, "5002290001", "五年级", "", "辍学"),
        (307, "5002290002", "二年级", "3班", "正常"),
    ]
    body = [[names[order], "", "", *person(order), school, grade, klass, status] for order, school, grade, klass, status in rows]
    if order_of_rows:
        body = [body[i] for i in order_of_rows]
    return [["城口县义务教育阶段学生学籍信息（导出）"], REGISTRY_HEADER, *body, [], ["制表人：王老师", "", "审核人：李校长"]]


@pytest.mark.parametrize("chunk", [2000, 1], ids=["one chunk", "a chunk per row"])
@pytest.mark.parametrize("order_of_rows", [None, [5, 4, 0, 1, 2, 3, 6, 7, 8]], ids=["closed first", "open first"])
def test_a_messy_registry_export_imported_again_changes_nothing(world, tmp_path, monkeypatch, chunk, order_of_rows):
    monkeypatch.setattr(prepare, "CHUNK", chunk)
    batch, first = run(world, "registry", write_xlsx(tmp_path / "r1.xlsx", {"学籍": messy_registry(order_of_rows)}))
    assert outcome(first) == (7, 2, 0, 0), list(batch.issues.values_list("row", "message"))
    assert Enrolment.objects.count() == 9 + 4  # one per row, beside the world's own
    ding = Child.objects.get(name="丁四")
    assert sorted(ding.enrolments.values_list("grade", "status")) == [(3, "transferred_out"), (5, "enrolled")]
    assert ding.current_school == world.school_a
    before = enrolment_state()
    for n in (2, 3):
        batch, summary = run(world, "registry", write_xlsx(tmp_path / f"r{n}.xlsx", {"学籍": messy_registry(order_of_rows)}))
        assert outcome(summary) == (0, 0, 9, 0), list(batch.issues.values_list("row", "message"))
        assert enrolment_state() == before
        assert not batch.issues.filter(kind=RowIssue.Kind.FLAGGED).exists()


def test_a_registered_pupil_who_graduates_keeps_one_enrolment(world, tmp_path):
    a = world.children["a"]  # 在读, grade 3, at school A
    row = [a.name, "男", "", a.id_number, "G" + a.id_number, "5002290001", "三年级", "1班", "毕业"]
    before = counts()
    for n in (1, 2):
        run(world, "registry", write_csv(tmp_path / f"r{n}.csv", [REGISTRY_HEADER, row]))
    assert counts() == (before[0], before[1] + 1)
    assert list(a.enrolments.get().history.values_list("from_status", "to_status")) == [("", "enrolled"), ("enrolled", "graduated")]


def test_a_closed_enrolment_given_another_closed_status_is_corrected_with_history_and_flagged(world, tmp_path):
    run(world, "registry", write_csv(tmp_path / "r1.csv", [REGISTRY_HEADER, GRADUATE]))
    corrected = [*GRADUATE[:-1], "转出"]
    batch, summary = run(world, "registry", write_csv(tmp_path / "r2.csv", [REGISTRY_HEADER, corrected]))
    assert outcome(summary) == (0, 1, 0, 0)
    e = Enrolment.objects.get(child__name="丙丙")
    assert list(e.history.values_list("from_status", "to_status")) == [("", "graduated"), ("graduated", "transferred_out")]
    assert "不符合正常变动流程" in batch.issues.get(kind=RowIssue.Kind.FLAGGED).message
    _, summary = run(world, "registry", write_csv(tmp_path / "r3.csv", [REGISTRY_HEADER, corrected]))
    assert outcome(summary) == (0, 0, 1, 0)


def test_a_child_back_at_a_school_it_left_is_a_new_enrolment_beside_the_old_one(world, tmp_path):
    """转出 closes an enrolment for good (TRANSITIONS lets nothing out of it): coming back is a re-entry, a
    new enrolment, the closed one kept as history — as enrolment_create does it by hand."""
    number, nsn = person(401)
    left = ["壬八", "男", "", number, nsn, "5002290001", "四年级", "2班", "转出"]
    run(world, "registry", write_csv(tmp_path / "r1.csv", [REGISTRY_HEADER, left]))
    child = Child.objects.get(id_number=number)
    old = child.enrolments.get()
    assert child.current_school is None
    back = ["壬八", "男", "", number, nsn, "5002290001", "五年级", "1班", "在读"]
    batch, summary = run(world, "registry", write_csv(tmp_path / "r2.csv", [REGISTRY_HEADER, back]))
    assert outcome(summary) == (0, 1, 0, 0) and not batch.issues.exists()
    new = child.enrolments.exclude(pk=old.pk).get()
    old.refresh_from_db()
    assert (old.status, old.grade, new.status, new.grade) == ("transferred_out", 4, "enrolled", 5)
    assert list(new.history.values_list("from_status", "to_status")) == [("", "enrolled")]
    assert list(old.history.values_list("from_status", "to_status")) == [("", "transferred_out")]
    child.refresh_from_db()
    assert (child.current_school, child.current_class.grade) == (world.school_a, 5)
    before = enrolment_state()
    _, summary = run(world, "registry", write_csv(tmp_path / "r3.csv", [REGISTRY_HEADER, back]))
    assert outcome(summary) == (0, 0, 1, 0) and enrolment_state() == before
    # The next export lists both stints; the 转出 row does not close the stint the child is in now.
    _, summary = run(world, "registry", write_csv(tmp_path / "r4.csv", [REGISTRY_HEADER, back, left]))
    assert outcome(summary) == (0, 0, 2, 0) and enrolment_state() == before


def test_a_child_back_at_a_school_who_leaves_again_in_the_same_grade_is_closed(world, tmp_path):
    """转出 in grade 4, back (在读, grade 4: a new enrolment), then 转出 in grade 4 again: the row closes the stint
    the child is in, not the old one it repeats word for word. Importing that file again changes nothing."""
    number, nsn = person(404)
    left = ["丑十一", "女", "", number, nsn, "5002290001", "四年级", "2班", "转出"]
    back = [*left[:-1], "在读"]
    run(world, "registry", write_csv(tmp_path / "r1.csv", [REGISTRY_HEADER, left]))
    run(world, "registry", write_csv(tmp_path / "r2.csv", [REGISTRY_HEADER, back]))
    child = Child.objects.get(id_number=number)
    old, stint = child.enrolments.order_by("pk")
    batch, summary = run(world, "registry", write_csv(tmp_path / "r3.csv", [REGISTRY_HEADER, left]))
    assert outcome(summary) == (0, 1, 0, 0) and not batch.issues.exists()
    assert list(child.enrolments.order_by("pk").values_list("pk", "grade", "status")) == [
        (old.pk, 4, "transferred_out"),
        (stint.pk, 4, "transferred_out"),
    ]
    assert list(stint.history.values_list("from_status", "to_status")) == [("", "enrolled"), ("enrolled", "transferred_out")]
    child.refresh_from_db()
    assert child.current_school is None
    before = enrolment_state()
    _, summary = run(world, "registry", write_csv(tmp_path / "r4.csv", [REGISTRY_HEADER, left]))
    assert outcome(summary) == (0, 0, 1, 0) and enrolment_state() == before


@pytest.mark.parametrize(
    "chunk, closed_first",
    [(2000, True), (2000, False), (1, False), (1, True)],
    ids=["one chunk, closed first", "one chunk, open first", "a chunk per row, open first", "a chunk per row, closed first"],
)
def test_an_export_listing_both_stints_in_one_grade_changes_nothing(world, tmp_path, monkeypatch, chunk, closed_first):
    """The export after the child came back lists the old 转出 row beside the 在读 one, in the same grade: the 转出
    row is the old stint's history, not a second leaving."""
    number, nsn = person(405)
    left = ["寅十二", "男", "", number, nsn, "5002290001", "四年级", "2班", "转出"]
    back = [*left[:-1], "在读"]
    run(world, "registry", write_csv(tmp_path / "r1.csv", [REGISTRY_HEADER, left]))
    run(world, "registry", write_csv(tmp_path / "r2.csv", [REGISTRY_HEADER, back]))
    before = enrolment_state()
    monkeypatch.setattr(prepare, "CHUNK", chunk)
    rows = [left, back] if closed_first else [back, left]
    for n in (3, 4):
        batch, summary = run(world, "registry", write_csv(tmp_path / f"r{n}.csv", [REGISTRY_HEADER, *rows]))
        assert outcome(summary) == (0, 0, 2, 0) and not batch.issues.exists()
        assert enrolment_state() == before


def test_both_stints_on_two_sheets_closed_first_imported_again_change_nothing(world, tmp_path):
    """A school's export with a sheet of pupils who left (转出) before the sheet of those enrolled (在读), one child on
    both in one grade: the 转出 row is the earlier stint, written after the 在读 rows (sources.closes_a_stint) however
    far above them it stands. It neither closes the stint the child is in nor adds one on each import."""
    number, nsn = person(406)
    left = ["卯十三", "女", "", number, nsn, "5002290001", "四年级", "2班", "转出"]
    back = [*left[:-1], "在读"]
    other_number, other_nsn = person(407)
    other = ["辰十四", "男", "", other_number, other_nsn, "5002290001", "四年级", "1班", "在读"]
    sheets = {"转出学生": [REGISTRY_HEADER, left], "在读学生": [REGISTRY_HEADER, other, back]}
    batch, summary = run(world, "registry", write_xlsx(tmp_path / "r1.xlsx", sheets))
    assert outcome(summary) == (2, 1, 0, 0) and not batch.issues.exists()  # the 转出 row adds its stint to the child
    child = Child.objects.get(id_number=number)
    assert sorted(child.enrolments.values_list("grade", "status")) == [(4, "enrolled"), (4, "transferred_out")]
    assert child.current_school == world.school_a
    before = enrolment_state()
    for n in (2, 3):
        batch, summary = run(world, "registry", write_xlsx(tmp_path / f"r{n}.xlsx", sheets))
        assert outcome(summary) == (0, 0, 3, 0) and not batch.issues.exists()
        assert enrolment_state() == before

@pytest.mark.parametrize("chunk", [2000, 1], ids=["one chunk", "a chunk per row"])
@pytest.mark.parametrize("numbered_first", [True, False], ids=["with 学籍号 first", "without first"])
def test_a_pupil_without_id_number_listed_with_and_without_a_student_number_is_one_child(world, tmp_path, monkeypatch, chunk,
                                                                                         numbered_first):
    """Two rows of one pupil without an ID number, one with the 学籍号 and one without (a class list pasted under
    the export): one child, whether the rows share a chunk or not, in either order. A namesake born the same
    day with another 学籍号 is another pupil."""
    monkeypatch.setattr(prepare, "CHUNK", chunk)
    nsn, other_nsn = (person(order, dt.date(2016, 5, 6))[1] for order in (602, 698))
    numbered = ["巳十五", "女", "2016-05-06", "", nsn, "5002290001", "三年级", "1班", "在读"]
    bare = [*numbered[:4], "", *numbered[5:]]
    other = [*numbered[:4], other_nsn, "5002290001", "三年级", "2班", "在读"]
    rows = [numbered, bare, other] if numbered_first else [bare, numbered, other]
    batch, summary = run(world, "registry", write_csv(tmp_path / "r1.csv", [REGISTRY_HEADER, *rows]))
    assert (summary["created"], summary["rejected"]) == (2, 0), list(batch.issues.values_list("row", "message"))
    pupils = Child.objects.filter(name="巳十五").order_by("pk")
    assert [sorted(c.enrolments.values_list("national_student_number", flat=True)) for c in pupils] == [[nsn], [other_nsn]]
    # The row without the 学籍号 and the row with it state one enrolment: no contradiction to flag, in either order.
    assert not batch.issues.filter(message__contains="内容不一致").exists()
    before = enrolment_state(), list(Child.objects.order_by("pk").values_list("pk", "name"))
    _, summary = run(world, "registry", write_csv(tmp_path / "r2.csv", [REGISTRY_HEADER, *rows]))
    assert (summary["created"], summary["updated"]) == (0, 0)
    assert (enrolment_state(), list(Child.objects.order_by("pk").values_list("pk", "name"))) == before


def test_a_child_recorded_dead_and_enrolled_again_is_flagged(world, tmp_path):
    number, nsn = person(402)
    run(
        world, "registry", write_csv(tmp_path / "r1.csv", [REGISTRY_HEADER, ["癸九", "女", "", number, nsn, "5002290002", "3", "", "死亡"]])
    )
    batch, summary = run(
        world, "registry", write_csv(tmp_path / "r2.csv", [REGISTRY_HEADER, ["癸九", "女", "", number, nsn, "5002290002", "3", "", "在读"]])
    )
    assert summary["updated"] == 1 and "死亡" in batch.issues.get(kind=RowIssue.Kind.FLAGGED).message


def test_two_rows_contradicting_each_other_on_one_enrolment_keep_the_first(world, tmp_path):
    number, nsn = person(403)
    rows = [
        REGISTRY_HEADER,
        ["子十", "男", "", number, nsn, "5002290001", "五年级", "1班", "在读"],
        ["子十", "男", "", number, nsn, "5002290001", "五年级", "1班", "休学"],
    ]
    before = counts()
    for n in (1, 2):
        batch, _ = run(world, "registry", write_csv(tmp_path / f"r{n}.csv", rows))
        assert "已按第2行处理" in batch.issues.get(row=3).message
    assert counts() == (before[0] + 1, before[1] + 1)
    assert Enrolment.objects.get(child__id_number=number).status == "enrolled"


def test_the_demo_countys_registry_export_imported_again_changes_nothing(db, tmp_path, capsys):
    ds = generate(seed=11, scale=0.03, as_of=dt.date(2026, 11, 23))
    load_places(ds)
    paths = write_lists(ds, tmp_path / "lists")

    def imported(source):
        call_command("import", source, str(paths[source]), "--json")
        return json.loads(capsys.readouterr().out)

    imported("schools")
    imported("household")
    first = imported("registry")
    before = enrolment_state()
    again = imported("registry")
    assert first["rejected"] == 0 and Enrolment.objects.filter(status="graduated").exists()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, first["rows"])
    assert enrolment_state() == before


# --- department lists' categories -----------------------------------------------------------------

DISABILITY_WORDS = {
    "智力": "intellectual",
    "视力": "visual",
    "听力": "hearing",
    "肢体": "physical",
    "言语": "speech",
    "精神": "mental",
    "多重": "multiple",
    "肢体残疾": "physical",
    "智残": "intellectual",
    "聋哑": "hearing",
    "5": "intellectual",  # the category's code, as in the 19th character of the 残疾人证号
    "精 神": "mental",
}


def test_the_disability_federations_categories_need_not_say_disabled(world, tmp_path):
    header = ["序号", "姓名", "身份证号", "残疾类别", "残疾等级", "残疾证号"]
    rows, wanted = [["城口县残疾儿童少年名单（残联）"], header], {}
    for n, (word, code) in enumerate(DISABILITY_WORDS.items()):
        number = compose_id_number("500229", dt.date(2013, 5, 1), 500 + n)
        rows.append([n + 1, NAMES[n], number, f" {word} ", "二级" if n % 2 else "3", ""])
        wanted[number] = (code, 2 if n % 2 else 3)
    rows.append(["制表人：县残联", "", "", "联系人：李四", "", ""])
    batch, summary = run(world, "disability", write_csv(tmp_path / "残联.csv", rows, encoding="gbk"))
    assert batch.status == ImportBatch.Status.APPLIED, list(batch.issues.values_list("row", "message"))
    assert (summary["created"], summary["rejected"]) == (len(DISABILITY_WORDS), 0)
    got = {c.id_number: (c.disability_category, c.disability_grade) for c in Child.objects.filter(id_number__in=wanted)}
    assert got == wanted
    assert set(Child.objects.filter(id_number__in=wanted).values_list("health", flat=True)) == {Child.Health.DISABLED}
    groups = GroupMembership.objects.filter(child__id_number__in=wanted).values_list("group", "source")
    assert set(groups) == {("disabled", Source.DISABILITY)} and len(groups) == len(wanted)


def test_a_grade_given_with_the_category_is_read(world, tmp_path):
    number = compose_id_number("500229", dt.date(2013, 5, 1), 600)
    rows = [["姓名", "身份证号", "残疾类别"], ["田小雨", number, "肢体二级"]]
    run(world, "disability", write_csv(tmp_path / "残联.csv", rows))
    assert Child.objects.filter(id_number=number).values_list("disability_category", "disability_grade").get() == ("physical", 2)


def test_a_disability_list_category_naming_no_disability_is_still_refused(world, tmp_path):
    """An unknown word may mean another department's list was loaded as the federation's: refused, not
    every child on it made disabled."""
    number = compose_id_number("500229", dt.date(2013, 5, 1), 601)
    batch, summary = run(
        world, "disability", write_csv(tmp_path / "残联.csv", [["姓名", "身份证号", "残疾类别"], ["田小雨", number, "低保"]])
    )
    assert summary["rejected"] == 1 and "无法识别" in batch.issues.get().message and "智力" in batch.issues.get().message


RURAL_WORDS = {
    "脱贫户": "poverty_registered",
    "建档立卡贫困户": "poverty_registered",
    "稳定脱贫户": "poverty_registered",
    "脱贫不稳定户": "monitored_household",
    "边缘易致贫户": "monitored_household",
    "突发严重困难户": "monitored_household",
    "防止返贫监测对象": "monitored_household",
    "监测户": "monitored_household",
    "突发 严重困难户": "monitored_household",
}
CIVIL_WORDS = {
    "特困供养": "extreme_poverty_support",
    "分散供养特困人员": "extreme_poverty_support",
    "农村五保供养": "extreme_poverty_support",
    "低保": "minimum_living_allowance",
    "农村低保户": "minimum_living_allowance",
    "最低生活保障对象": "minimum_living_allowance",
    "孤儿": "orphan",
    "社会散居孤儿": "orphan",
    "事实无人抚养儿童": "de_facto_unsupported",
    "事实无人抚养": "de_facto_unsupported",
    "事实孤儿": "de_facto_unsupported",  # the former name: not an orphan
    "困境儿童": "child_in_difficulty",
    "留守儿童": "left_behind",
    "农村留守儿童": "left_behind",
    "单亲家庭": "single_parent",
}


@pytest.mark.parametrize(
    "source, words, encoding",
    [("rural-revitalisation", RURAL_WORDS, "utf-8-sig"), ("civil-affairs", CIVIL_WORDS, "gb18030")],
    ids=["rural-revitalisation", "civil-affairs"],
)
def test_department_list_categories_give_the_right_group(world, tmp_path, source, words, encoding):
    header = ["序号", "户主姓名", "姓名", "身份证号", "户类型" if source == "rural-revitalisation" else "救助类别"]
    rows, wanted = [header], {}
    for n, (word, group) in enumerate(words.items()):
        number = compose_id_number("500229", dt.date(2012, 9, 9), 700 + n)
        rows.append([n + 1, "户主" + NAMES[n][0], NAMES[n], number, word])
        wanted[number] = group
    batch, summary = run(world, source, write_csv(tmp_path / "list.csv", rows, encoding=encoding))
    assert (summary["created"], summary["rejected"]) == (len(words), 0), list(batch.issues.values_list("row", "message"))
    got = dict(GroupMembership.objects.filter(child__id_number__in=wanted).values_list("child__id_number", "group"))
    assert got == wanted


@pytest.mark.parametrize(
    "category, source, group",
    [(w, Source.DISABILITY, "disabled") for w in DISABILITY_WORDS]
    + [(w, Source.RURAL_REVITALISATION, g) for w, g in RURAL_WORDS.items()]
    + [(w, Source.CIVIL_AFFAIRS, g) for w, g in CIVIL_WORDS.items()]
    + [("低保", Source.RURAL_REVITALISATION, None), ("脱贫户", Source.CIVIL_AFFAIRS, None), ("外星人", Source.DISABILITY, None)]
    # 低保边缘家庭 is no 低保 (and no rural monitored household): no group, the row refused.
    + [(w, s, None) for w in ("低保边缘家庭", "低保边缘户", "低边户") for s in (Source.CIVIL_AFFAIRS, Source.RURAL_REVITALISATION)],
)
def test_group_of(category, source, group):
    assert group_of(category, source) == group


def test_a_household_just_above_the_minimum_living_line_is_refused_not_filed_as_minimum_living(world, tmp_path):
    number = compose_id_number("500229", dt.date(2012, 9, 9), 750)
    rows = [["姓名", "身份证号", "救助类别"], ["辰十四", number, "低保边缘家庭"]]
    batch, summary = run(world, "civil-affairs", write_csv(tmp_path / "民政.csv", rows))
    assert summary["rejected"] == 1 and not GroupMembership.objects.filter(child__id_number=number).exists()
    refused = batch.issues.get()
    assert refused.column == "救助类别" and "低保边缘家庭" in refused.message and "无法识别" in refused.message


# --- a department row without ID number or gender -------------------------------------------------

CIVIL_HEADER = ["姓名", "出生日期", "类别"]
YI_BIRTH = dt.date(2012, 8, 9)


def brought_by_the_police(world, tmp_path, *orders):
    """Children named 乙四, born 2012-08-09, each with a valid ID number, as the household list brings them."""
    rows = [["姓名", "性别", "出生日期", "公民身份号码"]]
    rows += [["乙四", "", "2012-08-09", compose_id_number("500229", YI_BIRTH, order)] for order in orders]
    _, summary = run(world, "household", write_csv(tmp_path / "户籍.csv", rows))
    assert summary["created"] == len(orders)
    return [r[3] for r in rows[1:]]


def test_a_row_without_id_or_gender_joins_the_one_child_of_that_name_and_birth_date(world, tmp_path):
    (number,) = brought_by_the_police(world, tmp_path, 801)
    child = Child.objects.get(id_number=number)
    batch, summary = run(world, "civil-affairs", write_csv(tmp_path / "民政.csv", [CIVIL_HEADER, ["乙四", "2012-08-09", "低保"]]))
    assert (summary["created"], summary["updated"], summary["rejected"], summary["pending_ids"]) == (0, 1, 0, 1)
    assert Child.objects.filter(name="乙四").count() == 1
    assert list(child.groups.values_list("group", "source")) == [("minimum_living_allowance", Source.CIVIL_AFFAIRS)]
    flag = batch.issues.get().message
    assert flag.startswith("证件号待核正") and mask_id_number(number) in flag and number not in flag
    child.refresh_from_db()
    assert (child.id_number_status, child.gender) == (Child.IdStatus.VALID, "M")  # as the police list gave them
    _, summary = run(world, "civil-affairs", write_csv(tmp_path / "民政2.csv", [CIVIL_HEADER, ["乙四", "2012-08-09", "低保"]]))
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 1)


@pytest.mark.parametrize("chunk", [2000, 1], ids=["one chunk", "a chunk a row"])
@pytest.mark.parametrize("bare_first", [True, False], ids=["without ID first", "with ID first"])
def test_a_row_without_id_or_gender_joins_the_child_another_row_of_the_same_list_adds(world, tmp_path, monkeypatch, chunk, bare_first):
    """A civil-affairs list gives 乙四 twice: once with ID number and gender, once under another category without
    (and with an address). Whichever comes first, however the file is cut into chunks, the bare row joins the child
    the other adds, as the repeat of that row; and the same file imported again changes nothing and says the same."""
    monkeypatch.setattr(prepare, "CHUNK", chunk)
    monkeypatch.setattr(apply, "LOOKUP_BATCH", chunk)  # look-ups of one name at a time find the same
    number = compose_id_number("500229", YI_BIRTH, 811)
    full, bare = ["乙四", "2012-08-09", "低保", number, "男", ""], ["乙四", "2012-08-09", "孤儿", "", "", "巴山村三组"]
    rows = [["姓名", "出生日期", "类别", "身份证号", "性别", "现住址"], *([bare, full] if bare_first else [full, bare])]
    batch, summary = run(world, "civil-affairs", write_csv(tmp_path / "民政.csv", rows))
    assert (summary["created"], summary["rejected"], summary["pending_ids"]) == (1, 0, 1)
    child = Child.objects.get(name="乙四")
    assert (child.id_number, child.gender, child.current_address) == (number, "M", "")  # a repeat: its address not taken
    assert set(child.groups.values_list("group", flat=True)) == {"minimum_living_allowance", "orphan"}
    full_row, bare_row = (3, 2) if bare_first else (2, 3)
    flags = sorted(batch.issues.filter(row=bare_row).values_list("message", flat=True))
    assert flags[0] == f"与第{full_row}行为同一人，已按第{full_row}行处理"
    assert flags[1].startswith("证件号待核正") and mask_id_number(number) in flags[1]

    before = domain_state()
    again, summary = run(world, "civil-affairs", write_csv(tmp_path / "民政2.csv", rows))
    assert (summary["created"], summary["updated"], summary["rejected"]) == (0, 0, 0) and domain_state() == before
    said = list(again.issues.values_list("row", "message"))
    assert said == list(batch.issues.values_list("row", "message")) and said[0][0] == bare_row  # in file order


def test_a_held_row_that_joins_a_child_of_another_sheet_says_which_and_the_report_keeps_the_files_order(world, tmp_path):
    header = ["姓名", "出生日期", "类别", "身份证号", "性别"]
    yi, ding = compose_id_number("500229", YI_BIRTH, 811), compose_id_number("500229", dt.date(2013, 1, 2), 813)
    sheets = {
        "一镇": [header, ["乙四", "2012-08-09", "孤儿", "", ""], ["丁六", "2013-01-02", "低保", ding, "男"],
                 ["丁七", "2013-01-03", "低保", "", "男"]],  # no ID number, a gender: added, flagged 证件号待核正
        "二镇": [header, ["乙四", "2012-08-09", "低保", yi, "男"]],
    }
    batch, summary = run(world, "civil-affairs", write_xlsx(tmp_path / "民政.xlsx", sheets))
    assert (summary["created"], summary["rejected"]) == (3, 0)
    said = list(batch.issues.values_list("sheet", "row", "message"))
    assert [(sheet, row) for sheet, row, _ in said] == [("一镇", 2), ("一镇", 2), ("一镇", 4)]  # the held row in its place
    assert "与工作表“二镇”第2行为同一人，已按工作表“二镇”第2行处理" in [m for _, _, m in said]


@pytest.mark.parametrize("bare_first", [True, False], ids=["without ID first", "with ID first"])
def test_a_registry_row_without_id_or_gender_found_by_its_student_number_is_the_repeat_of_the_full_row(world, tmp_path, bare_first):
    """Both rows of one child in a registry export, one without ID number and gender: found through its 学籍号, the
    bare row is taken as the other row's child met again (its address not taken, whichever comes first), and the
    file imported again changes nothing (it merged the bare row's address the second time, and back the third)."""
    number = compose_id_number("500229", YI_BIRTH, 811)
    header = ["姓名", "性别", "出生日期", "身份证件号", "全国学籍号", "学校标识码", "学校名称", "年级", "班级", "学生状态", "现住址"]
    full = ["乙四", "男", "2012-08-09", number, "G" + number, "5002290001", "巴山镇中心小学", "五年级", "1班", "在读", "巴山村三组"]
    bare = [*full[:1], "", full[2], "", *full[4:10], "巴山村五组"]
    rows = [header, bare, full] if bare_first else [header, full, bare]
    batch, summary = run(world, "registry", write_csv(tmp_path / "学籍.csv", rows))
    assert (summary["created"], summary["rejected"]) == (1, 0)
    child = Child.objects.get(name="乙四")
    assert (child.current_address, child.enrolments.count()) == ("巴山村三组", 1)
    before = domain_state()
    again, summary = run(world, "registry", write_csv(tmp_path / "学籍2.csv", rows))
    assert (summary["created"], summary["updated"]) == (0, 0) and domain_state() == before
    assert list(again.issues.values_list("row", "message")) == list(batch.issues.values_list("row", "message"))


def test_a_row_that_states_an_enrolment_another_sheet_stated_differently_names_that_sheet(world, tmp_path):
    number, other = compose_id_number("500229", YI_BIRTH, 811), compose_id_number("500229", dt.date(2012, 2, 3), 831)
    header = ["姓名", "性别", "出生日期", "身份证件号", "全国学籍号", "学校标识码", "学校名称", "年级", "班级", "学生状态"]
    bare = ["乙四", "", "2012-08-09", "", "G" + number, "5002290001", "巴山镇中心小学", "五年级", "1班", "在读"]  # held to the end
    full = ["乙四", "男", "2012-08-09", number, "G" + number, "5002290001", "巴山镇中心小学", "五年级", "2班", "在读"]
    ding = ["丁六", "女", "2012-02-03", other, "G" + other, "5002290001", "巴山镇中心小学", "五年级", "1班", "在读"]
    batch, _ = run(world, "registry", write_xlsx(tmp_path / "学籍.xlsx", {"一镇": [header, bare, ding], "二镇": [header, ding, full]}))
    said = batch.issues.get(sheet="一镇", row=2, message__contains="同一学籍").message
    assert said == "与工作表“二镇”第3行为该生在巴山镇中心小学的同一学籍而内容不一致，已按工作表“二镇”第3行处理，请核实"


def test_a_held_registry_row_found_by_its_student_number_stays_with_that_child_among_namesakes(world, tmp_path):
    """Two pending children 乙四 born the same day: one from a civil-affairs list, one from the registry with its
    学籍号. A registry row without gender and ID names the second by that number, not the first by name."""
    civil = [["姓名", "出生日期", "类别", "性别"], ["乙四", "2012-08-09", "低保", "男"]]
    run(world, "civil-affairs", write_csv(tmp_path / "民政.csv", civil))
    header = ["姓名", "性别", "出生日期", "身份证件号", "全国学籍号", "学校标识码", "学校名称", "年级", "班级", "学生状态"]
    row = ["乙四", "男", "2012-08-09", "", "L5002292012080911", "5002290001", "巴山镇中心小学", "五年级", "1班", "在读"]
    run(world, "registry", write_csv(tmp_path / "学籍.csv", [header, row]))
    enrolled = Enrolment.objects.get(national_student_number="L5002292012080911").child_id
    before = domain_state()
    _, summary = run(world, "registry", write_csv(tmp_path / "学籍2.csv", [header, [row[0], "", *row[2:]]]))
    assert (summary["created"], summary["updated"], summary["rejected"]) == (0, 0, 0) and domain_state() == before
    assert list(Enrolment.objects.filter(national_student_number="L5002292012080911").values_list("child_id", flat=True)) == [enrolled]


def test_held_rows_are_looked_up_in_batches_and_each_joins_its_child(world, tmp_path, monkeypatch):
    monkeypatch.setattr(apply, "LOOKUP_BATCH", 2)  # three names: two statements
    people = [("乙四", dt.date(2012, 8, 9)), ("丙五", dt.date(2013, 1, 2)), ("丁六", dt.date(2014, 5, 6))]
    names = [n for n, _ in people]
    police = [["姓名", "性别", "出生日期", "公民身份号码"]]
    police += [[n, "", b.isoformat(), compose_id_number("500229", b, 801 + 2 * k)] for k, (n, b) in enumerate(people)]
    run(world, "household", write_csv(tmp_path / "户籍.csv", police))
    rows = [CIVIL_HEADER, *([n, b.isoformat(), "低保"] for n, b in reversed(people))]
    batch, summary = run(world, "civil-affairs", write_csv(tmp_path / "民政.csv", rows))
    assert (summary["updated"], summary["rejected"], summary["pending_ids"]) == (3, 0, 3)
    assert set(GroupMembership.objects.filter(source=Source.CIVIL_AFFAIRS).values_list("child__name", flat=True)) == set(names)


def test_a_held_row_is_decided_against_the_whole_file_whatever_the_chunking(world, tmp_path, monkeypatch):
    """The police list has one 乙四 of that birth date; a civil-affairs list adds another (with an ID number), and then
    has a bare 乙四 row: two children it could be, in one chunk or in many, now or when imported again."""
    brought_by_the_police(world, tmp_path, 801)
    other = compose_id_number("500229", YI_BIRTH, 803)
    rows = [["姓名", "出生日期", "类别", "身份证号", "性别"], ["乙四", "2012-08-09", "低保", other, "男"],
            ["乙四", "2012-08-09", "孤儿", "", ""]]
    for chunk in (2000, 1):
        monkeypatch.setattr(prepare, "CHUNK", chunk)
        batch, summary = run(world, "civil-affairs", write_csv(tmp_path / f"民政{chunk}.csv", rows))
        assert (summary["rejected"], batch.status) == (1, ImportBatch.Status.REJECTED)
        assert "同名同出生日期的儿童有2人" in batch.issues.get(kind=RowIssue.Kind.REJECTED).message


def test_rows_held_for_the_rest_of_the_file_that_name_no_one_are_refused_and_nothing_is_written(world, tmp_path, monkeypatch):
    monkeypatch.setattr(prepare, "CHUNK", 1)
    rows = [["姓名", "出生日期", "类别", "身份证号", "性别"], ["乙四", "2012-08-09", "孤儿", "", ""],
            ["乙五", "2012-08-10", "低保", compose_id_number("500229", dt.date(2012, 8, 10), 813), "女"]]
    batch, summary = run(world, "civil-affairs", write_csv(tmp_path / "民政.csv", rows))
    assert (summary["rejected"], batch.status) == (1, ImportBatch.Status.REJECTED)
    refused = batch.issues.get(kind=RowIssue.Kind.REJECTED)
    assert refused.row == 2 and "对应不上" in refused.message
    assert not Child.objects.filter(name__in=["乙四", "乙五"]).exists()


def test_a_row_without_id_or_gender_naming_two_children_is_refused(world, tmp_path):
    brought_by_the_police(world, tmp_path, 802, 804)
    batch, summary = run(world, "civil-affairs", write_csv(tmp_path / "民政.csv", [CIVIL_HEADER, ["乙四", "2012-08-09", "低保"]]))
    assert summary["rejected"] == 1 and not GroupMembership.objects.filter(child__name="乙四").exists()
    refused = batch.issues.get()
    assert "性别为空" in refused.message and "同名同出生日期的儿童有2人，无法确定是谁" in refused.message


def test_a_row_without_id_or_gender_naming_no_child_is_refused(world, tmp_path):
    brought_by_the_police(world, tmp_path, 806)
    rows = [CIVIL_HEADER, ["乙四", "2012-08-10", "低保"]]  # another birth date
    batch, summary = run(world, "civil-affairs", write_csv(tmp_path / "民政.csv", rows))
    assert (summary["rejected"], Child.objects.filter(name="乙四").count()) == (1, 1)
    assert "性别为空" in batch.issues.get().message and "对应不上" in batch.issues.get().message
