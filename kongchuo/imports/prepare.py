"""The first half of an import, which needs no database: read the file, find each sheet's header, tell data
rows from titles and footers, clean every cell and settle who each row is.

`prepared` yields what the second half (services.import_run: checks against the county's places and
schools, then writing) consumes, as events:

    ("skipped", message, guess)   a sheet without a recognisable header (a notes or summary sheet); `guess` is
                                  {"sheet", "labels", "columns"} as for a data sheet, its labels the row that looks
                                  most like a header, so that the user can map the columns by hand
    ("sheet", info, labels, columns)  a data sheet begins: what was found in its header, {field: column label},
                                  {field: column index}
    ("records", Records)          up to CHUNK cleaned rows of that sheet; a chunk the child left unfinished
                                  (`Records.rest`) is finished by `finished`

A large file is prepared in a child process (`in_child_process`) while this one writes what it has
already been given: on a 200,000-row list the two halves take about as long as each other, and a county
server has more than one core. Which half is the slower depends on the machine, and changes within a run, so
whenever the writing half has taken all the child sent (`lagging`), the child leaves it part of the next chunk's
work: the columns from the ID number on to clean, the identity of its rows to settle and their names' pinyin to
work out (`_cleaned`, `_kept`, `finished`).

The child is forked, so it starts at once with Django set up and shares nothing it could change: it never
touches the database connection it inherits, and the kernel kills it when the importing process dies
(elsewhere than on Linux, the broken pipe does at its next send), so a killed import leaves the database as
it was, whichever process holds what.
"""

import array
import collections
import ctypes
import fcntl
import itertools
import multiprocessing
import os
import pickle
import signal
import termios
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.reduction import ForkingPickler

from django.conf import settings

from kongchuo.core.masking import mask_in_text
from kongchuo.imports import readers
from kongchuo.imports.headers import HeaderNotFound, detect_header, holds_ids, iter_data_rows, likely_header, says_nothing
from kongchuo.imports.records import Records, clean_chunk, clean_rest, columns_for, label, settle_identity, with_pinyin

CHUNK = 2000
HEAD_ROWS = 20  # where a header is looked for
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def prepared(
    path, *, kind: str, spec, override: dict | None, merged: dict | None = None, lagging: Callable[[], bool] = lambda: False
) -> Iterator[tuple]:
    """The events of one file (see the module's docstring); raises readers.FileRejected for a file it cannot read.

    `merged`: the file's merged cells as readers.check_safe found them on upload (None: found again).
    `lagging()`: whether the process these events go to has taken all that was sent (see in_child_process); then a
    chunk is left for that process to finish (`_cleaned`), and the two halves of an import share out the work of the
    slower."""
    for sheet in readers.iter_sheets(path, kind=kind, checked=True, merged=merged):
        head = list(itertools.islice(sheet.rows, HEAD_ROWS))
        where = f"工作表“{sheet.name}”" if sheet.name else "文件"
        guess = {"sheet": sheet.name, "labels": likely_header(head), "columns": {}, "holds_ids": holds_ids(head)}
        if not sheet.visible:  # an old list, a sheet of drop-down choices: hidden for a reason
            yield ("skipped", f"{where}是隐藏的工作表，未导入", guess)
            continue
        try:
            match = detect_header(head, spec.fields, required=spec.required, override=override or None)
        except HeaderNotFound as exc:
            yield ("skipped", f"{where}：{exc}", guess)
            continue
        labels = {f: match.labels[i] for f, i in match.columns.items()}
        info = {  # kept in the batch's summary and shown: an ID number typed into a header row is masked there too
            "sheet": sheet.name,
            "header_rows": [r + 1 for r in match.header_rows],
            "columns": {f: mask_in_text(str(label)) for f, label in labels.items()},
            "unknown": [mask_in_text(str(x)) for x in match.unknown],
            "labels": [mask_in_text(str(x)) for x in match.labels],
        }
        yield ("sheet", info, labels, match.columns)
        columns = columns_for(match.columns)
        filled: dict[int, list[int]] = {}
        rows = _merged_down(itertools.chain(head, sheet.rows), sheet.merged, match, filled)
        rows = iter_data_rows(rows, match)
        kept = None if sheet.merged else _kept(columns)
        while chunk := list(itertools.islice(rows, CHUNK)):
            records = _cleaned(spec, labels, columns, chunk, shed=lagging(), kept=kept)
            if filled:
                _note_filled(records, filled, match.columns, labels)
            yield ("records", records)


MERGED_NOTE = "合并单元格，已按合并区域首行的值填入"


