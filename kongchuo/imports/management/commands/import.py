"""`kongchuo import SOURCE FILE [--dry-run] [--json]` (CONTRACT.md): exit 0 applied or dry run fine, 1 rejected."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kongchuo.accounts.models import User
from kongchuo.imports.models import ImportSource, RowIssue
from kongchuo.imports.readers import estimate_rows
from kongchuo.imports.services import ImportFailed, import_run, import_store, stored_path


class Command(BaseCommand):
    help = "Import one list (xlsx, xls, csv in UTF-8 or GBK): schools, household, registry, attendance, department lists."

    def add_arguments(self, parser):
        parser.add_argument("source", choices=ImportSource.values)
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object")
        parser.add_argument("--county", help="6-digit county code (needed when the database holds several counties)")
        parser.add_argument("--user", help="record the import as done by this user")

    def handle(self, *args, source, file, dry_run, as_json, county, user, **options):
        actor = User.objects.filter(username=user).first() if user else None
        if user and actor is None:
            raise CommandError(f"没有用户 {user}")
        if not file.exists():
            raise CommandError(f"文件不存在：{file}")
        if not file.is_file():
            raise CommandError(f"不是文件：{file}（请给出一个 .xlsx、.xls 或 .csv 文件）")
        bar = None
        try:
            batch = import_store(actor=actor, source=source, upload=file, file_name=file.name, county_code=county)
            if sys.stderr.isatty():
                bar = _ProgressBar(self.stderr, estimate_rows(stored_path(batch), batch.file_type))
            summary = import_run(batch=batch, actor=actor, dry_run=dry_run, on_progress=bar.update if bar else None)
        except ImportFailed as exc:
            summary, batch = {"rows": 0, "created": 0, "updated": 0, "unchanged": 0, "rejected": 0, "error": str(exc)}, None
        if bar:
            bar.close()
        errors, flags = [], []
        if batch is not None:
            for issue in batch.issues.filter(kind__in=[RowIssue.Kind.REJECTED, RowIssue.Kind.FLAGGED]).order_by("id"):
                told = {"row": issue.row, "column": issue.column, "message": issue.message}
                if issue.sheet and len(summary.get("sheets", [])) > 1:
                    told["sheet"] = issue.sheet
                (errors if issue.kind == RowIssue.Kind.REJECTED else flags).append(told)
        failed = bool(summary.get("error")) or summary.get("rejected", 0) > 0
        if as_json:
            out = {k: summary.get(k, 0) for k in ("rows", "created", "updated", "unchanged", "rejected")}
            out["errors"] = errors or ([{"row": 0, "column": "", "message": summary["error"]}] if summary.get("error") else [])
            out.update({k: summary[k] for k in ("flagged", "pending_ids", "conflicts", "passed_over") if k in summary})
            if batch is not None:
                out["flags"] = flags
            self.stdout.write(_json_dumps(out))
        else:
            self._report(summary, errors, flags, dry_run, batch)
        if failed:
            sys.exit(1)

    def _report(self, summary, errors, flags, dry_run, batch):
        if summary.get("error"):
            self.stderr.write(f"未导入：{summary['error']}")
            return
        verb = "预检（未写入）" if dry_run else ("未导入，未写入任何数据" if errors else "已导入")
        pending = f"（其中证件号待核正 {summary['pending_ids']}）" if summary.get("pending_ids") else ""
        self.stdout.write(
            f"{verb}：共 {summary['rows']} 行，新增 {summary['created']}，更新 {summary['updated']}，"
            f"未变 {summary['unchanged']}，拒收 {summary['rejected']}，待核实 {summary.get('flagged', 0)}{pending}，"
            f"身份冲突 {summary.get('conflicts', 0)}"
        )
        for passed in summary.get("passed_over", []):
            self.stdout.write(f"  未导入（未找到表头）：{passed}")
        for repair in summary.get("repairs", [])[:20]:
            self.stdout.write(f"  已修正 {repair['count']} 处：{repair['column']} {repair['message']}")
        for heading, told, what in (("拒收：", errors, "行被拒收"), ("待核实：", flags, "处待核实")):
            if told:
                self.stdout.write(heading)
            for item in told[:50]:
                where = f"工作表“{item['sheet']}”" if "sheet" in item else ""
                self.stdout.write(f"  {where}第{item['row']}行 {item['column']}：{item['message']}")
            if len(told) > 50:
                self.stdout.write(f"  ……另有 {len(told) - 50} {what}（完整清单见网页导入记录 #{batch.pk} 与其错误报告）")


def _json_dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


class _ProgressBar:
    WIDTH = 30

    def __init__(self, stream, total: int | None):
        self.stream, self.total = stream, total

    def update(self, rows: int) -> None:
        if self.total:
            share = min(rows / self.total, 1.0)
            filled = int(share * self.WIDTH)
            text = f"\r处理中 [{'#' * filled}{'.' * (self.WIDTH - filled)}] {rows:,}/{self.total:,} 行 {share:.0%}"
        else:
            text = f"\r处理中：{rows:,} 行"
        self.stream.write(text, style_func=str, ending="")  # a progress bar, not an error: no red
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("", style_func=str)
