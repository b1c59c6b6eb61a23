import threading

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web app (waitress, static files through whitenoise), with an embedded task worker by default."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--no-worker", action="store_true", help="do not run background tasks here (a separate db_worker does)")

    def handle(self, *args, host, port, threads, no_worker, **options):
        from waitress import serve

        from kongchuo.wsgi import application

        if not no_worker and settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend":
            threading.Thread(target=_embedded_worker, name="kongchuo-worker", daemon=True).start()
        self.stdout.write(f"控辍保学管理平台：http://{host}:{port}/  （数据目录 {settings.DATA_DIR}，Ctrl+C 停止）")
        serve(application, host=host, port=port, threads=threads, ident="kongchuo")


def _embedded_worker() -> None:
    """The one-machine set-up needs no second service: imports and other tasks run in this thread."""
    from django_tasks_db.management.commands.db_worker import Worker

    Worker(queue_names=["default"], interval=1, batch=False, backend_name="default", startup_delay=False, max_tasks=None,
           worker_id="serve-embedded", excluded_queue_names=[]).run()