def _merged_down(rows: Iterable[list], ranges: list, match, filled: dict[int, list[int]]) -> Iterable[list]:
    """`rows` (from the sheet's first) with the cells of a range merged down over data rows (below `match`'s header)
    given the value of its first row, where they are blank (calamine gives it to the first row only): a township
    or a family's address typed once for its rows. Down only: a range merged across columns keeps its value in its
    first column. A row that says nothing of its own (blank, or a template's row number) is left so, not made a
    child without a name. `filled` gets {row index: the columns filled}."""
    starts = collections.defaultdict(list)  # row index → (column, last row) of each range beginning there
    for first, left, last, right in ranges:
        if first >= match.data_start and last > first:
            starts[first].extend((column, last) for column in range(left, right + 1))
    if not starts:
        return rows
    return _filling(rows, starts, sorted(match.columns.values()), filled)


def _filling(rows: Iterable[list], starts: dict, mapped: list[int], filled: dict[int, list[int]]) -> Iterator[list]:
    active = []  # (column, last row, value) of the ranges the rows are in
    for index, row in enumerate(rows):
        if active:
            active = [fill for fill in active if fill[1] >= index]
        if active and not says_nothing(row, mapped):
            for column, _, value in active:
                if column >= len(row):
                    row.extend([""] * (column + 1 - len(row)))
                if row[column] == "" or row[column] is None:
                    row[column] = value
                    filled.setdefault(index, []).append(column)
        for column, last in starts.get(index, ()):
            value = row[column] if column < len(row) else ""
            if value != "" and value is not None:
                active.append((column, last, value))
        yield row


def _note_filled(records: Records, filled: dict[int, list[int]], columns: dict[str, int], labels: dict) -> None:
    """A repair noted on each record for each mapped cell _merged_down filled (and the chunk's rows forgotten)."""
    fields = {index: name for name, index in columns.items()}
    for record in records:
        for column in filled.pop(record.row - 1, ()):
            if column in fields:
                record.repairs.append((label(fields[column], labels), MERGED_NOTE))
    if records:
        for index in [i for i in filled if i < records[-1].row]:  # rows of the chunk that were not data
            del filled[index]


def _kept(columns: list) -> int | None:
    """How many of a sheet's columns (columns_for) a lagging chunk is cleaned to, the rest left to the writing half
    (`_cleaned`): those before the ID number, which the writing half then cleans itself, rather than what cleaning it
    learnt (IdNumber, which settling reads) crossing the pipe; without an ID number, the first half. None: it cannot
    leave any (a single column). (Nor can a sheet with merged cells, prepared: the notes of its filled cells come
    after every other repair of their row, _note_filled.)"""
    fields = [name for name, *_ in columns]
    if "id_number" in fields[1:]:
        return fields.index("id_number")
    return (len(fields) + 1) // 2 if len(fields) > 1 else None


def _cleaned(spec, labels, columns, chunk: list[tuple[int, list]], *, shed: bool = False, kept: int | None = None) -> Records:
    """The records of `chunk`, cleaned and settled. `shed`: the writing half has waited for this process (lagging), and
    the chunk is left for it to finish (`finished`): its columns from `kept` on to clean and its identities to settle,
    where the sheet allows (`kept`), and its names' pinyin, which the writing half works out for the children it adds
    (apply._new_child_row)."""
    if shed and kept is not None:
        records = Records(clean_chunk(chunk, columns[:kept], labels))
        records.rest = kept
        return records
    records = Records(clean_chunk(chunk, columns, labels))
    if spec.person:
        _settle(spec, labels, records)
        if not shed:
            with_pinyin(records)
    return records


def finished(spec, labels, columns, records: Records) -> Records:
    """A chunk as `_cleaned` makes it unshed, from one a lagging child left unfinished (`records.rest` is not None),
    here in the writing process: the rest of the sheet's `columns` (columns_for, made anew here) cleaned, identities
    settled."""
    clean_rest(records, columns[records.rest:], labels)
    if spec.person:
        _settle(spec, labels, records)
    records.rest = None
    return records


def _settle(spec, labels, records: Records) -> None:
    for record in records:
        settle_identity(record, labels, needs_person_fields=spec.needs_person_fields)


