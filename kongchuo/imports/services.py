"""Import flow: store the upload safely, then run it (dry run or apply) in ONE transaction.

`import_store` keeps the file under a generated name in the data directory (never the web root)
after checking its type by content and its size. `import_run` reads, cleans and applies the rows
in chunks inside one transaction; a dry run, or any rejected row, rolls everything back, so a file
is applied whole or not at all. Killing the process mid-run leaves the database as it was.
"""

import contextlib
import datetime as dt
import functools
import gc
import hashlib
import json
import logging
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from kongchuo.accounts.models import Department, Role
from kongchuo.audit.services import audit_record
from kongchuo.core.bulkload import secondary_indexes_deferred
from kongchuo.core.masking import mask_in_text
from kongchuo.imports import readers
from kongchuo.imports.apply import Context, db_json, first_ids, insert_rows, refuse_strangers
from kongchuo.imports.models import PROVENANCE_SOURCE, ColumnMapping, ImportBatch, ImportSource, RowIssue
from kongchuo.imports.prepare import finished, in_child_process, prepared, worth_a_process
from kongchuo.imports.records import INCOMPLETE, PENDING_ID, columns_for
from kongchuo.imports.sources import LIVE_INDEXES, SPECS
from kongchuo.people.models import Child
from kongchuo.places.models import Division

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
LIAISON_SOURCES = {
    Department.POLICE: {ImportSource.HOUSEHOLD},
    Department.DISABILITY: {ImportSource.DISABILITY},
    Department.CIVIL_AFFAIRS: {ImportSource.CIVIL_AFFAIRS},
    Department.RURAL_REVITALISATION: {ImportSource.RURAL_REVITALISATION},
}


class ImportFailed(Exception):
    """The whole file cannot be imported (type, size, header); `str(exc)` is for the user."""


def allowed_sources(user) -> list[str]:
    if user is None:  # the command line runs as the operator of the machine
        return list(ImportSource.values)
    if user.role in (Role.COUNTY_ADMIN, Role.COUNTY_STAFF) and user.division.level == Division.Level.COUNTY:
        return list(ImportSource.values)
    if user.role == Role.DEPARTMENT_LIAISON and user.division.level == Division.Level.COUNTY:
        return [s for s in ImportSource.values if s in LIAISON_SOURCES.get(user.department, set())]
    return []


def county_for(user, county_code: str | None = None) -> Division:
    if user is not None:
        return user.division
    counties = Division.objects.filter(level=Division.Level.COUNTY)
    if county_code:
        counties = counties.filter(code=county_code)
    found = counties.count()
    if found == 1:
        return counties.get()
    if county_code:
        raise ImportFailed(f"没有区划代码为{county_code}的县")
    if not found:
        raise ImportFailed("系统中还没有任何县的区划：请先载入本县的区划（演示县可用 kongchuo demo --places-only 载入），再导入名单")
    raise ImportFailed("系统中有多个县，请用 --county 指定导入到哪个县（6位区划代码）")


def stored_path(batch: ImportBatch) -> Path:
    return settings.FILES_DIR / "imports" / batch.stored_name


def import_store(*, actor, source: str, upload, file_name: str, county_code: str | None = None) -> ImportBatch:
    """Save an uploaded file (a path or a file object) under a generated name and record the batch."""
    if source not in allowed_sources(actor):
        raise PermissionDenied("您无权导入此类名单")
    county = county_for(actor, county_code)
    folder = settings.FILES_DIR / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4().hex}.upload"
    digest, size = hashlib.sha256(), 0
    source_file = open(upload, "rb") if isinstance(upload, (str, Path)) else upload  # noqa: SIM115
    try:
        with open(target, "wb") as out:
            for block in iter(lambda: source_file.read(1 << 20), b""):
                size += len(block)
                if size > MAX_UPLOAD_BYTES:
                    raise ImportFailed(f"文件超过{MAX_UPLOAD_BYTES // (1024 * 1024)}MB上限，请拆分后分批导入")
                digest.update(block)
                out.write(block)
        kind = readers.sniff(target)
        merged = readers.check_safe(target, max_bytes=MAX_UPLOAD_BYTES)
    except (ImportFailed, readers.FileRejected) as exc:
        target.unlink(missing_ok=True)
        raise ImportFailed(str(exc)) from exc
    finally:
        if source_file is not upload:
            source_file.close()
    final = target.with_suffix("." + kind)
    shutil.move(target, final)
    batch = ImportBatch.objects.create(
        source=source,
        county=county,
        file_name=Path(file_name).name[:255],
        file_hash=digest.hexdigest(),
        file_size=size,
        file_type=kind,
        stored_name=final.name,
        merged_cells=merged,
        uploaded_by=actor,
    )
    return batch


