from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kongchuo.core.backup import BackupError, backup


class Command(BaseCommand):
    help = "Write a consistent snapshot of the database and stored files to FILE (.tar.gz)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file, **options):
        try:
            manifest = backup(file)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"备份完成：{file}（{manifest['engine']}，sha256 {manifest['sha256'][:12]}…）")
