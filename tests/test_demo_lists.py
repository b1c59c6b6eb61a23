"""The whole county flow from the command line, on the demo county's own files: places, then every
list imported as a file, then a match whose findings are checked against the generator's truth."""

import datetime as dt
import json

import pytest
from django.core.management import call_command

from kongchuo.demo.generator import generate
from kongchuo.demo.lists import ORDER, write_lists
from kongchuo.demo.loader import load_places
from kongchuo.matching.models import Finding
from kongchuo.people.models import Child


@pytest.fixture
def county_from_files(db, tmp_path, capsys):
    ds = generate(seed=11, scale=0.03, as_of=dt.date(2026, 11, 23))
    load_places(ds)
    paths = write_lists(ds, tmp_path / "lists")
    results = {}
    for source in ORDER:
        try:
            call_command("import", source, str(paths[source]), "--json")
        except SystemExit as exc:  # a rejected list must say why
            pytest.fail(f"{source}: exit {exc.code}: {capsys.readouterr().out}")
        results[source] = json.loads(capsys.readouterr().out)
    return ds, results


def test_every_list_imports_and_the_match_finds_the_truth(county_from_files, capsys):
    ds, results = county_from_files
    assert results["household"]["created"] > 500 and results["registry"]["rejected"] == 0
    call_command("match", "--as-of", "2026-11-23", "--json")
    summary = json.loads(capsys.readouterr().out)
    assert summary["findings"]
    by_key = {}
    for child in Child.objects.all():
        by_key.setdefault((child.name, child.birth_date), []).append(child.pk)
    for category, keys in ds.anomalies.items():
        if category == "identity_conflict" or not keys:
            continue
        findings = Finding.objects.filter(category=category, status="open").select_related("child", "attendance")
        if category == "unregistered_attendance":  # known from attendance only: no child record to point at
            truth = {ds.child(k).name for k in keys}
            found = {(f.child or f.attendance).name for f in findings}
        else:
            truth = {pk for k in keys for pk in by_key.get((ds.child(k).name, ds.child(k).birth_date), [])}
            found = {f.child_id for f in findings}
        assert len(truth & found) >= 0.9 * len(keys), (category, len(keys), len(truth & found), len(found))
