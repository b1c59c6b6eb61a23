"""`kongchuo cases export FILE.xlsx`: the ledger as the county submits it upward."""

from pathlib import Path

from django.core.management.base import BaseCommand

from kongchuo.audit.services import audit_record
from kongchuo.cases.exports import ledger_xlsx
from kongchuo.cases.models import Case


class Command(BaseCommand):
    help = "Ledger tools. `cases export FILE.xlsx` writes the ledger (ID numbers masked unless --unmasked)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["export"])
        parser.add_argument("file", type=Path)
        parser.add_argument("--county", help="6-digit county code")
        parser.add_argument("--unmasked", action="store_true", help="full ID numbers (logged)")

    def handle(self, *args, action, file, county, unmasked, **options):
        cases = Case.objects.order_by("county__code", "number")
        if county:
            cases = cases.filter(county__code=county)
        content, count = ledger_xlsx(cases, unmasked=unmasked)
        file.write_bytes(content)
        audit_record(
            actor=None,
            action="export",
            chain=county or "-",
            summary=f"命令行导出控辍台账 {count} 条（{'含完整证件号' if unmasked else '证件号已脱敏'}）",
        )
        self.stdout.write(f"已导出台账 {count} 条：{file}")
