"""A large file is read and cleaned in a forked child process while the importing process writes
(kongchuo/imports/prepare.py). These tests force that path on small messy files
(KONGCHUO_IMPORT_PROCESS_ROWS = 0) and check it gives exactly what the one-process path gives, that a
failure on either side fails the import whole and leaves no process behind."""

import dataclasses
import datetime as dt
import multiprocessing
import os
import pickle
import signal
import threading

import pytest

from kongchuo.imports import prepare, readers
from kongchuo.imports.models import ImportBatch, RowIssue
from kongchuo.imports.records import Record, Records
from kongchuo.imports.services import ImportFailed, import_run, import_store
from kongchuo.imports.sources import SPECS
from kongchuo.people.identity import normalise_id_number
from kongchuo.people.models import Child
from tests.imports_messy_files import ID1, write_csv, write_xlsx
from tests.test_imports import domain_state, household_rows

NOTES = [["填表说明"], ["1. 本表由派出所填报"], ["2. 身份证号请设为文本格式"]]  # a sheet without a header, before the data


def messy_household(tmp_path, name="household.xlsx"):
    rows = household_rows()
    rows.insert(5, list(rows[2]))  # 刘小军 again, as row 6: flagged as the same person, a chunk later
    rows.insert(3, ["张三", "男", "汉", "2015.3.5", "", "", "不存在乡", "", "", ""])  # unknown township: flagged
    rows.insert(4, ["", "男", "汉", "", "", "", "巴山镇", "", "", ""])  # identifies no one: rejected
    return write_xlsx(tmp_path / name, {"说明": NOTES, "花名册": rows})


def run(path, world, dry_run):
    batch = import_store(actor=world.users["county_staff"], source="household", upload=path, file_name=path.name)
    summary = import_run(batch=batch, actor=world.users["county_staff"], dry_run=dry_run)
    issues = list(batch.issues.order_by("row", "kind", "column").values_list("row", "kind", "column", "message", "raw"))
    return batch, summary, issues


@pytest.fixture
def in_child(settings, monkeypatch):
    """Every import prepared in a child process, chunks of two rows, and a note of which process cleaned each."""
    settings.KONGCHUO_IMPORT_PROCESS_ROWS = 0
    monkeypatch.setattr(prepare, "CHUNK", 2)
    monkeypatch.setattr(prepare, "_alone", lambda: True)  # a browser test's live server thread may still be running
    original = prepare._cleaned

    def cleaned(*args, **kwargs):
        records = original(*args, **kwargs)
        for record in records:
            record.repairs.append(("", f"pid {os.getpid()}"))  # travels back with the record
        return records

    monkeypatch.setattr(prepare, "_cleaned", cleaned)


def pids(summary):
    return {int(r["message"].split()[1]) for r in summary["repairs"] if r["message"].startswith("pid ")}


def without_pids(summary):
    return {**summary, "repairs": [r for r in summary["repairs"] if not r["message"].startswith("pid ")]}


def test_a_file_prepared_in_a_child_process_imports_exactly_as_in_one(world, tmp_path, settings, monkeypatch, in_child):
    path = messy_household(tmp_path)
    _, child_summary, child_issues = run(path, world, dry_run=True)
    assert pids(child_summary) and os.getpid() not in pids(child_summary)  # the rows were really cleaned elsewhere

    settings.KONGCHUO_IMPORT_PROCESS_ROWS = None
    _, here_summary, here_issues = run(path, world, dry_run=True)
    assert pids(here_summary) == {os.getpid()}
    assert without_pids(child_summary) == without_pids(here_summary)
    assert child_issues == here_issues
    kinds = {(row, kind) for row, kind, *_ in here_issues}
    assert {(4, RowIssue.Kind.FLAGGED), (5, RowIssue.Kind.REJECTED), (8, RowIssue.Kind.FLAGGED)} <= kinds
    assert child_summary["sheets"][0]["sheet"] == "花名册" and child_summary["rejected"] == 1

    # Without the row that identifies no one, the file applies through the child process too.
    rows = household_rows()
    rows.insert(5, list(rows[2]))
    settings.KONGCHUO_IMPORT_PROCESS_ROWS = 0
    batch, summary, issues = run(write_xlsx(tmp_path / "good.xlsx", {"说明": NOTES, "花名册": rows}), world, dry_run=False)
    assert (batch.status, summary["created"], summary["unchanged"], summary["rejected"]) == (ImportBatch.Status.APPLIED, 3, 1, 0)
    assert "与第3行为同一人" in dict((row, message) for row, _, _, message, _ in issues)[6]
    assert multiprocessing.active_children() == []
    # The pinyin of each new child's name, the one without an ID number too (searched by, matched on).
    written = dict(Child.objects.filter(name__in=["刘小军", "王丽", "马冬梅"]).values_list("name", "name_initials"))
    assert written == {"刘小军": "lxj", "王丽": "wl", "马冬梅": "mdm"}
    assert set(Child.objects.filter(name__in=written).values_list("name_pinyin", flat=True)) == {"liuxiaojun", "wangli", "madongmei"}


