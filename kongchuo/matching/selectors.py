from django.db.models import Count

from kongchuo.matching.models import LIVE_STATUSES, Category


def category_township_table(findings) -> dict:
    """Live findings as rows per category and columns per township, with totals, for the 比对 page."""
    counts = (
        findings.filter(status__in=LIVE_STATUSES)
        .values("category", "township_id", "township__name")
        .annotate(n=Count("id"))
    )
    townships, cells = {}, {}
    for row in counts:
        townships[row["township_id"]] = row["township__name"] or "未定位"
        cells[(row["category"], row["township_id"])] = row["n"]
    columns = sorted(townships.items(), key=lambda kv: kv[1])
    rows = []
    for category in Category:
        values = [cells.get((category.value, tid), 0) for tid, _ in columns]
        if any(values):
            rows.append(
                {
                    "category": category.value,
                    "label": category.label,
                    "cells": list(zip([t for t, _ in columns], values, strict=True)),
                    "total": sum(values),
                }
            )
    return {"columns": columns, "rows": rows, "total": sum(r["total"] for r in rows)}
