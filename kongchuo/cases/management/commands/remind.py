"""`kongchuo remind [--dry-run] [--as-of YYYY-MM-DD] [--county CODE]`: send the ledger's due and overdue
reminders (cron: once a day). Idempotent: a reminder already sent is never sent again."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kongchuo.cases.reminders import remind
from kongchuo.places.models import Division


class Command(BaseCommand):
    help = "Send reminders for due and overdue ledger items (in-app, and any notifier in KONGCHUO_NOTIFIERS)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="list what would be sent; send and record nothing")
        parser.add_argument("--as-of", type=dt.date.fromisoformat, help="the day to remind for (default today)")
        parser.add_argument("--county", help="6-digit county code (default: every county)")

    def handle(self, *args, dry_run, as_of, county, **options):
        place = None
        if county:
            place = Division.objects.filter(code=county, level=Division.Level.COUNTY).first()
            if place is None:
                raise CommandError(f"没有区县代码为 {county} 的区县")
        result = remind(today=as_of or timezone.localdate(), dry_run=dry_run, county=place)
        for user, item in result.sent:
            state = "逾期" if item.overdue else "到期"
            self.stdout.write(
                f"{'将提醒' if dry_run else '已提醒'} {user.username}：{item.case.number} {item.what}（{state} {item.due:%Y-%m-%d}）"
            )
        for user, item, error in result.failed:
            self.stderr.write(f"提醒失败 {user.username}：{item.case.number} {item.what}：{error}")
        verb = "将发送" if dry_run else "已发送"
        self.stdout.write(f"{verb}提醒 {len(result.sent)} 条（{len({u.pk for u, _ in result.sent})} 人），此前已发送 {result.already} 条")
        if result.failed:
            raise CommandError(f"{len(result.failed)} 条提醒发送失败，下次运行时重试")