def failing_on_row(row, exc=None):
    """clean_chunk raising `exc` on the chunk of Excel row `row` (or, without one, the process exiting with code 7)."""
    original = prepare.clean_chunk

    def clean_chunk(items, *args):
        if any(index + 1 == row for index, _ in items):
            if exc is None:
                os._exit(7)
            raise exc
        return original(items, *args)

    return clean_chunk


def test_an_error_while_preparing_fails_the_import_whole_with_its_message(world, tmp_path, monkeypatch, in_child):
    before = domain_state()
    monkeypatch.setattr(prepare, "clean_chunk", failing_on_row(7, ValueError("第7行读不懂")))
    with pytest.raises(ValueError, match="第7行读不懂") as raised:
        run(messy_household(tmp_path), world, dry_run=False)
    assert any("在准备数据的子进程中" in note and "clean_chunk" in note for note in raised.value.__notes__)
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.FAILED and "第7行读不懂" in batch.message
    assert domain_state() == before
    assert multiprocessing.active_children() == []


def test_a_file_the_child_process_rejects_is_rejected_with_the_readers_message(world, tmp_path, monkeypatch, in_child):
    monkeypatch.setattr(prepare, "clean_chunk", failing_on_row(7, readers.FileRejected("无法读取第 1 个工作表：损坏")))
    with pytest.raises(ImportFailed, match="无法读取第 1 个工作表"):
        run(messy_household(tmp_path), world, dry_run=False)
    assert ImportBatch.objects.get().status == ImportBatch.Status.REJECTED


def test_a_child_process_that_dies_fails_the_import(world, tmp_path, monkeypatch, in_child):
    before = domain_state()
    monkeypatch.setattr(prepare, "clean_chunk", failing_on_row(7))
    with pytest.raises(RuntimeError, match="子进程意外退出（退出码 7）"):
        run(messy_household(tmp_path), world, dry_run=False)
    assert ImportBatch.objects.get().status == ImportBatch.Status.FAILED
    assert domain_state() == before


def test_a_failure_while_writing_stops_the_child_process_at_once(world, tmp_path, monkeypatch, in_child):
    """The child is still producing (it never runs out here) when the writing half fails: it is stopped (its
    pipe closed, then killed) and reaped at once, not waited for."""
    before = domain_state()
    pid_file = tmp_path / "child.pid"
    real = prepare.prepared

    def endless(*args, **kwargs):
        pid_file.write_text(str(os.getpid()))
        for event in real(*args, **kwargs):
            while event[0] == "records":  # the first chunk, again and again
                yield event
            yield event

    monkeypatch.setattr(prepare, "prepared", endless)
    monkeypatch.setattr("kongchuo.imports.services.prepared", endless)
    calls = []

    def apply(ctx, records, labels):
        calls.append(len(records))
        if len(calls) == 3:
            raise OSError("磁盘已满")
        return SPECS["household"].apply(ctx, records, labels)

    monkeypatch.setitem(SPECS, "household", dataclasses.replace(SPECS["household"], apply=apply))
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the import waited for a child that never ends"))
    signal.alarm(30)
    try:
        with pytest.raises(OSError, match="磁盘已满"):
            run(messy_household(tmp_path), world, dry_run=False)
    finally:
        signal.alarm(0)
    assert multiprocessing.active_children() == []
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)  # gone and reaped
    assert domain_state() == before


def test_an_exception_that_does_not_pickle_still_reaches_the_importer(world, tmp_path, monkeypatch, in_child):
    class LocalError(Exception):  # a local class: pickle cannot find it by name
        pass

    monkeypatch.setattr(prepare, "clean_chunk", failing_on_row(4, LocalError("奇怪的单元格")))
    with pytest.raises(RuntimeError, match="LocalError: 奇怪的单元格"):
        run(messy_household(tmp_path), world, dry_run=False)
    assert ImportBatch.objects.get().status == ImportBatch.Status.FAILED


def test_a_gbk_csv_is_prepared_in_the_child_process_too(world, tmp_path, in_child):
    rows = [r for r in household_rows()[1:] if r]  # header and data, no title
    _, summary, issues = run(write_csv(tmp_path / "户籍.csv", rows, encoding="gbk"), world, dry_run=False)
    assert (summary["created"], summary["rejected"]) == (3, 0)
    assert pids(summary) and os.getpid() not in pids(summary)