# --- progress (a file, so another process can read it while the import's transaction is open) ---


def progress_path(batch: ImportBatch) -> Path:
    return settings.FILES_DIR / "imports" / f"{batch.pk}.progress.json"


def write_progress(batch: ImportBatch, **state) -> None:
    path = progress_path(batch)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(state, ensure_ascii=False))
    partial.replace(path)


PROGRESS_EVERY = 0.5  # seconds: how often a running import rewrites its progress file


class _Progress:
    """A running import's progress file, rewritten at most every PROGRESS_EVERY seconds (and always the first time
    and when `final`): a page polling it sees no difference, and the import does not wait for the disk per chunk.
    (Replacing a file forces ext4 to write the new one out first: while the import's own writes keep the disk
    busy, that took 5 to 20 ms a time, up to 2 s of a 200,000-row list written as 100 chunks; measured 2026-12-01.)"""

    def __init__(self, batch: ImportBatch, **fixed):
        self.batch, self.fixed, self.due = batch, fixed, 0.0

    def __call__(self, *, final: bool = False, **state) -> None:
        if final or time.monotonic() >= self.due:
            write_progress(self.batch, **self.fixed, **state)
            self.due = time.monotonic() + PROGRESS_EVERY


STALE_AFTER = dt.timedelta(minutes=30)


def mark_interrupted(county) -> int:
    """Batches left 'applying' or 'queued' by a killed process: their transaction rolled back, so say so.

    A running import rewrites its progress file every chunk; one silent for STALE_AFTER is gone.
    """
    now = timezone.now()
    stale = []
    running = ImportBatch.objects.filter(county=county, status__in=[ImportBatch.Status.APPLYING, ImportBatch.Status.QUEUED])
    for batch in running.only("id", "uploaded_at"):
        path = progress_path(batch)
        last = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC) if path.exists() else batch.uploaded_at
        if now - last > STALE_AFTER:
            stale.append(batch.pk)
    return ImportBatch.objects.filter(pk__in=stale).update(
        status=ImportBatch.Status.FAILED, message="处理中断（进程被终止或服务重启），未写入任何数据；可重新上传或重新预检")


def read_progress(batch: ImportBatch) -> dict:
    try:
        return json.loads(progress_path(batch).read_text())
    except (OSError, ValueError):
        return {}


# --- running -------------------------------------------------------------------------------------


class _Rollback(Exception):
    pass


def _mapping_for(batch: ImportBatch) -> dict:
    if batch.mapping:
        return batch.mapping
    saved = ColumnMapping.objects.filter(source=batch.source, county=batch.county).first()
    return saved.mapping if saved else {}


def import_run(*, batch: ImportBatch, actor, dry_run: bool, on_progress: Callable[[int], None] | None = None) -> dict:
    """Read, check and apply `batch`'s file. Returns the summary (also saved on the batch)."""
    with _collector_paused():  # to the end: writing the row issues among a million live objects is no cheaper
        return _import_run(batch=batch, actor=actor, dry_run=dry_run, on_progress=on_progress)


