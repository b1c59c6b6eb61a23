from django_tasks import task

from kongchuo.accounts.models import User
from kongchuo.matching.models import MatchRun
from kongchuo.matching.services import match_run


@task()
def run_match(run_id: int) -> dict:
    run = MatchRun.objects.select_related("county").get(pk=run_id)
    actor = User.objects.filter(pk=run.started_by_id).first()

    def progress(phase: str) -> None:
        MatchRun.objects.filter(pk=run.pk).update(message=phase)

    done = match_run(actor=actor, county=run.county, as_of=run.as_of, run=run, on_progress=progress)
    return done.result_counts
