"""Background imports: a thin task around the service (STYLE.md §6)."""

from django_tasks import task

from kongchuo.accounts.models import User
from kongchuo.imports.models import ImportBatch
from kongchuo.imports.services import ImportFailed, import_run


@task()
def run_import(batch_id: int, user_id: int | None, dry_run: bool) -> dict:
    batch = ImportBatch.objects.select_related("county").get(pk=batch_id)
    actor = User.objects.filter(pk=user_id).first() if user_id else None
    try:
        return import_run(batch=batch, actor=actor, dry_run=dry_run)
    except ImportFailed as exc:
        return {"error": str(exc)}
