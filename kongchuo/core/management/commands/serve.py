from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web app (waitress, static files through whitenoise)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args, host, port, threads, **options):
        from waitress import serve

        from kongchuo.wsgi import application

        self.stdout.write(f"控辍保学管理平台：http://{host}:{port}/  （数据目录 {settings.DATA_DIR}，Ctrl+C 停止）")
        serve(application, host=host, port=port, threads=threads, ident="kongchuo")