def test_a_record_crosses_the_pipe_whole_but_for_what_only_preparing_needs():
    record = Record(row=7, raw=["刘小军", 1.0, dt.date(2015, 3, 5)], values={"name": "刘小军", "birth_date": dt.date(2015, 3, 5)},
                    repairs=[("姓名", "空格已去除")], flags=[("证件号", "证件号待核正")], error=("性别", "性别为空"), id_raw="5002",
                    id_checked=normalise_id_number(ID1), pinyin=("刘小军", "liuxiaojun", "lxj"))
    assert all(getattr(record, f.name) not in (f.default, None, [], {}, "") for f in dataclasses.fields(Record))  # every field set
    back = pickle.loads(pickle.dumps(record))
    assert back == dataclasses.replace(record, id_checked=None)
    assert [f.name for f in dataclasses.fields(Record) if getattr(back, f.name) != getattr(record, f.name)] == ["id_checked"]


def test_a_chunk_crosses_the_pipe_column_by_column_and_comes_back_the_same_records():
    full = Record(row=7, raw=["刘小军", 1.0, dt.date(2015, 3, 5)], values={"name": "刘小军", "birth_date": dt.date(2015, 3, 5)},
                  repairs=[("姓名", "空格已去除")], flags=[("证件号", "证件号待核正")], error=("性别", "性别为空"), id_raw="5002",
                  id_checked=normalise_id_number(ID1), pinyin=("刘小军", "liuxiaojun", "lxj"))
    bare = Record(row=8, raw=["王芳"], values={"name": "王芳"})
    back = pickle.loads(pickle.dumps(Records([full, bare]), protocol=pickle.HIGHEST_PROTOCOL))
    assert back == [dataclasses.replace(full, id_checked=None), bare]
    assert back[0].repairs is not back[1].repairs  # each record its own lists, as prepared
    assert pickle.loads(pickle.dumps(Records())) == []


def test_a_value_repeated_down_the_list_crosses_the_pipe_once(tmp_path):
    """Cells of the repeating columns (township, village, gender, a date…) are one object per distinct value, and a
    value cleaned to what its cell says is that cell: a chunk then pickles each once, not once per row."""
    header = ["姓名", "性别", "民族", "出生日期", "公民身份号码", "户籍地址", "乡镇", "村"]
    names = [f"刘{'明华强伟芳'[i % 5]}{'丽军平秀英'[i // 5 % 5]}" for i in range(300)]
    rows = [[name, "男 " if i % 2 else "男", "汉族", dt.date(2015, 3, 5), "", f"巴山镇巴山村{i}组", "巴山镇", "巴山村"]
            for i, name in enumerate(names)]
    events = prepare.prepared(write_xlsx(tmp_path / "h.xlsx", {"一": [header, *rows]}), kind="xlsx", spec=SPECS["household"], override=None)
    records = next(payload for kind, payload, *_ in events if kind == "records")
    assert len(records) == 300 and not any(r.rejected for r in records)
    first, second = records[0], records[2]  # 男 both (the odd rows say "男 ")
    for index in (1, 2, 3, 6, 7):  # gender, ethnicity, birth date, township, village: one object down the list
        assert second.raw[index] is first.raw[index], header[index]
    for name, index in (("name", 0), ("household_address", 5), ("township", 6), ("village", 7)):
        assert all(r.values[name] is r.raw[index] for r in records), name
    alone = len(pickle.dumps(Records(records[:1]), protocol=pickle.HIGHEST_PROTOCOL))
    # Each further row adds its own name and address, and references for the rest.
    assert len(pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)) < 300 * alone / 2


def test_small_or_unsized_files_a_threaded_process_and_a_setting_of_none_stay_in_one_process(settings, monkeypatch):
    settings.KONGCHUO_IMPORT_PROCESS_ROWS = 20_000
    monkeypatch.setattr(prepare, "_alone", lambda: True)
    assert not prepare.worth_a_process(19_999) and not prepare.worth_a_process(None)
    assert prepare.worth_a_process(20_000) == ((os.cpu_count() or 1) > 1)
    settings.KONGCHUO_IMPORT_PROCESS_ROWS = None
    assert not prepare.worth_a_process(10**6)
    monkeypatch.undo()  # the real thread count from here
    settings.KONGCHUO_IMPORT_PROCESS_ROWS = 0
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)  # as `kongchuo serve` runs tasks beside the web server's threads
    thread.start()
    try:
        assert not prepare.worth_a_process(10**6)
    finally:
        stop.set()
        thread.join()


