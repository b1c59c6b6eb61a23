"""Pages that touch more than one child or free text: each shows only what its user may see."""

import datetime as dt

from django.urls import reverse

from kongchuo.core.masking import mask_id_number
from kongchuo.matching.models import Finding, LinkCandidate, MatchRun
from kongchuo.people.models import Child
from tests.test_child_views import _edit_form


def _run(world):
    return MatchRun.objects.create(county=world.county, as_of=dt.date(2026, 11, 23))


def test_a_pair_finding_hides_the_other_child_outside_scope_and_masks_id_numbers(world, login):
    a, b = world.children["a"], world.children["b"]  # a in 巴山镇 (township A), b in 坪坝镇 (township B)
    run = _run(world)
    finding = Finding.objects.create(
        county=world.county, township=world.township_a, category="identity_conflict", key="pair-a-b", child=a, other_child=b,
        detail=f"两条记录判定为同一人（匹配权重9.0），信息不一致——身份证号：{a.id_number} / {b.id_number}", confidence=0.9,
        first_run=run, last_run=run,
    )
    html = login(world.users["township_a"]).get(reverse("finding_detail", args=[finding.pk])).content.decode()
    assert a.name in html and mask_id_number(a.id_number) in html
    assert b.name not in html and "管辖范围之外" in html
    assert a.id_number not in html and b.id_number not in html
    listing = login(world.users["township_a"]).get(reverse("finding_list")).content.decode()
    assert a.id_number not in listing
    # The county sees both records, still masked in the evidence text.
    html = login(world.users["county_staff"]).get(reverse("finding_detail", args=[finding.pk])).content.decode()
    assert b.name in html and b.id_number not in html


def test_the_edit_page_gives_no_full_id_number_to_a_role_that_may_not_see_it(world, login):
    a = world.children["a"]
    client = login(world.users["teacher_a"])
    html = client.get(reverse("child_edit", args=[a.pk])).content.decode()
    assert a.id_number not in html and 'name="id_number"' not in html
    response = client.post(reverse("child_edit", args=[a.pk]), _edit_form(a, id_number="", household_address="三组"))
    assert response.status_code == 302
    a.refresh_from_db()
    assert (a.household_address, a.id_number_status) == ("三组", Child.IdStatus.VALID)  # the number untouched
    assert a.id_number == world.children["a"].id_number
    # County staff, entitled to the number, edit it there (and the opening is audited).
    html = login(world.users["county_staff"]).get(reverse("child_edit", args=[a.pk])).content.decode()
    assert a.id_number in html


def test_the_review_queue_lists_only_pairs_whose_both_children_are_in_scope(world, login):
    a, b, x = world.children["a"], world.children["b"], world.children["x"]
    run = _run(world)
    LinkCandidate.objects.create(county=world.county, left=a, right=x, weight=5.0, probability=0.8, run=run)
    LinkCandidate.objects.create(county=world.county, left=a, right=b, weight=4.0, probability=0.7, run=run)
    staff = world.users["county_staff"]
    staff.division = world.township_a  # county staff bound to one township (the admin pages allow it)
    staff.save()
    html = login(staff).get(reverse("review_list")).content.decode()
    assert x.name in html and b.name not in html


def test_match_run_totals_are_county_wide_only_for_county_users(world, login):
    """A run's input and result totals count the whole county: a township sees its own findings' numbers."""
    a, b = world.children["a"], world.children["b"]
    run = _run(world)
    run.input_counts, run.result_counts = {"household": 7311}, {"out_of_school": 4099}
    run.diff, run.message = {"new": 4099, "persisting": 0, "resolved": 0}, "全县共4099条"
    run.save()
    for child, township, key in ((a, world.township_a, "a"), (b, world.township_b, "b")):
        Finding.objects.create(county=world.county, township=township, category="out_of_school", key=f"oos-{key}", child=child,
                               detail="未入学", confidence=1.0, first_run=run, last_run=run)
    township = login(world.users["township_a"])
    for page in (reverse("run_detail", args=[run.pk]), reverse("match_home")):
        html = township.get(page).content.decode()
        assert "4099" not in html and "7311" not in html, page
        assert "本辖区" in html, page
    html = township.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "新增 1，消除 0" in html and a.name in html and b.name not in html
    county = login(world.users["county_staff"])
    assert "7311" in county.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "4099" in county.get(reverse("match_home")).content.decode()


def test_the_run_status_poll_is_answered_without_building_the_page(world, login):
    """While a run is going the status line polls every 2 s; the answer carries nothing (no counts, no findings)."""
    run = _run(world)
    run.status = MatchRun.Status.RUNNING
    run.save()
    client = login(world.users["township_a"])
    response = client.get(reverse("match_home"), headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.content == b"" and not response.has_header("HX-Refresh")
    run.status = MatchRun.Status.DONE
    run.save()
    response = client.get(reverse("match_home"), headers={"HX-Request": "true"})
    assert response["HX-Refresh"] == "true" and response.content == b""
