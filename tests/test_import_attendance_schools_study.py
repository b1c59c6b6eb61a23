"""Attendance, school and study-elsewhere lists: corrections, repeats within a file, unreadable IDs, moved schools."""

import datetime as dt

from kongchuo.accounts.scoping import children_for
from kongchuo.attendance.models import AttendanceRecord
from kongchuo.cases.services import case_open
from kongchuo.enrolments.services import enrolment_create
from kongchuo.imports import prepare
from kongchuo.imports.models import RowIssue
from kongchuo.people.identity import compose_id_number
from kongchuo.people.models import Child
from kongchuo.people.services import child_create
from kongchuo.places.models import School
from tests.imports_messy_files import write_xlsx
from tests.test_imports import run

ATTENDANCE_HEADER = ["日期", "学校标识码", "全国学籍号", "身份证件号", "姓名", "状态"]
DAY = "2026-11-02"
SCHOOL_A = "5002290001"
BAD_CHECK_DIGIT = "50022920191226392X"  # the check digit should be 3


def attendance(world, tmp_path, name, *rows):
    return run(world, "attendance", write_xlsx(tmp_path / name, {"考勤": [ATTENDANCE_HEADER, *rows]}))


def flags(batch):
    return [(i.row, i.message) for i in batch.issues.filter(kind=RowIssue.Kind.FLAGGED).order_by("row", "pk")]


# --- attendance: one record per pupil and day -------------------------------------------------------


def test_a_corrected_attendance_file_changes_the_status(world, tmp_path):
    a = world.children["a"]
    first, _ = attendance(world, tmp_path, "a.xlsx", [DAY, SCHOOL_A, "G" + a.id_number, "", a.name, "缺勤"])
    batch, summary = attendance(world, tmp_path, "b.xlsx", [DAY, SCHOOL_A, "G" + a.id_number, "", a.name, "病假"])
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 1, 0)
    record = AttendanceRecord.objects.get()
    assert (record.child, record.status, record.batch) == (a, "leave", batch)
    assert flags(batch) == [(2, f"该生当天考勤原为“缺勤”（原记录来自导入批次#{first.pk}），已改为“请假”")]
    _, summary = attendance(world, tmp_path, "c.xlsx", [DAY, SCHOOL_A, "G" + a.id_number, "", a.name, "病假"])
    assert (summary["updated"], summary["unchanged"]) == (0, 1)


def test_two_unknown_pupils_of_one_name_told_apart_by_their_student_numbers_are_two_records(world, tmp_path):
    rows = [[DAY, SCHOOL_A, "L50022920250001", "", "张伟", "缺勤"], [DAY, SCHOOL_A, "L50022920250002", "", "张伟", "缺勤"],
            [DAY, SCHOOL_A, "", "", "张伟", "病假"]]  # no number: not told apart from the first, whose row stands (first in file)
    _, summary = attendance(world, tmp_path, "a.xlsx", *rows)
    assert (summary["created"], summary["rejected"]) == (2, 0)
    assert sorted(AttendanceRecord.objects.filter(name="张伟").values_list("national_student_number", "status")) == [
        ("L50022920250001", "absent"), ("L50022920250002", "absent")]


def test_one_child_given_by_id_number_then_by_student_number_is_one_record(world, tmp_path):
    a = world.children["a"]
    attendance(world, tmp_path, "a.xlsx", [DAY, SCHOOL_A, "", a.id_number, a.name, "缺勤"])
    _, summary = attendance(world, tmp_path, "b.xlsx", [DAY, SCHOOL_A, "G" + a.id_number, "", a.name, "缺勤"])
    assert (summary["created"], summary["unchanged"]) == (0, 1)
    _, summary = attendance(world, tmp_path, "c.xlsx", [DAY, SCHOOL_A, "G" + a.id_number, "", a.name, "迟到"])
    assert summary["updated"] == 1
    assert list(AttendanceRecord.objects.values_list("child", "status")) == [(a.pk, "late")]


def test_two_rows_of_one_file_for_one_pupil_and_day_keep_the_first(world, tmp_path, monkeypatch):
    monkeypatch.setattr(prepare, "CHUNK", 2)  # the third row comes in a later chunk than the first
    a = world.children["a"]
    rows = [
        [DAY, SCHOOL_A, "G" + a.id_number, "", a.name, "缺勤"],
        [DAY, SCHOOL_A, "", a.id_number, a.name, "缺勤"],  # the same, by ID number: no news
        [DAY, SCHOOL_A, "", a.id_number, a.name, "病假"],
        ["2026-11-03", SCHOOL_A, "", "", "不在册", "缺勤"],  # known only by name
        ["2026-11-03", SCHOOL_A, "", "", "不在册", "迟到"],
    ]
    batch, summary = attendance(world, tmp_path, "a.xlsx", *rows)
    assert (summary["created"], summary["unchanged"], summary["rejected"]) == (2, 3, 0)
    assert sorted(AttendanceRecord.objects.values_list("name", "status")) == [("不在册", "absent"), (a.name, "absent")]
    differing = [(row, m) for row, m in flags(batch) if "同一学生同一天" in m]
    assert differing == [
        (4, "与第2行为同一学生同一天而状态不同（第2行为“缺勤”，本行为“请假”），已按第2行处理，请核实"),
        (6, "与第5行为同一学生同一天而状态不同（第5行为“缺勤”，本行为“迟到”），已按第5行处理，请核实"),
    ]
    _, summary = attendance(world, tmp_path, "again.xlsx", *rows)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 5)
    assert sorted(AttendanceRecord.objects.values_list("name", "status")) == [("不在册", "absent"), (a.name, "absent")]


