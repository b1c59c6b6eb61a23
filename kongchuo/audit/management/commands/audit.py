import sys

from django.core.management.base import BaseCommand

from kongchuo.audit.services import audit_verify


class Command(BaseCommand):
    help = "Audit log tools. `audit verify` checks the hash chain: exit 0 intact, 1 and the first broken entry."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args, action, **options):
        checked, broken = audit_verify()
        if broken is None:
            self.stdout.write(f"审计日志完整：已校验 {checked} 条记录（audit chain intact, {checked} entries）")
            return
        self.stderr.write(f"审计日志被篡改：第一个断点 {broken}")
        sys.exit(1)