def _import_run(*, batch: ImportBatch, actor, dry_run: bool, on_progress: Callable[[int], None] | None) -> dict:
    spec = SPECS[batch.source]
    path = stored_path(batch)
    counts: Counter = Counter()
    issues: list[RowIssue] = []
    repairs: dict[tuple[str, str], list[tuple[str, int]]] = {}  # (column, note) → (sheet, row) of each
    # The sheets read; those passed over (no header found, or hidden), with why and their likeliest header to map by hand.
    sheets_used, unmatched = [], []
    now = timezone.now()
    ctx = None
    held, later = [], []  # rows waiting for the rest of the file (_apply_chunk)
    batch.status = ImportBatch.Status.APPLYING
    batch.save(update_fields=["status"])
    try:
        total = readers.estimate_rows(path, batch.file_type)
        with _sqlite_cache_for_bulk_writes(), transaction.atomic(), _indexes_deferred(spec, total, dry_run) as (deferred, fresh):
            ctx = Context(batch=batch, county=batch.county, source=PROVENANCE_SOURCE.get(batch.source, ""), actor=actor, now=now,
                          first_ids=fresh)
            header_error, labels, sheet = "", {}, ""
            events = functools.partial(prepared, path, kind=batch.file_type, spec=spec, override=_mapping_for(batch),
                                       merged=batch.merged_cells)
            stream = in_child_process(events) if worth_a_process(total) else events()
            progress = _Progress(batch, total=total, indexes_deferred=len(deferred))
            with contextlib.closing(stream):  # a failure below stops the child process at once
                for event in stream:
                    if event[0] == "skipped":
                        header_error = header_error or event[1]
                        unmatched.append({**event[2], "why": event[1]})
                    elif event[0] == "sheet":
                        sheets_used.append(event[1])
                        labels, sheet, fields, columns = event[2], event[1]["sheet"], event[3], None
                    else:
                        if event[1].rest is not None:  # the child lagged: its rest is done here (prepare.py)
                            columns = columns_for(fields) if columns is None else columns
                            finished(spec, labels, columns, event[1])
                        _apply_chunk(ctx, spec, labels, event[1], counts=counts, repairs=repairs, issues=issues, sheet=sheet, held=held,
                                     later=later)
                        counts["rows"] += len(event[1])
                        progress(rows=counts["rows"], phase="预检" if dry_run else "导入")
                        if on_progress:
                            on_progress(counts["rows"])
            # What is left (the rows held back, the deferred indexes, the commit) can take a few seconds on a large list.
            progress(rows=counts["rows"], phase="收尾", final=True)
            for where, their_labels, records in later:  # before the rows held back, which may name a child these add
                _write_records(ctx, spec, their_labels, records, counts=counts, issues=issues, sheet=where)
            _write_held(ctx, spec, held, counts=counts, issues=issues)
            in_file = {info["sheet"]: n for n, info in enumerate(sheets_used)}
            issues.sort(key=lambda i: (in_file.get(i.sheet, len(in_file)), i.row))  # file order: the held rows' too
            if not sheets_used:
                raise ImportFailed(header_error or "文件中没有找到数据表")
            if not counts["rows"]:
                raise ImportFailed("找到了表头，但表头下没有数据行：请检查是否上传了空白模板或选错了工作表")
            for guess in unmatched:
                if guess["holds_ids"]:  # a sheet of children passed over: nothing of the file goes in, not some
                    raise ImportFailed(f"{guess['why']}；该工作表中有身份证号，像是名单：请指定列对应、改正表头，或删除该工作表后重新导入")
            summary = _summary(counts, ctx, repairs, sheets_used)
            # A township's sheet whose header was not found must not go unnoticed; its likeliest header is offered to map.
            summary.update(_passed_over(unmatched))
            if dry_run or counts["rejected"]:
                raise _Rollback()
            audit_record(
                actor=actor,
                action="load",
                obj=batch,
                chain=batch.county.prefix,
                summary=f"导入{batch.get_source_display()}《{batch.file_name}》：新增{counts['created']}，更新{counts['updated']}，"
                f"未变{counts['unchanged']}",
                after=summary,
            )
    except _Rollback:
        pass
    except (ImportFailed, readers.FileRejected) as exc:
        summary = {"rows": 0, "rejected": 0, "error": str(exc), "sheets": sheets_used, **_passed_over(unmatched)}
        _finish(batch, ImportBatch.Status.REJECTED, summary, [], message=str(exc))
        raise ImportFailed(str(exc)) from exc
    except Exception as exc:
        _finish(batch, ImportBatch.Status.FAILED, {"error": str(exc)}, [], message=f"导入出错，未写入任何数据：{exc}")
        raise
    if counts["rejected"]:
        status = ImportBatch.Status.REJECTED
    elif dry_run:
        status = ImportBatch.Status.PREVIEWED
    else:
        status = ImportBatch.Status.APPLIED
    summary["dry_run"] = dry_run
    try:
        _finish(batch, status, summary, issues, actor=None if dry_run else actor)
    except Exception as exc:  # noqa: BLE001 — the file's data is in (or, for a dry run, rolled back) whatever this was
        # The batch must still say what happened to the file, not stay "applying" (and later "interrupted, nothing
        # written", which would be false): its status and summary without the list of row issues, and why.
        logger.exception("import batch %s: the row issues could not be saved", batch.pk)
        _finish(batch, status, summary, [], actor=None if dry_run else actor, message=f"逐行问题清单未能保存（{exc}），请联系管理员")
    return summary