def test_an_unreadable_id_number_is_told_and_the_schools_one_pupil_of_that_name_linked(world, tmp_path):
    a = world.children["a"]
    batch, summary = attendance(
        world,
        tmp_path,
        "a.xlsx",
        [DAY, SCHOOL_A, "", BAD_CHECK_DIGIT, a.name, "缺勤"],
        [DAY, SCHOOL_A, "", "5.00229E+17", "不在册", "缺勤"],
    )
    assert (summary["created"], summary["rejected"], summary["pending_ids"]) == (2, 0, 2)
    assert AttendanceRecord.objects.get(name=a.name).child == a
    assert AttendanceRecord.objects.get(name="不在册").child is None
    told = flags(batch)
    assert (2, "证件号待核正：校验位错误（末位应为3）") in told
    assert (2, "证件号无法使用，已按姓名对应到巴山镇中心小学唯一在读的同名学生，请核实") in told
    assert (3, "证件号待核正：证件号被Excel以科学计数法保存，后几位已丢失，请将该列设为文本后重新导出") in told
    assert not any("无学籍号和证件号" in m for _, m in told)


def test_an_unreadable_id_number_links_no_one_when_the_school_has_two_pupils_of_that_name(world, tmp_path):
    a = world.children["a"]
    born = dt.date(2017, 5, 1)
    twin = child_create(
        actor=None,
        name=a.name,
        gender="M",
        birth_date=born,
        id_number=compose_id_number("500229", born, 21),
        household_division=world.village_a,
        source="registry",
        reference="test",
    )
    enrolment_create(actor=None, child=twin, school=world.school_a, grade=3, school_class=world.class_a, entry_date=dt.date(2023, 9, 1))
    batch, _ = attendance(world, tmp_path, "a.xlsx", [DAY, SCHOOL_A, "", BAD_CHECK_DIGIT, a.name, "缺勤"])
    assert AttendanceRecord.objects.get().child is None
    assert [m for _, m in flags(batch)] == ["证件号待核正：校验位错误（末位应为3）", "学籍中无此学生：作为无学籍在读线索保留，待比对"]


# --- schools ------------------------------------------------------------------------------------

SCHOOL_HEADER = ["学校标识码", "学校名称", "办学类型", "所属区县代码", "所属乡镇"]


def schools(world, tmp_path, name, *rows):
    return run(world, "schools", write_xlsx(tmp_path / name, {"学校": [SCHOOL_HEADER, *rows]}))


def test_a_school_code_repeated_in_one_file_keeps_the_first_row(world, tmp_path):
    rows = [
        ["5002290099", "巴山镇新华村教学点", "教学点", "500229", "巴山镇"],
        ["5002290098", "坪坝镇红岩村教学点", "教学点", "500229", "坪坝镇"],
        ["5002290099", "新华小学", "小学", "500229", "坪坝镇"],
    ]
    batch, summary = schools(world, tmp_path, "a.xlsx", *rows)
    assert (summary["created"], summary["unchanged"]) == (2, 1)
    school = School.objects.get(code="5002290099")
    assert (school.name, school.type, school.township) == ("巴山镇新华村教学点", School.Type.TEACHING_POINT, world.township_a)
    assert flags(batch) == [(4, "与第2行学校标识码相同，已按第2行处理，请核实")]
    _, summary = schools(world, tmp_path, "again.xlsx", *rows)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 3)


def test_a_school_moved_to_another_township_takes_its_pupils_along(world, tmp_path):
    a = world.children["a"]
    attendance(world, tmp_path, "att.xlsx", [DAY, SCHOOL_A, "G" + a.id_number, "", a.name, "缺勤"])
    Child.objects.filter(pk=a.pk).update(township=None)  # no household township: the case takes the school's
    case = case_open(actor=world.users["school_a"], child=Child.objects.get(pk=a.pk), kind="dropout", reason="连续缺勤")
    assert case.township == world.township_a
    batch, summary = schools(world, tmp_path, "s.xlsx", [SCHOOL_A, "巴山镇中心小学", "小学", "500229", "坪坝镇"])
    assert summary["updated"] == 1
    assert flags(batch) == [(2, "学校由巴山镇迁至坪坝镇，已同步其学生的所属乡镇")]
    school = School.objects.get(code=SCHOOL_A)
    assert (school.township, school.village) == (world.township_b, None)  # 巴山村 is not in 坪坝镇
    assert set(a.enrolments.values_list("township", flat=True)) == {world.township_b.pk}
    assert AttendanceRecord.objects.get().township == world.township_b
    case.refresh_from_db()
    assert case.township == world.township_b
    assert children_for(world.users["township_b"]).filter(pk=a.pk).exists()
    assert not children_for(world.users["township_a"]).filter(pk=a.pk).exists()
    x = world.children["x"]  # lives in 巴山镇, studies at 坪坝镇's school: untouched
    assert (x.enrolments.get().township, Child.objects.get(pk=x.pk).township) == (world.township_b, world.township_a)


# --- study elsewhere ------------------------------------------------------------------------------


def test_a_study_elsewhere_row_for_a_child_the_county_lacks_adds_it_flagged(world, tmp_path):
    rows = [
        ["身份证件号", "姓名", "就读学校", "就读地"],
        ["110101201301011239", "京外生", "北京市东城区某小学", "北京市"],
        [world.children["out"].id_number, world.children["out"].name, "广州市天河区某小学", "广东省广州市"],
    ]
    batch, summary = run(world, "study-elsewhere", write_xlsx(tmp_path / "s.xlsx", {"证明": rows}))
    assert (summary["created"], summary["updated"]) == (1, 1)
    child = Child.objects.get(id_number="110101201301011239")
    assert (child.county, child.external_studies.get().school_name) == (world.county, "北京市东城区某小学")
    assert flags(batch) == [(2, "本县名单中原无此儿童，已按外地就读核实名单新增，请核实户籍")]
