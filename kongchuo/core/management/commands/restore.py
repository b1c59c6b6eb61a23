from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from kongchuo.core.backup import BackupError, restore


class Command(BaseCommand):
    help = "Restore the database and stored files from a backup FILE, then upgrade the schema."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file, **options):
        try:
            manifest = restore(file)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(f"已从 {file} 恢复（备份时间 {manifest['created']}）")
