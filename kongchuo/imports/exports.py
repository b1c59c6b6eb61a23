"""The error report: the original rows with a reason column, as .xlsx (IDs masked, formulas neutralised)."""

from kongchuo.core.masking import mask_in_cell
from kongchuo.core.xlsx import write_table
from kongchuo.imports.models import ImportBatch


def error_report_xlsx(batch: ImportBatch, *, unmasked: bool = False) -> tuple[bytes, int]:
    """`unmasked` only for roles entitled to full ID numbers (the caller checks and audits)."""
    issues = list(batch.issues.order_by("id"))  # the file's order, sheet after sheet
    width = max((len(i.raw) for i in issues), default=0)
    several = len(batch.summary.get("sheets", [])) > 1  # even when the problems are all on one of them
    # Everything the file gave: its cells, its column titles, and reasons that quote a cell ("民族“…”无法识别").
    show = str if unmasked else mask_in_cell
    where = ["工作表"] if several else []
    headers = [*where, "行号", "类型", "列", "原因", *(show(c) for c in _header_labels(batch, width))]
    rows = (
        [*([i.sheet] if several else []), i.row, i.get_kind_display(), show(i.column), show(i.message), *(show(c) for c in i.raw)]
        for i in issues
    )
    return write_table("错误报告", headers, rows)


def _header_labels(batch: ImportBatch, width: int) -> list[str]:
    """The file's own column titles, so the report reads like the original: when its data sheets share them (a
    workbook of township sheets laid out alike); otherwise each column by its number, 第N列."""
    sheets = batch.summary.get("sheets") or [{}]
    shared = {tuple(sheet.get("labels", [])) for sheet in sheets}
    labels = list(sheets[0].get("labels", []))[:width] if len(shared) == 1 else []
    return [label or f"第{n + 1}列" for n, label in enumerate(labels)] + [f"第{n + 1}列" for n in range(len(labels), width)]
