"""`kongchuo match [--as-of YYYY-MM-DD] [--json]`: run the cross-matching over everything in the database."""

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kongchuo.matching.models import Category
from kongchuo.matching.services import match_run
from kongchuo.places.models import Division


class Command(BaseCommand):
    help = "Run the cross-matching (数据比对) for every county in the database, or one with --county."

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of", type=dt.date.fromisoformat, default=None, help="reference date (default today, in the county's time zone)"
        )
        parser.add_argument("--json", action="store_true", dest="as_json")
        parser.add_argument("--county", help="6-digit county code")

    def handle(self, *args, as_of, as_json, county, **options):
        as_of = as_of or timezone.localdate()
        counties = Division.objects.filter(level=Division.Level.COUNTY)
        if county:
            counties = counties.filter(code=county)
        if not counties.exists():
            raise CommandError("数据库中没有县级区划，请先导入学校名单或载入演示县")
        results = []
        for c in counties.order_by("code"):
            progress = (lambda phase: None) if as_json else (lambda phase, c=c: self.stderr.write(f"{c.name}：{phase}…"))
            run = match_run(actor=None, county=c, as_of=as_of, on_progress=progress)
            results.append(
                {
                    "county": c.code,
                    "run": run.pk,
                    "as_of": as_of.isoformat(),
                    "findings": run.result_counts,
                    "diff": run.diff,
                    "inputs": run.input_counts,
                    "seconds": run.duration_seconds,
                }
            )
        if as_json:
            self.stdout.write(json.dumps(results[0] if len(results) == 1 else results, ensure_ascii=False))
            return
        for r in results:
            self.stdout.write(
                f"比对 #{r['run']}（{r['county']}，基准日 {r['as_of']}，{r['seconds']} 秒）：新增 {r['diff']['new']}，"
                f"持续 {r['diff']['persisting']}，消除 {r['diff']['resolved']}"
            )
            for category in Category:
                if r["findings"].get(category.value):
                    self.stdout.write(f"  {category.label}（{category.value}）：{r['findings'][category.value]}")