@contextlib.contextmanager
def _indexes_deferred(spec, total: int | None, dry_run: bool):
    """In the import's transaction: the indexes its tables would outgrow wait for the end (bulkload), people_child's
    unique one on ID numbers too when no child has one yet (first_ids: then the import looks none up through it).
    Not in a dry run, which rolls back before the end: its preview must fail where applying the file would.
    Yields (the indexes deferred, whether the import is the first with ID numbers)."""
    fresh = first_ids()
    unique_too = [Child] if fresh and not dry_run else []
    with secondary_indexes_deferred(spec.tables, incoming=total, keep_leading=LIVE_INDEXES, unique_too=unique_too) as deferred:
        yield deferred, fresh


@contextlib.contextmanager
def _collector_paused():
    """No cyclic garbage collection while an import runs; reference counting still frees what it drops.

    An import makes millions of short-lived objects and keeps a few hundred thousand (the people it
    has met, pypinyin's dictionaries): the collector would walk those again and again, a quarter of
    the run's time, to find next to no cycles.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextlib.contextmanager
def _sqlite_cache_for_bulk_writes(kib: int = 64 * 1024):
    """A larger SQLite page cache while an import writes (PostgreSQL: nothing to do).

    With SQLite's default 2 MB, the indexes of a county's children no longer fit: every chunk then
    spills and rereads index pages, and a 200,000-row list takes half as long again.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{kib}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def _apply_chunk(
    ctx: Context, spec, labels: dict, records: list, *, counts: Counter, repairs: dict, issues: list, sheet: str, held: list,
    later: list,
) -> None:
    """Check and write one chunk of prepared records, counting outcomes and keeping repairs, rejections and flags.
    Rows that lack what a new child needs (no ID number, gender or birth date) wait in `held`, as (sheet, labels,
    records), for _write_held: which child they name is decided once the rest of the file is written. The rows
    the source writes last (SourceSpec.later) wait in `later`, as the same triples, to be written just before."""
    for record in records:
        if not record.rejected:
            spec.check(ctx, record, labels)
        for column, note in record.repairs:
            repairs.setdefault((column, note), []).append((sheet, record.row))
    if spec.person and (waiting := [r for r in records if not r.rejected and INCOMPLETE in r.values]):
        held.append((sheet, labels, waiting))
        records = [r for r in records if r.rejected or INCOMPLETE not in r.values]
    if spec.later and (waiting := [r for r in records if not r.rejected and spec.later(r)]):
        later.append((sheet, labels, waiting))
        records = [r for r in records if r.rejected or not spec.later(r)]
    _write_records(ctx, spec, labels, records, counts=counts, issues=issues, sheet=sheet)


def _write_held(ctx: Context, spec, held: list, *, counts: Counter, issues: list) -> None:
    """The rows _apply_chunk held back, now that every other row of the file is written: each joins the
    child it names, or is refused (all at once, in file order: one look-up of the county's children for them all)."""
    if not held:
        return
    refuse_strangers(ctx, [record for _, _, records in held for record in records])
    for sheet, labels, records in held:
        _write_records(ctx, spec, labels, records, counts=counts, issues=issues, sheet=sheet)


