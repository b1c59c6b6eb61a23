"""`kongchuo findings export FILE.csv`: the current (open and confirmed) findings, columns as in CONTRACT.md."""

from pathlib import Path

from django.core.management.base import BaseCommand

from kongchuo.matching.models import LIVE_STATUSES, Finding
from kongchuo.matching.services import findings_export_csv


class Command(BaseCommand):
    help = "Findings tools. `findings export FILE.csv` writes the current findings (ID numbers unmasked; logged)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["export"])
        parser.add_argument("file", type=Path)
        parser.add_argument("--county", help="6-digit county code")
        parser.add_argument("--category", help="only this category")

    def handle(self, *args, action, file, county, category, **options):
        findings = Finding.objects.filter(status__in=LIVE_STATUSES).order_by("category", "id")
        if county:
            findings = findings.filter(county__code=county)
        if category:
            findings = findings.filter(category=category)
        rows = findings_export_csv(actor=None, findings=findings, path=file)
        self.stdout.write(f"已导出 {rows} 条比对发现：{file}")