def worth_a_process(estimated_rows: int | None) -> bool:
    """Whether to prepare in a child process: for a large file (settings.KONGCHUO_IMPORT_PROCESS_ROWS rows or
    more; None turns it off), on a machine with a core to spare, from a process with no other thread.

    A file that does not say how many rows it has (legacy .xls) is prepared here. So is every file imported
    by `kongchuo serve`'s embedded task thread, beside the web server's threads: a fork copies only the
    thread that forks, and a lock another thread held at that moment (one of stdout's, say) would stay
    held in the child for ever. A separate `kongchuo db_worker` process has no such threads."""
    least = settings.KONGCHUO_IMPORT_PROCESS_ROWS
    if least is None or estimated_rows is None or estimated_rows < least:
        return False
    return (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods() and _alone()


def _alone() -> bool:
    return threading.active_count() == 1


def in_child_process(produce: Callable[..., Iterator]) -> Iterator:
    """The items of `produce(lagging=…)`, made in a forked child process and passed back through a pipe, the child
    running ahead by at most what the pipe holds (its send blocks until this process reads). An exception in
    the child is raised here; closing this generator early stops the child. If no process can be started,
    the items are made here.

    `lagging()` tells the child whether this process has taken every item it sent (nothing waits in the pipe,
    FIONREAD): then this one is waiting for the next, or soon will be, and the child, the slower of the two just
    now, may leave work to it. Asked before each chunk, it shares the work out a chunk at a time, with no tuning:
    measured 2026-12-02 on a 200,000-row list, the importing process waited 0.1–0.2 s for chunks over a run where it
    had waited 0.5–1.1 s with the pinyin alone left to it (a window of recent waits deciding)."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    _widen(receiver)
    child = context.Process(target=_send_all, args=(produce, sender, receiver, os.getpid()), name="kongchuo-import-prepare", daemon=True)
    try:
        try:
            child.start()
        except OSError:  # no memory or no process slot for a fork: slower, not failed
            child = None
            yield from produce()
            return
        sender.close()  # only the child writes: when it is gone, recv() sees the end of the pipe
        while True:
            try:
                message = receiver.recv_bytes()
            except EOFError:
                raise RuntimeError(f"准备数据的子进程意外退出（退出码 {_exit_code(child)}）") from None
            kind, payload = pickle.loads(message)
            if kind == "done":
                return
            if kind == "raised":
                raise payload
            yield payload
    finally:
        receiver.close()
        sender.close()
        if child is not None:
            if child.is_alive():
                child.kill()
            child.join()


def _send_all(produce: Callable[..., Iterator], sender, receiver, parent: int) -> None:
    # The fork gave this process the reading end too: with it open, a send into a full pipe whose reader has
    # been killed would wait for ever instead of failing.
    receiver.close()
    # The importing process stops this one: Ctrl-C in a terminal reaches both, and is the importer's to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(parent)

    def lagging() -> bool:
        return _unread(sender) == 0  # (None, where the pipe cannot tell: the child does all its work)

    def send(message) -> None:
        sender.send_bytes(ForkingPickler.dumps(message))

    try:
        for item in produce(lagging=lagging):
            send(("item", item))
        send(("done", None))
    except (BrokenPipeError, ConnectionResetError):
        return  # the importing process stopped reading (it failed, or was killed): nothing to tell
    except BaseException as exc:  # noqa: BLE001 — every failure goes back to the importing process
        try:
            send(("raised", _portable(exc)))
        except (BrokenPipeError, ConnectionResetError):
            pass


def _unread(pipe) -> int | None:
    """The bytes sent into `pipe` that the other end has not read yet (FIONREAD), or None where it cannot tell."""
    count = array.array("i", [0])
    try:
        fcntl.ioctl(pipe.fileno(), termios.FIONREAD, count, True)
    except (OSError, AttributeError):
        return None
    return count[0]


def _widen(pipe) -> None:
    """The pipe as wide as Linux lets a process make it (1 MiB by default, /proc/sys/fs/pipe-max-size): a chunk
    pickles to about 600 KB, so the child can then run a chunk or two ahead, and a moment's delay on either
    side need not keep the other waiting. Elsewhere (and where it is refused) the pipe stays as it is."""
    try:
        with open("/proc/sys/fs/pipe-max-size") as limit:
            size = int(limit.read())
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, size)
    except (OSError, ValueError, AttributeError):  # not Linux, or no wider pipe for this process
        pass


def _die_with(parent: int) -> None:
    """On Linux, have the kernel kill this process when the importing one dies, at once: not at its next send,
    with the importer's database connection (inherited, never used) still open meanwhile."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the broken pipe stops it instead
        return
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)


def _portable(exc: BaseException) -> BaseException:
    """`exc` as the other process can unpickle it, with the child's traceback as a note."""
    try:
        portable = pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 — an exception type that does not pickle
        portable = RuntimeError(f"{type(exc).__name__}: {exc}")
    portable.add_note("在准备数据的子进程中：\n" + "".join(traceback.format_exception(exc)))
    return portable


def _exit_code(child) -> int | None:
    child.join(timeout=5)
    return child.exitcode