def _write_records(ctx: Context, spec, labels: dict, records: list, *, counts: Counter, issues: list, sheet: str) -> None:
    good = []
    for record in records:
        if record.rejected:
            counts["rejected"] += 1
            issues.append(_issue(ctx.batch, sheet, record, RowIssue.Kind.REJECTED, *record.error))
        else:
            good.append(record)
    ctx.sheet = sheet
    outcomes = spec.apply(ctx, good, labels) if good else []
    for record, outcome in zip(good, outcomes, strict=True):
        counts[outcome] += 1
        for column, message in record.flags:
            counts["flagged"] += 1
            counts["pending_ids"] += message.startswith(PENDING_ID)
            issues.append(_issue(ctx.batch, sheet, record, RowIssue.Kind.FLAGGED, column, message))


def _issue(batch: ImportBatch, sheet: str, record, kind: str, column: str, message: str) -> RowIssue:
    # A message may quote a cell (民族“…”无法识别): an ID number typed in the wrong column is masked there too. The row
    # itself, in `raw`, is masked wherever it is shown or exported to someone not entitled to it.
    return RowIssue(batch=batch, sheet=sheet[:100], row=record.row, column=mask_in_text(column)[:60], kind=kind,
                    message=mask_in_text(message)[:300], raw=record.original())


def _passed_over(unmatched: list[dict]) -> dict:
    """The summary's say of the sheets passed over: why each (page, command line), and their likeliest headers."""
    return {"passed_over": [guess["why"] for guess in unmatched], "unmatched": unmatched}


def _summary(counts: Counter, ctx, repairs, sheets) -> dict:
    several = len(sheets) > 1  # then a repair's example rows say their sheet
    return {
        "rows": counts["rows"],
        "created": counts["created"],
        "updated": counts["updated"],
        "unchanged": counts["unchanged"],
        "rejected": counts["rejected"],
        "flagged": counts["flagged"],
        "pending_ids": counts["pending_ids"],  # of the flags, rows kept without a usable ID number (证件号待核正)
        "conflicts": ctx.counts["conflicts"] if ctx else 0,
        "repairs": [
            {"column": mask_in_text(c), "message": mask_in_text(m), "count": len(rows),
             "rows": [f"{sheet}{row}" if several else row for sheet, row in rows[:10]]}
            for (c, m), rows in sorted(repairs.items(), key=lambda kv: -len(kv[1]))
        ],
        "sheets": sheets,
    }


@transaction.atomic
def _finish(batch: ImportBatch, status: str, summary: dict, issues: list[RowIssue], *, actor=None, message: str = "") -> None:
    batch.issues.all().delete()
    # As plain rows (apply.insert_rows): a first household list flags thousands of children without an ID number,
    # and bulk_create's per-value preparation was most of the time an import spent after its last row.
    insert_rows(RowIssue, ["batch", "sheet", "row", "column", "kind", "message", "raw"],
                [(batch.pk, i.sheet, i.row, i.column, str(i.kind), i.message, db_json(i.raw))
                 for i in issues])
    batch.status, batch.summary, batch.message, batch.progress = status, summary, message, summary.get("rows", 0)
    fields = ["status", "summary", "message", "progress"]
    if status == ImportBatch.Status.APPLIED:
        batch.applied_at, batch.applied_by = timezone.now(), actor
        fields += ["applied_at", "applied_by"]
    batch.save(update_fields=fields)
    progress_path(batch).unlink(missing_ok=True)
    if status == ImportBatch.Status.APPLIED and connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            # Keep the planner's statistics fresh after a bulk change; sampling (analysis_limit) makes
            # that 0.05 s instead of a full ANALYZE of every index of a 200,000-row table (1 s).
            cursor.execute("PRAGMA analysis_limit = 1000")
            cursor.execute("PRAGMA optimize")
            cursor.execute("PRAGMA analysis_limit = 0")  # the connection's later ANALYZEs read everything again


@transaction.atomic
def mapping_save(*, actor, batch: ImportBatch, mapping: dict) -> ColumnMapping:
    """Save a manual column mapping for the batch's source and county, reused by later imports."""
    batch.mapping = mapping
    batch.save(update_fields=["mapping"])
    saved, _ = ColumnMapping.objects.update_or_create(
        source=batch.source, county=batch.county, defaults={"mapping": mapping, "updated_by": actor}
    )
    audit_record(
        actor=actor,
        action="update",
        obj=saved,
        chain=batch.county.prefix,
        summary=f"保存{batch.get_source_display()}的列对应",
        after={"mapping": mapping},
    )
    return saved