def test_the_child_process_knows_whether_the_importing_one_has_taken_all_it_sent():
    """lagging(): whether nothing the child sent waits in the pipe for the importing process (it is waiting for the
    next item, or soon will be), not while it is busy with one and the next is in the pipe."""
    import time

    def produce(lagging):
        yield lagging()  # nothing sent yet
        yield b"x" * 1000
        time.sleep(0.5)  # the importing process, waiting for it, has taken it meanwhile
        yield lagging()
        yield b"y" * 1000  # sent while the importing process is busy: it waits in the pipe
        time.sleep(0.5)
        yield lagging()

    seen = []
    for item in prepare.in_child_process(produce):
        seen.append(item if isinstance(item, bool) else len(item))
        if len(seen) == 3:
            time.sleep(2)  # busy with the third item
    assert seen == [True, 1000, True, 1000, False]
    assert multiprocessing.active_children() == []


def test_a_lagging_preparer_leaves_the_pinyin_to_the_writer(world, tmp_path, monkeypatch):
    """The preparing half skips the pinyin when it has kept the writing half waiting (the slower half sheds the
    work): the records come without it, and the children get theirs from the writer all the same."""
    original = prepare.prepared
    chunks = []

    def idle_writer(*args, **kwargs):
        for event in original(*args, **{**kwargs, "lagging": lambda: True}):
            if event[0] == "records":
                chunks.append(event[1])
            yield event

    monkeypatch.setattr("kongchuo.imports.services.prepared", idle_writer)
    rows = household_rows()
    del rows[5]  # the row that identifies no one
    batch, summary, _ = run(write_xlsx(tmp_path / "good.xlsx", {"花名册": rows}), world, dry_run=False)
    assert batch.status == ImportBatch.Status.APPLIED and summary["created"] == 3
    assert chunks and all(r.pinyin is None for chunk in chunks for r in chunk)
    written = dict(Child.objects.filter(name__in=["刘小军", "王丽", "马冬梅"]).values_list("name", "name_pinyin"))
    assert written == {"刘小军": "liuxiaojun", "王丽": "wangli", "马冬梅": "madongmei"}
    assert list(prepare.prepared(tmp_path / "good.xlsx", kind="xlsx", spec=SPECS["household"], override=None))[-1][1][0].pinyin


def test_a_lagging_preparer_leaves_half_the_columns_and_the_settling_to_the_writer_and_nothing_changes(world, tmp_path, monkeypatch):
    """A chunk the preparing half sends while the writing half waits for it comes with its first columns cleaned only;
    the writer cleans the rest and settles who each row is (prepare.finished). Over a messy list every count, repair,
    rejection and flag is as when the preparer does it all."""
    from tests.test_import_chunks import CELLS, STRIDES

    monkeypatch.setattr(prepare, "CHUNK", 7)
    fields = ["name", "gender", "ethnicity", "birth_date", "id_number", "household_address", "township", "village",
              "guardian_name", "guardian_relation", "guardian_phone"]
    header = ["序号", "姓名", "性别", "民族", "出生日期", "公民身份号码", "户籍地址", "乡镇", "村", "监护人", "与儿童关系", "联系电话"]
    towns = ["巴山镇", "巴山", "", "不存在乡", " 巴山镇"]
    rows = [[i + 1] + [(towns if f == "township" else CELLS[f])[(i * STRIDES[n] + n) % len(towns if f == "township" else CELLS[f])]
                       for n, f in enumerate(fields)] for i in range(400)]
    path = write_xlsx(tmp_path / "messy.xlsx", {"花名册": [header, *rows]})
    _, whole_summary, whole_issues = run(path, world, dry_run=True)

    original, rests = prepare.prepared, []

    def lagging_always(*args, **kwargs):
        for event in original(*args, **{**kwargs, "lagging": lambda: True}):
            if event[0] == "records":
                rests.append(event[1].rest)
            yield event

    monkeypatch.setattr("kongchuo.imports.services.prepared", lagging_always)
    _, shed_summary, shed_issues = run(path, world, dry_run=True)
    assert rests and set(rests) == {4}  # of the sheet's 11 columns, those before the ID number cleaned by the preparer
    assert shed_summary == whole_summary and shed_issues == whole_issues
    assert whole_summary["rejected"] > 20 and whole_summary["flagged"] > 20 and len(whole_summary["repairs"]) > 10


@pytest.mark.skipif(not os.path.exists("/proc/sys/fs/pipe-max-size"), reason="Linux only")
def test_the_pipe_to_the_child_holds_more_than_a_chunk():
    import fcntl

    receiver, sender = multiprocessing.Pipe(duplex=False)
    try:
        before = fcntl.fcntl(receiver.fileno(), fcntl.F_GETPIPE_SZ)
        prepare._widen(receiver)
        widened = fcntl.fcntl(receiver.fileno(), fcntl.F_GETPIPE_SZ)
    finally:
        receiver.close()
        sender.close()
    with open("/proc/sys/fs/pipe-max-size") as limit:
        assert widened == int(limit.read()) > before
