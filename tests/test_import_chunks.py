"""An import cleans its rows a chunk and a column at a time (records.clean_chunk, with the quick paths of
cleaning.quick_*): every record must come out exactly as clean_record, one cell after another, makes it."""

import copy
import datetime as dt

from stdnum.cn import ric

from kongchuo.imports import cleaning
from kongchuo.imports.records import clean_chunk, clean_record, columns_for, settle_identity
from kongchuo.people.identity import plain_id_number


def _id(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


VALID = _id("50022920120305123")
ENDS_X = next(_id(f"5002292012030{d}12{o}") for d in range(10) for o in range(10) if _id(f"5002292012030{d}12{o}").endswith("X"))
SPACES = "".join(["\u00a0", "\u3000", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2002", "\u2028", "\u202f", "\u205f"])
INVISIBLE = ["\u200b", "\u00ad", "\ufeff", "\u2060", "\u202a"]

CELLS = {
    "name": ["张三", " 张三", "张 三", "张三 ", "买买提·艾力", "买买提.艾力", "ＺＨＡＮＧ", "Ali", "张三1", "", None, "   ", 123, 1.5, True,
             "张" * 41, "张" * 40, "\u3000张三", *[f"张{s}三" for s in SPACES], *[f"张{c}三" for c in INVISIBLE], dt.date(2012, 1, 1), "ǅ",
             "无", "不详", "None", "/", "张三（女）", "张三(已转学)(残)", "'张三", "※张三", "张三*", "*", "张三、李四", "(女)", "张(三)"],
    "id_number": [VALID, VALID.lower(), ENDS_X, ENDS_X.lower(), f" {VALID}", f"{VALID[:6]} {VALID[6:]}",
                  VALID.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
                  int(VALID), float(VALID), int(ENDS_X[:17]), "5.00229E+17", VALID[:17] + ("0" if VALID[17] != "0" else "1"),
                  _id("50022920990101123"), _id("99999920120305123"), f'="{VALID}"', f"'{VALID}", f"{VALID}.0", VALID + "\n",
                  "500229120305123", 500229120305123, "", None, "abc", True, VALID[:-1], f"{VALID}\u200b", "G" + VALID],
    "birth_date": [dt.date(2012, 3, 5), dt.datetime(2012, 3, 5), dt.datetime(2012, 3, 5, 8, 30), "2012.3.5", "20120305", "2012/03/05",
                   "2012年3月5日", "2012-03", "201203", 41000, 41000.0, "41000", "", None, "2099-01-01", "1980-01-01", True,
                   dt.time(8, 30), dt.date(2013, 3, 5), " 2012-03-05 "],
    "gender": ["男", "女", 1, 2, "1", 1.0, 2.0, "M", "f", " 女", "男性", "x", None, "", True, "男\u200b"],
    "ethnicity": ["汉族", "汉", "01", 1, "土家", "土家族", "xyz", "", None, " 苗族"],
    "household_address": ["重庆市城口县", " 重庆 ", "重庆  城口", "ＡＢ１２３", "a" * 201, "a" * 200, "", None, 12, 12.0, 12.5,
                          dt.date(2012, 1, 1), dt.datetime(2012, 1, 1, 9), "（三组）", "a\n", *[f"路{s}号" for s in SPACES],
                          *[f"路{c}号" for c in INVISIBLE], "x y"],
    "township": ["庙坝镇", "庙坝", " 庙坝镇", "未知镇", "", None, 5.0, "庙坝镇\u3000"],
    "village": ["双河村", "双河", "", None, "双河村 ", 7],
    "guardian_name": ["李四", "", None, " 李四", "李四1", 5, "ＬＩ", "无", "null", "李四（父）", "*李四", "李四、王五", "（空）"],
    "guardian_relation": ["父亲", "母亲", "", None, " 爷爷"],
    "guardian_phone": ["13912345678", 13912345678, 13912345678.0, "139 1234 5678", "023-12345678", "13912345678/13812345678", "12345",
                       "", None, True, 19999999999, 20000000000, 12999999999, "１３９１２３４５６７８", "13912345678\n", "+8613912345678",
                       -13912345678, "12912345678", "13912345678 "],
    "national_student_number": ["G" + VALID, VALID, "J" + "1" * 18, "L12345678901", 123, "", None, " g" + VALID],
    "grade": ["三年级", 3, "初一", 3.0, 11, "十年级", "", None],
    "school_code": ["5002291234", 5002291234, 5002291234.0, "500229123", "", None],
    "remark": ["", None, "转学", " 转学", 1, dt.date(2012, 1, 1)],
}
FIELDS = list(CELLS)
STRIDES = [1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41]


def messy_rows(count: int, *, shortened: bool = False) -> list[tuple[int, list]]:
    """Rows whose cells walk through every field's list at a different pace, so that the cells meet in many
    combinations; every seventh row cut short (as a CSV line that stops early) when `shortened`."""
    rows = []
    for i in range(count):
        row = ["序号"] + [CELLS[f][(i * STRIDES[n % len(STRIDES)] + n) % len(CELLS[f])] for n, f in enumerate(FIELDS)]
        if shortened and i % 7 == 3:
            row = row[: 1 + i % len(FIELDS)]
        rows.append((i + 5, row))
    return rows


def both_ways(items: list[tuple[int, list]], chunk: int = 50):
    """(clean_record's records, clean_chunk's) of the same rows, each with its own pools across the chunks."""
    mapping = {f: n + 1 for n, f in enumerate(FIELDS)}
    labels = {f: f"列{n}" for n, f in enumerate(FIELDS)}
    one_by_one, columns = copy.deepcopy(items), columns_for(mapping)
    expected = [clean_record(index + 1, row, columns, labels) for index, row in one_by_one]
    chunked, columns = copy.deepcopy(items), columns_for(mapping)
    got = [r for start in range(0, len(chunked), chunk) for r in clean_chunk(chunked[start : start + chunk], columns, labels)]
    for record in [*expected, *got]:
        settle_identity(record, labels)
    return expected, got


def test_every_messy_cell_comes_out_of_a_chunk_as_out_of_a_row():
    expected, got = both_ways(messy_rows(3000))
    assert len(got) == len(expected) == 3000
    for want, have in zip(expected, got, strict=True):
        assert have == want, want.row
    # The rows did hold what the quick paths settle, and what they leave to the cleaners.
    assert sum(r.values.get("id_number") == VALID for r in got) > 100 and sum(bool(r.repairs) for r in got) > 1000
    assert sum(r.error is not None for r in got) > 100 and sum(r.error is None for r in got) > 100


def test_short_rows_come_out_of_a_chunk_as_out_of_a_row():
    expected, got = both_ways(messy_rows(700, shortened=True), chunk=64)
    assert got == expected
    assert any(len(r.raw) < len(FIELDS) for r in got)


def test_a_chunk_cleaned_in_two_parts_across_the_pipe_comes_out_as_in_one():
    """A lagging preparer cleans a chunk's first columns and leaves the rest, and settling, to the writing half
    (prepare._cleaned, prepare.finished): whatever the split, every record as clean_record makes it, a row's repairs
    in column order and its first error the first, across the pipe with what settling reads (id_checked)."""
    import pickle

    from kongchuo.imports.records import Records, clean_rest

    items = messy_rows(600, shortened=True)
    mapping = {f: n + 1 for n, f in enumerate(FIELDS)}
    labels = {f: f"列{n}" for n, f in enumerate(FIELDS)}
    expected = [clean_record(index + 1, row, columns_for(mapping), labels) for index, row in copy.deepcopy(items)]
    for record in expected:
        settle_identity(record, labels)
    for kept in range(1, len(FIELDS)):
        prepared, finished = columns_for(mapping), columns_for(mapping)  # each process its own pools
        got = []
        for start in range(0, len(items), 64):
            records = Records(clean_chunk(copy.deepcopy(items[start : start + 64]), prepared[:kept], labels))
            records.rest = kept
            records = pickle.loads(pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))
            assert records.rest == kept
            clean_rest(records, finished[records.rest :], labels)
            for record in records:
                settle_identity(record, labels)
            got += records
        for want, have in zip(expected, got, strict=True):
            assert have == want, (kept, want.row)
    assert sum(r.error is not None for r in expected) > 50 and sum(len(r.repairs) > 1 for r in expected) > 50


def test_a_repeated_cell_is_one_object_in_every_row_of_every_chunk():
    """What makes a prepared chunk cheap to pickle (columns_for): 男 read twice is one 男 in both rows."""
    items = [(i, ["序号", "张三", "男 ".strip() + "", "汉族"]) for i in range(6)]
    for _, row in items:
        row[2] = "".join(["男"])  # a new object per row, as a reader gives
    columns = columns_for({"name": 1, "gender": 2, "ethnicity": 3})
    records = clean_chunk(items[:3], columns, {}) + clean_chunk(items[3:], columns, {})
    assert len({id(r.raw[2]) for r in records}) == 1
    assert [r.values["gender"] for r in records] == ["M"] * 6


def test_the_quick_text_check_agrees_with_clean_text_on_every_odd_character():
    odd = [*SPACES, *INVISIBLE, " ", "  ", "\u3000", "Ａ", "ｚ", "０", "(", "（", "·", "\\", "]", "^", "-"]
    cells = [f"{a}{b}" for a in odd for b in ["", "x", "路"]] + [f"路{a}" for a in odd] + [f"路{a}号" for a in odd] + ["路 号"]
    quick = cleaning.quick_texts(cells)
    for cell, value in zip(cells, quick, strict=True):
        slow = cleaning.clean_text(cell)
        if value is not cleaning.SLOW:  # settled quickly: exactly what clean_text gives, nothing repaired
            assert (slow.value, slow.repairs, slow.error) == (value, (), None), repr(cell)
        else:
            assert slow.value != cell or not cell, repr(cell)


def test_the_quick_id_check_is_the_full_one_for_a_plain_number():
    odd = [_id("50022920990101123"), _id("99999920120305123"), VALID[:17] + "0", VALID[:17] + "1", _id("50022920120230123")]
    for number in [VALID, ENDS_X, *odd]:
        quick = plain_id_number(number)
        slow = cleaning.clean_id_number(number)
        assert (quick is None) == (slow.error is not None), number
        if quick is not None:
            assert quick == slow.detail and quick.number == slow.value


def test_pinyin_worked_out_while_preparing_goes_into_a_new_childs_row_only_for_its_own_name():
    from types import SimpleNamespace

    from kongchuo.imports import apply
    from kongchuo.imports.records import Record, with_pinyin

    named, refused, nameless = Record(3, [], {"name": "单于明"}), Record(4, [], {"name": "王芳"}), Record(5, [], {})
    refused.reject("性别", "性别“x”无法识别")
    with_pinyin([named, refused, nameless])
    assert named.pinyin == ("单于明", "chanyuming", "cym")  # the phrase reading, as name_pinyin gives it
    assert refused.pinyin is None and nameless.pinyin is None

    ctx = SimpleNamespace(child_template=[None] * len(apply.NEW_CHILD_COLUMNS), db_date=str, db_value=lambda v: v, adapted_dates={})
    columns = apply.NEW_CHILD_FIELDS
    row = apply._new_child_row(ctx, ("id", VALID), named, {"name": "单于明"}, (None, None), apply.PERSON_WIDTH)
    assert row[columns.index("name_pinyin")] == "chanyuming"
    named.pinyin = ("单于明", "wrong", "w")  # taken as prepared…
    row = apply._new_child_row(ctx, ("id", VALID), named, {"name": "单于明"}, (7, 3), apply.PERSON_WIDTH)
    assert (row[columns.index("name_pinyin")], row[columns.index("household_division")], row[columns.index("township")]) == ("wrong", 7, 3)
    row = apply._new_child_row(ctx, ("id", VALID), named, {"name": "王芳"}, (None, None), apply.PERSON_WIDTH)  # …but not for another name
    assert (row[columns.index("name_pinyin")], row[columns.index("name_initials")]) == ("wangfang", "wf")


def test_a_numbered_rows_quick_pass_keeps_what_the_full_tests_keep():
    """iter_data_rows lets a row that starts with a number (序号) and holds no text of the header through at once:
    the rows it keeps must be those the blank, footer and repeated-header tests keep."""
    from kongchuo.imports.headers import _filled_cells, _is_footer, detect_header, iter_data_rows, says_nothing

    header = ["序号", "姓名", "性别", "出生日期", "身份证号", "备注"]
    rows = [["城口县适龄儿童花名册"], header]
    odd = ["", None, " ", "姓名", " 性别 ", "性别", "合计", "制表人：张三", "备注：无", VALID, 3.0, True]
    for i in range(400):
        first = [i, float(i), True, None, "", " 7", "合计", "序号", "制表人：李四"][i % 9]
        number = VALID if i % 4 else odd[(i // 4) % len(odd)]
        rows.append([first, "张三" if i % 5 else odd[i % len(odd)], odd[(i * 7) % len(odd)], "2012-03-05" if i % 6 else "", number,
                     odd[(i * 3) % len(odd)]])
    # A template's row numbers below the rows filled in, one with a number in 备注 too, one with a remark (kept: text).
    rows += [[401], [402, "", None, " ", "", ""], ["403 ", ""], [404, "", "", "", "", 7], [405, "", "", "", "", "已迁出"]]
    rows += [[1, "姓名", "性别", "出生日期", "身份证号", "备注"], [None] * 6, ["制表人：王五", "", "审核人：赵六"]]
    match = detect_header(rows[:20], ["name", "gender", "birth_date", "id_number"], required=["name"])
    mapped = sorted(match.columns.values())
    full = [(i, r) for i, r in enumerate(rows)
            if i >= match.data_start and (f := _filled_cells(r)) and not _is_footer(f) and not match.is_header_repeat(r, f)
            and not says_nothing(r, mapped)]
    assert list(iter_data_rows(rows, match)) == full
    kept = {i for i, _ in full}
    assert 150 < len(full) < len(rows) - 20  # most kept, through the quick pass or by the full tests; some dropped
    assert {i for i, r in enumerate(rows) if type(r[0]) is int and i not in kept}  # a numbered row dropped too
    assert [r[0] for r in rows[-8:] if _filled_cells(r) and says_nothing(r, mapped)] == [401, 402, "403 ", 404]
    assert any(r[0] == 405 for _, r in full)


def test_a_chunk_with_no_mapped_column_or_no_row():
    rows = [(0, ["张三", "男"]), (1, ["李四"])]
    assert [(r.row, r.values) for r in clean_chunk(rows, [], {})] == [(1, {}), (2, {})] == [
        (r.row, r.values) for r in (clean_record(i + 1, row, [], {}) for i, row in rows)]
    assert clean_chunk([], columns_for({"name": 0}), {}) == []
